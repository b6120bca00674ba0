"""Draw the grid of 64 generated faces (seeds 0–63, 8 × 8) for docs/models.md.

    python scripts/make_face_grid.py runs/stylegan-64 -o docs/stylegan_grid.png [--truncation 0.7] [--size 96]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toonbridge.api import generate
from toonbridge.imageio import resize_image, save_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", type=Path, help="a run or checkpoint folder, or an exported generator")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--truncation", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=96, help="each face's side in the grid")
    args = parser.parse_args()
    faces = [resize_image(face, args.size) for face in generate(64, seed=0, truncation=args.truncation, weights=args.generator)]
    rows = [np.concatenate(faces[row * 8:(row + 1) * 8], axis=1) for row in range(8)]
    print(save_image(np.concatenate(rows, axis=0), args.output))


if __name__ == "__main__":
    main()
