"""Who the face generator draws: the share of men, women and the elderly among generated faces, next to the
share among the training photos, both judged by the same classifiers (our photo gender and elderly classifiers,
shipped in src/toonbridge/weights/classifiers/).

    python scripts/generator_diversity.py runs/stylegan-64 [--count 1000] [--truncation 1.0] [--reference 1000]

Generated faces are seeds 0 … count−1, resized to the classifiers' 128 px; the reference is a fixed random pick of
the run's training photos. Children are not counted yet: no child classifier is shipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toonbridge.api import generate
from toonbridge.eval.attributes import classify
from toonbridge.imageio import load_image, resize_image
from toonbridge.models import load_network
from toonbridge.train import config_from_dict
from toonbridge.train.checkpoint import checkpoint_or_latest
from toonbridge.train.config import section
from toonbridge.train.stylegan import FaceImagesData

CLASSIFIERS = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "weights" / "classifiers"


def shares(images: list[np.ndarray]) -> dict[str, float]:
    genders = classify(load_network(CLASSIFIERS / "gender_photo.safetensors"), images)
    ages = classify(load_network(CLASSIFIERS / "elderly_photo.safetensors"), images)
    return {"men": float(np.mean([g == "male" for g in genders])), "women": float(np.mean([g == "female" for g in genders])),
            "elderly": float(np.mean([a == "elderly" for a in ages]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a stylegan2 run or checkpoint folder")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=1000)
    parser.add_argument("--truncation", type=float, default=1.0)
    args = parser.parse_args()
    checkpoint = checkpoint_or_latest(args.run)
    if checkpoint is None:
        parser.error(f"{args.run} has no checkpoint")
    training = section(FaceImagesData, config_from_dict(checkpoint.state["config"]).data, "data").load("train")
    picked = np.random.default_rng(0).choice(len(training), min(args.reference, len(training)), replace=False)
    photos = [resize_image(load_image(training[i].path), 128) for i in sorted(picked)]
    faces = [resize_image(face, 128) for face in generate(args.count, seed=0, truncation=args.truncation, weights=checkpoint.path)]
    print(json.dumps({"step": checkpoint.step, "truncation": args.truncation, "generated": shares(faces), "training": shares(photos),
                      "counts": {"generated": len(faces), "training": len(photos)}}))


if __name__ == "__main__":
    main()
