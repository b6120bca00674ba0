"""Draw a grid of validation results for a style: photo | cartoon | back, and cartoon | photo | back.

    python scripts/make_style_grid.py --style bitmoji -o docs/bitmoji_grid.png [--rows 8]

Inputs are spread evenly over the validation splits of the style's dataset (sorted by file name), aligned crops
as in training, so the grid shows the model and not the face detector.
"""

from __future__ import annotations

import argparse

import numpy as np

import toonbridge
from toonbridge.data import load_split
from toonbridge.imageio import load_image, save_image

DATASETS = {"bitmoji": ("celeba2bitmoji/photo", "celeba2bitmoji/cartoon"),
            "anime": ("selfie2anime/selfie", "selfie2anime/anime")}


def spread(domain, count: int) -> list:
    step = max(len(domain) // count, 1)
    return [domain[i * step] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--style", default="bitmoji")
    parser.add_argument("--dataset", default="bitmoji", choices=sorted(DATASETS),
                        help="which dataset's validation crops to draw from")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    style = toonbridge.load(args.style)
    photos, cartoons = (load_split(name, "val") for name in DATASETS[args.dataset])
    rows = []
    for photo, cartoon in zip(spread(photos, args.rows), spread(cartoons, args.rows)):
        photo_image, cartoon_image = load_image(photo.path), load_image(cartoon.path)
        # Crops come back at their own size (the style resizes to its model and back), so the gap follows them.
        gap = np.full((photo_image.shape[0], 8, 3), 255, np.uint8)
        toon = style.cartoonize(photo_image, aligned=True)
        real = style.realize(cartoon_image, aligned=True)
        rows.append(np.concatenate([photo_image, toon, style.realize(toon, aligned=True), gap,
                                    cartoon_image, real, style.cartoonize(real, aligned=True)], axis=1))
    save_image(np.concatenate(rows, axis=0), args.output)
    print(args.output)


if __name__ == "__main__":
    main()
