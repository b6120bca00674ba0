"""KID×100 and FID of a face generator's faces against the held-out photos of its training data (one point of the
curve of KID against CPU hours and kimg).

    python scripts/evaluate_generator.py runs/stylegan-64 [--count 1000] [--size 128] [--truncation 1.0] [--curve FILE]

The generator is a run folder (its latest checkpoint), a checkpoint folder, or an exported ``.safetensors`` (then
``--config`` names the training config whose ``val`` split is the reference). Faces are drawn with seeds
0 … count−1 and resized, like the reference photos, to ``--size`` px (128: the issue's resolution; a 64-px generator
is upsampled, and pays for its blur). ``--curve`` appends the JSON line to a file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toonbridge.api import generate
from toonbridge.eval.distribution import fid, kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import resize_image
from toonbridge.train import config_from_dict, load_config
from toonbridge.train.checkpoint import checkpoint_or_latest
from toonbridge.train.config import section
from toonbridge.train.stylegan import FaceImagesData


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", type=Path)
    parser.add_argument("--config", type=Path, help="training config (for an exported generator)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=1000, help="held-out photos (the first of the val split)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--truncation", type=float, default=1.0)
    parser.add_argument("--curve", type=Path, help="append the result to this JSON-lines file")
    args = parser.parse_args()

    checkpoint = None if args.generator.is_file() else checkpoint_or_latest(args.generator)
    if checkpoint is not None:
        config = config_from_dict(checkpoint.state["config"])
    elif args.config is not None:
        config = load_config(args.config)
    else:
        parser.error("an exported generator needs --config (the config it was trained with)")
    # Faces first: a running training prunes old checkpoints while the reference features are computed.
    faces = generate(args.count, seed=0, truncation=args.truncation, weights=checkpoint.path if checkpoint else args.generator)
    held_out = section(FaceImagesData, config.data, "data").load("val")
    rng = np.random.default_rng(0)  # a fixed mix of every source, not the first source only
    chosen = sorted(rng.choice(len(held_out), min(args.reference, len(held_out)), replace=False))
    reference = cached_path_features([held_out[i].path for i in chosen], resize_to=args.size)
    generated = features(resize_image(face, args.size) for face in faces)
    score = kid(generated, reference)
    result = {"generator": str(args.generator), "step": checkpoint.step if checkpoint else None,
              "kimg": round(checkpoint.step * config.batch_size / 1000, 1) if checkpoint else None,
              "cpu_hours": round(checkpoint.state.get("wall_seconds", 0) * (config.threads or 1) / 3600, 2) if checkpoint else None,
              "threads": config.threads, "size": args.size, "truncation": args.truncation, "generated": len(faces),
              "reference": len(reference), "kid": round(score.mean, 2), "kid_std": round(score.std, 2),
              "fid": round(fid(generated, reference), 1)}
    print(json.dumps(result))
    if args.curve:
        args.curve.parent.mkdir(parents=True, exist_ok=True)
        with args.curve.open("a") as handle:
            handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
