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
``padding``: ``blur``, ``white`` or ``portrait``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from toonbridge.api import Style, load
from toonbridge.data import load_split
from toonbridge.errors import ToonbridgeError
from toonbridge.eval.attributes import classify
from toonbridge.eval.distribution import kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import load_image, resize_image, save_image, write_atomic
from toonbridge.models import load_network
from toonbridge.style_files import find_style, read_style
from toonbridge.train.export import style_from_run

SIZE = 128
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


def cartoons(style: Style, samples: list, group: str) -> tuple[list[np.ndarray], list[str | None], list[str], int]:
    """Aligned cartoons of the largest face of each photo; photos where no face is found are counted."""
    outputs, genders, routed, missed = [], [], [], 0
    for sample in samples:
        try:
            result = style.translate(load_image(sample.path), "cartoonize", group=group, largest_face=True)
        except ToonbridgeError:
            missed += 1
            continue
        outputs.append(resize_image(result.faces[0].output, SIZE))
        genders.append(sample.labels.get("gender"))
        routed.append(result.faces[0].group or "")
    return outputs, genders, routed, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="bitmoji-groups")
    parser.add_argument("--run", type=Path, help="measure this run's last checkpoint instead of the shipped weights")
    parser.add_argument("--padding", choices=["blur", "white", "portrait"], help="pad past the photo's edge this way, not as the style says")
    parser.add_argument("--group", default="auto")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--sets", nargs="+", metavar="WORD", help="only the photo sets whose name holds one of these words (e.g. men CelebA)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--grid", type=Path, help="a PNG: photo | cartoon, 4 faces per set")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        if args.run:
            style = Style(read_style(style_from_run(args.run, args.style, Path(scratch) / "style")), backend="torch")
        else:
            style = load(args.style, backend="torch")
        if args.padding:
            style.info = dataclasses.replace(style.info, padding=args.padding)
        group = args.group if style.groups else None
        classifier = load_network(find_style("bitmoji").folder.parent / "classifiers" / "gender_cartoon.safetensors")
        references = cached_path_features([s.path for s in load_split("celeba2bitmoji/cartoon", "val").samples], resize_to=SIZE)
        table, grid_rows = {}, []
        for name, samples in photo_sets(args.limit).items():
            if args.sets and not any(word.lower() in name.lower() for word in args.sets):
                continue
            outputs, genders, routed, missed = cartoons(style, samples, group)
            answers = classify(classifier, outputs)
            known = [(label, answer) for label, answer in zip(genders, answers) if label]
            row = {"photos": len(samples), "no face found": missed, "KID×100 vs val Bitmoji": round(kid(features(outputs), references).mean, 2),
                   "gender kept": round(float(np.mean([a == b for a, b in known])), 3) if known else None}
            if group:
                row["routed"] = {branch: routed.count(branch) for branch in sorted(set(routed))}
            table[name] = row
            print(name, json.dumps(row), flush=True)
            grid_rows.append(np.concatenate([np.concatenate([resize_image(load_image(s.path), SIZE), o], axis=1)
                                             for s, o in zip(samples[:4], outputs[:4])], axis=1))
    result = {"style": args.style, "run": str(args.run) if args.run else None, "padding": style.info.padding, "group": group, "table": table}
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1).encode()))
    if args.grid:
        save_image(np.concatenate(grid_rows, axis=0), args.grid)


if __name__ == "__main__":
    main()
