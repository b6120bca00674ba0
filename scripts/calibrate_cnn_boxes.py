"""Measure the mapping from dlib's CNN (MMOD) boxes to the HOG-like boxes its shape predictor was trained on,
and what it does to the landmark error. Uses ../shared/data/helen (the training split, not helen_test).

    python scripts/calibrate_cnn_boxes.py [--data ../shared/data] [--limit 200]

Prints the mean offset and scale of HOG boxes relative to CNN boxes on faces both detectors find, and the 68-point
NME of landmarks fitted on raw CNN boxes versus mapped ones. The constants live in toonbridge/faces/detection.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.progress import track

from toonbridge.eval.landmarks import landmark_nme, match_faces, read_landmarks68
from toonbridge.faces import DetectorConfig, FaceDetector
from toonbridge.faces import detection
from toonbridge.imageio import load_image


def set_mapping(shift_x: float, shift_y: float, scale: float) -> None:
    detection._CNN_TO_HOG_SHIFT_X, detection._CNN_TO_HOG_SHIFT_Y, detection._CNN_TO_HOG_SCALE = shift_x, shift_y, scale


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()

    root = args.data / "helen"
    annotations = read_landmarks68(root / "landmarks68.csv")
    hog = FaceDetector(DetectorConfig(method="hog"))
    cnn = FaceDetector(DetectorConfig(method="cnn"))
    mapping = (detection._CNN_TO_HOG_SHIFT_X, detection._CNN_TO_HOG_SHIFT_Y, detection._CNN_TO_HOG_SCALE)
    relations, nme_raw, nme_mapped = [], [], []
    for file in track(sorted(annotations)[: args.limit], description="helen (train)"):
        image = load_image(root / file)
        truth = [a for a in annotations[file] if a.index == 0]
        set_mapping(0.0, 0.0, 1.0)
        raw = match_faces(truth, cnn(image))
        set_mapping(*mapping)
        mapped = match_faces(truth, cnn(image))
        by_hog = match_faces(truth, hog(image))
        if 0 in raw and 0 in mapped:
            nme_raw.append(landmark_nme(raw[0], truth[0]))
            nme_mapped.append(landmark_nme(mapped[0], truth[0]))
        if 0 in raw and 0 in by_hog:
            (cx0, cy0, cx1, cy1), (hx0, hy0, hx1, hy1) = raw[0].box, by_hog[0].box
            width = cx1 - cx0
            relations.append([((hx0 + hx1) - (cx0 + cx1)) / 2 / width, ((hy0 + hy1) - (cy0 + cy1)) / 2 / width,
                              (hx1 - hx0) / width])
    relations = np.array(relations)
    print(f"faces found by both: {len(relations)}")
    print("HOG box relative to CNN box: centre dx, dy (in CNN widths), width ratio")
    print("  mean", relations.mean(axis=0).round(3), " std", relations.std(axis=0).round(3))
    print(f"CNN landmarks, {len(nme_raw)} faces: NME raw boxes {np.mean(nme_raw):.4f}, "
          f"mapped boxes {np.mean(nme_mapped):.4f} (shift x, y and scale {mapping})")


if __name__ == "__main__":
    main()
