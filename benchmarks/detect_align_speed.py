"""Time detect + align on a 640-px photo (the bundled sample, scaled to 640×640), per stage and end to end.

    python benchmarks/detect_align_speed.py [--repeats 50] [--no-write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.faces import DetectorConfig, FaceDetector, align_face
from toonbridge.imageio import load_image

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "assets" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    photo = cv2.resize(load_image(SAMPLE), (640, 640), interpolation=cv2.INTER_CUBIC)
    auto, hog, cnn = (FaceDetector(DetectorConfig(method=m)) for m in ("auto", "hog", "cnn"))
    face = auto(photo)[0]
    slow = lambda: cnn(photo)  # noqa: E731 - ~1.5 s a call: fewer repeats
    stages = {
        "detect (auto: HOG, CNN only if needed) + 68 landmarks": lambda: auto(photo),
        "align to bitmoji (128 px)": lambda: align_face(photo, face, "bitmoji"),
        "align to anime (256 px)": lambda: align_face(photo, face, "anime"),
        "detect + align, bitmoji (end to end)": lambda: [align_face(photo, f, "bitmoji") for f in auto(photo)],
        "detect + align, anime (end to end)": lambda: [align_face(photo, f, "anime") for f in auto(photo)],
        "detect, HOG only": lambda: hog(photo),
        "detect, CNN only (fallback path)": slow,
    }
    rows = []
    for name, function in stages.items():
        repeats = max(5, args.repeats // 10) if function is slow else args.repeats
        ms = timed_ms(function, repeats)
        rows.append([name, f"{np.median(ms):.1f}", f"{np.percentile(ms, 95):.1f}", repeats])
    header = ["stage (640×640 photo, one face)", "median ms", "p95 ms", "runs"]
    print_table("detect + align speed", header, rows)
    if not args.no_write:
        update_section("detect-align-speed", markdown_table(header, rows) +
                       "\n\nGoal: detect + align ≤ 150 ms on 2 cores. dlib runs single-threaded.",
                       "python benchmarks/detect_align_speed.py")


if __name__ == "__main__":
    main()
