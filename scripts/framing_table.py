"""[in-the-wild] Cartoons of faces that fill the frame, next to normally framed ones, through the whole pipeline.

    python scripts/framing_table.py [--style bitmoji-groups] [--run runs/bitmoji-wild] [--padding white] [--limit 200]
                                    [--json runs/reports/framing.json] [--grid runs/reports/framing.png]

Inputs are *unaligned* photos, as users send them: the UTKFace validation chips (200 px, the face filling the
frame) per group (kid, teen, young, middle, elderly), HELEN test photos (casual photos: whole scenes, any light),
and CelebA validation photos (the training framing) as the reference. Each goes through ``translate`` (detect, align with the usual padding, translate; ``--group auto``
for group styles), and the aligned cartoon is measured: KID×100 against the validation Bitmoji (resized to 128 px)
and gender kept (the photo's label against our Bitmoji gender classifier). The goal line of the issue: UTKFace men
(young and middle-aged) kept male ≥ 90 %, and KID of each UTKFace group within 20 % of CelebA's.

``--run`` measures a training run's last checkpoint (exported to a scratch style with the given style's settings)
instead of the shipped weights; ``--padding`` overrides how the style pads a photo past its edge (style.json's
``padding``: ``blur``, ``white`` or ``portrait``), ``--backdrop`` whether the photo's background is keyed to white
(``photo`` or ``white``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from toonbridge.data import load_split
from toonbridge.eval.photo_sets import SIZE, bitmoji_figures, largest_face_cartoons, style_to_measure
from toonbridge.imageio import load_image, resize_image, save_image, write_atomic
UTK_GROUPS = ("kid", "teen", "young", "middle", "elderly")


def photo_sets(limit: int) -> dict[str, list]:
    sets = {"CelebA (training framing)": load_split("celeba2bitmoji/photo", "val").samples[:limit]}
    utkface = load_split("utkface/faces", "val")
    for group in UTK_GROUPS:
        sets[f"UTKFace {group}"] = utkface.where(f"group={group}").samples[:limit]
    sets["UTKFace men, young and middle"] = [s for s in utkface.samples if s.labels["gender"] == "male"
                                            and s.labels["group"] in ("young", "middle")][:limit]
    # Casual photos: HELEN test (whole photos, any framing and light, the largest face; no gender labels).
    sets["HELEN test (casual photos)"] = load_split("helen_test/images", "train", val_fraction=0.0).samples[:limit]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="bitmoji-groups")
    parser.add_argument("--run", type=Path, help="measure this run's last checkpoint instead of the shipped weights")
    parser.add_argument("--padding", choices=["blur", "white", "portrait"], help="pad past the photo's edge this way, not as the style says")
    parser.add_argument("--backdrop", choices=["photo", "white"], help="key the photo's background this way, not as the style says")
    parser.add_argument("--group", default="auto")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--sets", nargs="+", metavar="WORD", help="only the photo sets whose name holds one of these words (e.g. men CelebA)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--grid", type=Path, help="a PNG: photo | cartoon, 4 faces per set")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        style = style_to_measure(args.style, args.run, scratch)
        if args.padding:
            style.info = dataclasses.replace(style.info, padding=args.padding)
        if args.backdrop:
            style.info = dataclasses.replace(style.info, backdrop=args.backdrop)
        group = args.group if style.groups else None
        table, grid_rows = {}, []
        for name, samples in photo_sets(args.limit).items():
            if args.sets and not any(word.lower() in name.lower() for word in args.sets):
                continue
            outputs, genders, routed, missed = largest_face_cartoons(style, samples, group)
            row = bitmoji_figures(outputs, genders, len(samples), missed)
            if group:
                row["routed"] = {branch: routed.count(branch) for branch in sorted(set(routed))}
            table[name] = row
            print(name, json.dumps(row), flush=True)
            grid_rows.append(np.concatenate([np.concatenate([resize_image(load_image(s.path), SIZE), o], axis=1)
                                             for s, o in zip(samples[:4], outputs[:4])], axis=1))
    result = {"style": args.style, "run": str(args.run) if args.run else None, "padding": style.info.padding, "backdrop": style.info.backdrop, "group": group, "table": table}
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1).encode()))
    if args.grid:
        save_image(np.concatenate(grid_rows, axis=0), args.grid)


if __name__ == "__main__":
    main()
