"""[in-the-wild] Cartoons of faces behind dark sunglasses next to the same photos as taken, through the whole pipeline.

    python scripts/sunglasses_table.py [--style bitmoji] [--limit 120] [--modes "as taken" keep hide draw] [--json out.json]

The photo sets have almost no sunglasses, so dark ones are drawn onto each validation photo at its eyes
(``eval.photo_sets.with_sunglasses``: round, wayfarer and aviator lenses in turn, black, brown or green-grey), on
CelebA (the training framing) and UTKFace 18-35 chips (faces that fill the frame). Each is cartoonized with the
style's sunglasses handling (``Style.sunglasses``): "keep" (the generator sees the lenses, as before), "hide" (it
sees the average portrait's eyes there) and "draw" (hidden, then drawn on the cartoon). The aligned cartoon of the
largest face is measured: KID×100 against the validation Bitmoji at 128 px and gender kept by our Bitmoji gender
classifier; "lenses found" is the share of faces whose lenses the style finds (faces.sunglasses.lens_mask) on the
largest face detected.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toonbridge.api import load
from toonbridge.data import load_split
from toonbridge.eval.photo_sets import cartoon_figures, largest_face_cartoons, with_sunglasses
from toonbridge.faces import detect
from toonbridge.imageio import load_image, write_atomic


MODES = ("as taken", "keep", "hide", "draw")


def eye_points(sample) -> np.ndarray | None:
    """The photo's 5 points: its label where it has one (CelebA), else the largest detected face's."""
    if sample.landmarks5 is not None:
        return np.asarray(sample.landmarks5, np.float64)
    found = detect(load_image(sample.path))
    return max(found, key=lambda face: face.width).landmarks5 if found else None


def lenses_found(style, photo: np.ndarray) -> bool:
    """Whether the style finds dark lenses on the photo's largest face, detected as cartoonize detects it."""
    faces = detect(photo)
    return bool(faces) and style.align_faces(photo, [max(faces, key=lambda face: face.width)])[0].lenses is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="bitmoji")
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="the rows to measure (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    style = load(args.style, backend="torch")
    if not style.info.sunglasses:
        raise SystemExit(f"style {args.style!r} does not handle sunglasses (\"sunglasses\" in its style.json)")
    sets = {"CelebA": load_split("celeba2bitmoji/photo", "val").samples[:args.limit],
            "UTKFace 18-35": load_split("utkface/faces", "val").where("group=young").samples[:args.limit]}
    table = {}
    for set_name, samples in sets.items():
        points = [eye_points(sample) for sample in samples]
        samples = [sample for sample, found in zip(samples, points) if found is not None]
        points = [found for found in points if found is not None]

        def change(photo: np.ndarray, index: int) -> np.ndarray:
            return with_sunglasses(photo, points[index], index)

        style.sunglasses = "draw"
        found = np.mean([lenses_found(style, change(load_image(sample.path), index)) for index, sample in enumerate(samples)])
        for mode in args.modes:
            style.sunglasses = "keep" if mode == "as taken" else mode
            outputs, genders, _, missed = largest_face_cartoons(style, samples, change=None if mode == "as taken" else change)
            row = cartoon_figures(outputs, genders, len(samples), missed)
            if mode != "as taken":
                row["lenses found"] = round(float(found), 3)
            name = f"{set_name}, {mode if mode == 'as taken' else 'sunglasses, ' + mode}"
            table[name] = row
            print(name, json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        result = {"style": args.style, "table": table}
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1, ensure_ascii=False).encode()))


if __name__ == "__main__":
    main()
