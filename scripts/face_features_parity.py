"""Measure our face network against dlib's own descriptor on HELEN (test) and CelebA faces.

    python scripts/face_features_parity.py [--helen 100] [--celeba 150]

Prints the number of faces, the cosine between our descriptor and dlib's (min, mean), the largest absolute
difference, and how often the same-person decision (distance < 0.6) agrees over all pairs of faces.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from toonbridge.data import default_data_root
from toonbridge.faces import detect
from toonbridge.faces._dlib_models import face_encoder
from toonbridge.faces.features import _dlib_shape, face_descriptor
from toonbridge.imageio import load_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helen", type=int, default=100, help="photos of helen_test/images (several faces each)")
    parser.add_argument("--celeba", type=int, default=150, help="photos of celeba2bitmoji/photo")
    args = parser.parse_args()
    root = default_data_root()
    photos = sorted((root / "helen_test" / "images").iterdir())[:args.helen] + sorted((root / "celeba2bitmoji" / "photo").iterdir())[:args.celeba]
    ours, theirs, seconds_ours, seconds_dlib = [], [], 0.0, 0.0
    for path in photos:
        photo = load_image(path)
        for face in detect(photo):
            start = time.perf_counter()
            ours.append(face_descriptor(photo, face))
            seconds_ours += time.perf_counter() - start
            start = time.perf_counter()
            theirs.append(np.asarray(face_encoder().compute_face_descriptor(photo, _dlib_shape(face)), dtype=np.float32))
            seconds_dlib += time.perf_counter() - start
    ours, theirs = np.stack(ours), np.stack(theirs)
    cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    pairs = list(itertools.combinations(range(len(ours)), 2))
    first, second = np.array([i for i, _ in pairs]), np.array([j for _, j in pairs])
    same_ours = np.linalg.norm(ours[first] - ours[second], axis=1) < 0.6
    same_dlib = np.linalg.norm(theirs[first] - theirs[second], axis=1) < 0.6
    print(json.dumps({"faces": len(ours), "photos": len(photos), "cosine_min": float(cosines.min()), "cosine_mean": float(cosines.mean()),
                      "max_abs_difference": float(np.abs(ours - theirs).max()), "pairs": len(pairs),
                      "same_person_agreement": float((same_ours == same_dlib).mean()), "same_person_pairs_dlib": int(same_dlib.sum()),
                      "ms_per_face_ours": 1000 * seconds_ours / len(ours), "ms_per_face_dlib": 1000 * seconds_dlib / len(ours)}, indent=1))


if __name__ == "__main__":
    main()
