"""[in-the-wild] Cartoons of dim photos next to the same photos in normal light, through the whole pipeline.

    python scripts/low_light_table.py [--style bitmoji] [--limit 120] [--keep-light] [--json out.json]

Each validation photo (CelebA, the training framing; UTKFace 18-35 chips) is cartoonized as it is, and darkened the
way a dim room darkens it: ×0.35 with sensor noise (σ 4 grey levels after the darkening), and ×0.35 alone. The
aligned cartoon of the largest face is measured: KID×100 against the validation Bitmoji at 128 px and gender kept
by our Bitmoji gender classifier. ``--keep-light`` measures the pipeline without its low-light correction
(``Style.brighten_dim_photos = False``; ops/exposure.py), the "before" column.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toonbridge.api import load
from toonbridge.data import load_split
from toonbridge.errors import ToonbridgeError
from toonbridge.eval.attributes import classify
from toonbridge.eval.distribution import kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import load_image, resize_image, write_atomic
from toonbridge.models import load_network
from toonbridge.style_files import find_style

SIZE = 128
DIM = 0.35
NOISE = 4.0


def dimmed(image: np.ndarray, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image.astype(np.float32) * DIM + rng.normal(0, noise, image.shape), 0, 255).round().astype(np.uint8)


LIGHTS = {"normal light": None, f"dim (×{DIM}, noise σ {NOISE:g})": NOISE, f"dim (×{DIM}, no noise)": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="bitmoji")
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--keep-light", action="store_true", help="without the low-light correction")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    style = load(args.style, backend="torch")
    style.brighten_dim_photos = not args.keep_light
    classifier = load_network(find_style("bitmoji").folder.parent / "classifiers" / "gender_cartoon.safetensors")
    references = cached_path_features([s.path for s in load_split("celeba2bitmoji/cartoon", "val").samples], resize_to=SIZE)
    sets = {"CelebA": load_split("celeba2bitmoji/photo", "val").samples[:args.limit],
            "UTKFace 18-35": load_split("utkface/faces", "val").where("group=young").samples[:args.limit]}
    table = {}
    for set_name, samples in sets.items():
        for light, noise in LIGHTS.items():
            outputs, labels, missed = [], [], 0
            for index, sample in enumerate(samples):
                photo = load_image(sample.path)
                try:
                    result = style.translate(photo if noise is None else dimmed(photo, index, noise), "cartoonize", largest_face=True)
                except ToonbridgeError:
                    missed += 1
                    continue
                outputs.append(resize_image(result.faces[0].output, SIZE))
                labels.append(sample.labels.get("gender"))
            kept = [answer == label for answer, label in zip(classify(classifier, outputs), labels) if label]
            row = {"photos": len(samples), "no face found": missed, "KID×100 vs val Bitmoji": round(kid(features(outputs), references).mean, 2),
                   "gender kept": round(float(np.mean(kept)), 3)}
            table[f"{set_name}, {light}"] = row
            print(f"{set_name}, {light}", json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        result = {"style": args.style, "brighten_dim_photos": style.brighten_dim_photos, "table": table}
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1, ensure_ascii=False).encode()))


if __name__ == "__main__":
    main()
