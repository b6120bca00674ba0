"""Build ``weights/padding/portraits.safetensors`` (:mod:`toonbridge.faces.portraits`): per gender, the mean of
the first ``--count`` aligned CelebA training portraits (celeba2bitmoji/photo, on the bitmoji template).

    python scripts/make_mean_portraits.py [--count 1000] [--size 128]
"""

from __future__ import annotations

import argparse

import numpy as np
from safetensors.numpy import save_file

from toonbridge.data import load_split
from toonbridge.faces.portraits import PORTRAITS
from toonbridge.imageio import load_image, resize_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    photos = load_split("celeba2bitmoji/photo", "train")
    means = {}
    for gender in ("female", "male"):
        samples = [s for s in photos.samples if s.labels.get("gender") == gender][:args.count]
        total = sum(resize_image(load_image(s.path), args.size).astype(np.float64) for s in samples)
        means[gender] = np.round(total / len(samples)).astype(np.uint8)
        print(f"{gender}: mean of {len(samples)} portraits")
    PORTRAITS.parent.mkdir(parents=True, exist_ok=True)
    save_file(means, str(PORTRAITS), metadata={"template": photos.template, "source": f"celeba2bitmoji/photo train, {args.count} per gender"})
    print(f"wrote {PORTRAITS}")


if __name__ == "__main__":
    main()
