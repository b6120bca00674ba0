"""[in-the-wild] Cartoons of dim photos next to the same photos in normal light, through the whole pipeline.

    python scripts/low_light_table.py [--style bitmoji] [--run runs/bitmoji-casual] [--limit 120] [--keep-light] [--json out.json]

Each validation photo (CelebA, the training framing; UTKFace 18-35 chips) is cartoonized as it is, and darkened the
way a dim room darkens it: ×0.35 with sensor noise (σ 4 grey levels after the darkening), and ×0.35 alone. The
aligned cartoon of the largest face is measured: KID×100 against the validation Bitmoji at 128 px and gender kept
by our Bitmoji gender classifier. ``--keep-light`` measures the pipeline without its low-light correction
(``Style.brighten_dim_photos = False``; ops/exposure.py), the "before" column; ``--run`` a training run's last
checkpoint (exported with the style's settings) instead of the shipped weights.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from toonbridge.data import load_split
from toonbridge.eval.photo_sets import cartoon_figures, largest_face_cartoons, style_to_measure
from toonbridge.imageio import write_atomic

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
    parser.add_argument("--run", type=Path, help="measure this run's last checkpoint instead of the shipped weights")
    parser.add_argument("--keep-light", action="store_true", help="without the low-light correction")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sets = {"CelebA": load_split("celeba2bitmoji/photo", "val").samples[:args.limit],
            "UTKFace 18-35": load_split("utkface/faces", "val").where("group=young").samples[:args.limit]}
    table = {}
    with tempfile.TemporaryDirectory() as scratch:
        style = style_to_measure(args.style, args.run, scratch)
        style.brighten_dim_photos = not args.keep_light
        for set_name, samples in sets.items():
            for light, noise in LIGHTS.items():
                change = None if noise is None else (lambda photo, index, noise=noise: dimmed(photo, index, noise))
                outputs, genders, _, missed = largest_face_cartoons(style, samples, change=change)
                table[f"{set_name}, {light}"] = row = cartoon_figures(outputs, genders, len(samples), missed)
                print(f"{set_name}, {light}", json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        result = {"style": args.style, "run": str(args.run) if args.run else None, "brighten_dim_photos": style.brighten_dim_photos, "table": table}
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1, ensure_ascii=False).encode()))


if __name__ == "__main__":
    main()
