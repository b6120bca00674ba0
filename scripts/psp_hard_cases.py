"""pSp's known hard cases ([psp]): hats, glasses and non-human skin, on DiceBear avatars whose choices are labelled.

    python scripts/psp_hard_cases.py [-o docs/psp_hard_cases.png] [--per-case 6]

Validation avatars of ``dicebear/avataaars`` (rendered offline, reframed to the photo template) with a hat
(winterHat*, hat, turban), with glasses (round, prescription*, kurt, wayfarers, sunglasses), and with the style's
non-human skins (yellow #f8d25c, orange #fd9841), realized as aligned crops by ``--style psp``. Rows: avatars over
their realistic faces, one pair of rows per case. For skin it also prints the mean colour of the central face
region in and out (what the eye sees in the grid, as numbers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toonbridge.api import load
from toonbridge.data import load_split
from toonbridge.data.aligned import aligned_domain
from toonbridge.imageio import load_image, save_image

CASES = {
    "hats": lambda labels: labels.get("topVariant", "").startswith(("winterHat", "hat", "turban")),
    "glasses": lambda labels: labels.get("accessoriesVariant", "") in ("round", "prescription01", "prescription02", "kurt", "wayfarers", "sunglasses"),
    "non-human skin": lambda labels: labels.get("skinColor") in ("#f8d25c", "#fd9841"),
}
CENTRE = (slice(70, 90), slice(50, 78))  # cheeks and nose on the bitmoji template at 128 px


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/psp_hard_cases.png"))
    parser.add_argument("--per-case", type=int, default=6)
    args = parser.parse_args()
    style = load("psp", backend="torch")
    avatars = aligned_domain(load_split("dicebear/avataaars", "val"), "bitmoji").samples
    rows = []
    for case, wanted in CASES.items():
        chosen = [load_image(s.path) for s in avatars if wanted(s.labels)][:args.per_case]
        real = style.translate_aligned(chosen, "realize")
        rows += [np.concatenate(chosen, axis=1), np.concatenate(real, axis=1)]
        if case == "non-human skin":
            for avatar, face in zip(chosen, real):
                print(case, "in", avatar[CENTRE].reshape(-1, 3).mean(0).round(), "out", face[CENTRE].reshape(-1, 3).mean(0).round())
    save_image(np.concatenate(rows, axis=0), args.output)
    print(args.output)


if __name__ == "__main__":
    main()
