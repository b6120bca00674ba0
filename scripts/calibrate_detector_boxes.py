"""Measure the mapping from a detector's boxes (dlib's CNN, BlazeFace) to the HOG-like boxes dlib's shape
predictor was trained on, and what it does to the landmark error. Uses ../shared/data/helen (the training split,
not helen_test).

    python scripts/calibrate_detector_boxes.py [--detector cnn|blazeface] [--data ../shared/data] [--limit 200]

Prints the mean and median offset and scale of HOG boxes relative to the detector's raw boxes on faces both find,
and the 68-point NME of landmarks fitted on raw boxes versus mapped ones. The constants live in
toonbridge/faces/detection.py (``BOX_TO_HOG``).
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


def set_mapping(detector: str, mapping: detection.BoxToHog) -> None:
    detection.BOX_TO_HOG[detector] = mapping


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--detector", choices=("cnn", "blazeface"), default="blazeface")
    args = parser.parse_args()

    root = args.data / "helen"
    annotations = read_landmarks68(root / "landmarks68.csv")
    hog = FaceDetector(DetectorConfig(method="hog"))
    other = FaceDetector(DetectorConfig(method=args.detector))
    mapping = detection.BOX_TO_HOG[args.detector]
    relations, nme_raw, nme_mapped = [], [], []
    for file in track(sorted(annotations)[: args.limit], description="helen (train)"):
        image = load_image(root / file)
        truth = [a for a in annotations[file] if a.index == 0]
        set_mapping(args.detector, detection.BoxToHog(0.0, 0.0, 1.0))
        raw = match_faces(truth, other(image))
        set_mapping(args.detector, mapping)
        mapped = match_faces(truth, other(image))
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
    print(f"HOG box relative to the {args.detector} box: centre dx, dy (in its widths), width ratio")
    print("  mean", relations.mean(axis=0).round(3), " median", np.median(relations, axis=0).round(3),
          " std", relations.std(axis=0).round(3))
    print(f"{args.detector} landmarks, {len(nme_raw)} faces: NME raw boxes {np.mean(nme_raw):.4f}, "
          f"mapped boxes {np.mean(nme_mapped):.4f} ({mapping})")


if __name__ == "__main__":
    main()
