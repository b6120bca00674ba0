"""Build ``weights/padding/portraits.safetensors`` (:mod:`toonbridge.faces.portraits`): per gender, the per-pixel
mean (or, for the genders named by ``--median``, the median) of the first ``--count`` aligned CelebA training
portraits (celeba2bitmoji/photo, on the bitmoji template).

    python scripts/make_mean_portraits.py [--count 1000] [--size 128] [--median male]

The median keeps the short, crisp hairline most men share, where the mean smears the few long-haired men into a
brown halo down to the jaw that the generators drew as long hair (docs/models.md measures both).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from safetensors.numpy import save_file

from toonbridge.data import load_split
from toonbridge.faces.portraits import PORTRAITS
from toonbridge.imageio import load_image, resize_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--median", nargs="*", default=["male"], choices=["female", "male"], help="these genders get the median")
    args = parser.parse_args()
    photos = load_split("celeba2bitmoji/photo", "train")
    portraits, statistics = {}, {}
    for gender in ("female", "male"):
        samples = [s for s in photos.samples if s.labels.get("gender") == gender][:args.count]
        stack = np.stack([resize_image(load_image(s.path), args.size) for s in samples]).astype(np.float64)
        statistics[gender] = "median" if gender in args.median else "mean"
        average = np.median(stack, axis=0) if gender in args.median else stack.mean(axis=0)
        portraits[gender] = np.round(average).astype(np.uint8)
        print(f"{gender}: {statistics[gender]} of {len(samples)} portraits")
    PORTRAITS.parent.mkdir(parents=True, exist_ok=True)
    save_file(portraits, str(PORTRAITS), metadata={"template": photos.template, "source": f"celeba2bitmoji/photo train, {args.count} per gender",
                                                           "statistic": json.dumps(statistics)})
    print(f"wrote {PORTRAITS}")


if __name__ == "__main__":
    main()
