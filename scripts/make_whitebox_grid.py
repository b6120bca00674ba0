"""Draw the whitebox styles side by side on validation faces: photo | each style | the published White-box model.

    python scripts/make_whitebox_grid.py -o docs/whitebox_grid.png [--styles whitebox-bitmoji ...] [--rows 8]
        [--photo PHOTO -o2 docs/whitebox_whole.png]

Rows: CelebA validation photos and UTKFace men, children and elderly people (aligned crops, as in training). The last
column is the published generator (../shared/peers, comparison only; run at its fixed 512 px and shrunk). With
``--photo``, also one whole picture in every style (``--whole-photo``), written to ``--whole``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import toonbridge
from toonbridge.data import load_split
from toonbridge.data.aligned import aligned_domain
from toonbridge.imageio import load_image, resize_image, save_image

from evaluate_whitebox import PEER, Peer

STYLES = ["whitebox-bitmoji", "whitebox-avataaars"]


def faces(rows: int) -> list[np.ndarray]:
    photos = load_split("celeba2bitmoji/photo", "val").samples
    picked = [photos[i * len(photos) // (rows // 2)] for i in range(rows // 2)]
    for group in ("young", "kid", "elderly", "middle")[:rows - len(picked)]:
        domain = aligned_domain(load_split("utkface/faces", "val", [f"group={group}", "gender=male" if group != "kid" else "gender=female"]), "bitmoji")
        picked.append(domain.samples[len(domain) // 2])
    return [load_image(sample.path) for sample in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--styles", nargs="+", default=STYLES)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--photo", type=Path, help="a whole picture to draw in every style as well")
    parser.add_argument("--whole", type=Path, default=Path("docs/whitebox_whole.jpg"))
    args = parser.parse_args()
    photos = faces(args.rows)
    styles = [toonbridge.load(name, backend="torch") for name in args.styles]
    columns = [photos] + [style.translate_aligned(photos, "cartoonize") for style in styles]
    peer = Peer(PEER) if PEER.is_file() else None
    if peer:
        columns.append(peer.faces(photos))
    save_image(np.concatenate([np.concatenate(column, axis=0) for column in columns], axis=1), args.output)
    print(args.output)
    if args.photo:
        picture = resize_image(load_image(args.photo), (384, 384 * load_image(args.photo).shape[0] // load_image(args.photo).shape[1]))
        wholes = [picture] + [style.cartoonize_whole(picture) for style in styles]
        save_image(np.concatenate(wholes, axis=1), args.whole, quality=90)
        print(args.whole)


if __name__ == "__main__":
    main()
