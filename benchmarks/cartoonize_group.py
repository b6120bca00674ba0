"""End to end on a group photo: cartoonize a 640×480 photo with 5 faces, per stage and per face.

    python benchmarks/cartoonize_group.py [--styles bitmoji anime bitmoji-groups] [--repeats 10] [--no-write]

The photo is built from the bundled sample (no ../shared/data needed): her head five times, 60 to
120 px wide, on a noisy grey backdrop. Stages: detect (default detector, with 68 landmarks), align every face (as
the style frames it: its padding past the photo's edge and, for the Bitmoji styles, the backdrop keyed white),
translate every face (batch), paste every face back; ``translate`` is the API call that does all four.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.api import load
from toonbridge.faces import detect, paste_back
from toonbridge.imageio import load_image

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "assets" / "astronaut.jpg"
PLACES = [(70, 90, 60), (190, 330, 80), (330, 110, 100), (470, 340, 120), (560, 110, 110)]  # x, y, face width


def group_photo() -> np.ndarray:
    sample = load_image(SAMPLE)
    (face,) = detect(sample)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    half = 0.8 * face.width  # her head and a little around it, so the copies do not cover each other
    left, top = int(cx - half), int(cy - half)
    head = np.ascontiguousarray(sample[top:int(cy + half), left:int(cx + half)])
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(120, 25, (480, 640, 3)), 0, 255).astype(np.uint8)
    for x, y, width in PLACES:
        scale = width / face.width
        matrix = np.array([[scale, 0, x - (cx - left) * scale], [0, scale, y - (cy - top) * scale]])
        photo = cv2.warpAffine(head, matrix, (640, 480), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT, dst=photo)
    return photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--styles", nargs="+", default=["bitmoji", "anime", "bitmoji-groups"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    photo = group_photo()
    faces = detect(photo)
    if len(faces) != len(PLACES):
        raise SystemExit(f"the group photo should show {len(PLACES)} faces; the detector found {len(faces)}")
    rows = []
    for name in args.styles:
        style = load(name)
        aligned = style.align_faces(photo, faces)
        outputs = style.translate_aligned([a.image for a in aligned], "cartoonize", group="auto" if style.groups else None)
        stages = {
            "detect": lambda: detect(photo),
            "align": lambda: style.align_faces(photo, faces),
            "translate": lambda: style.translate_aligned([a.image for a in aligned], "cartoonize", group="auto" if style.groups else None),
            "paste": lambda: paste_back(photo, list(zip(aligned, outputs)), key_light_background=style.keys_background("cartoonize")),
            "all (API translate)": lambda: style.translate(photo, "cartoonize", group="auto" if style.groups else None),
        }
        for stage, function in stages.items():
            ms = timed_ms(function, args.repeats)
            rows.append([name, stage, len(faces), f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}", f"{np.median(ms) / len(faces):.0f}"])
    header = ["style", "stage", "faces", "median ms", "p95 ms", "median ms per face"]
    print_table("cartoonize a 640×480 group photo", header, rows)
    if not args.no_write:
        update_section("cartoonize-group", markdown_table(header, rows) +
                       "\n\nGoal ([in-the-wild]): ≤ 200 ms per face in all, on 2 cores. PyTorch fp32 or onnxruntime as "
                       "`backend=\"auto\"` picks; the group style also runs its routers on each face. `align` is the "
                       "style's own (`Style.align_faces`): for the Bitmoji styles it includes keying the backdrop white "
                       "(`faces/backdrop.py`). Timed beside other jobs on the same cores unless the date line says otherwise.",
                       "python benchmarks/cartoonize_group.py")


if __name__ == "__main__":
    main()
