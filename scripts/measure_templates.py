"""Measure the built-in alignment templates from ../shared/data and write them to src/toonbridge/faces/templates/.

- bitmoji (128 px): the mean 5 points of celeba2bitmoji/photo.csv.
- anime (256 px): the mean 5 points our detector finds on selfie2anime/selfie (one face per image, the largest).

It also reports how far our detector's 5 points fall from photo.csv's on the same celeba photos, the check that a
photo aligned by us lands where the training images' faces are.

    python scripts/measure_templates.py [--data ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from rich.progress import track

from toonbridge.faces import Template, detect
from toonbridge.faces.landmarks import FIVE_POINT_COLUMNS
from toonbridge.imageio import load_image

OUT = Path(__file__).resolve().parents[1] / "src/toonbridge/faces/templates"


def csv_points(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as handle:
        return {row["file"]: np.array([float(row[c]) for c in FIVE_POINT_COLUMNS]).reshape(5, 2) for row in csv.DictReader(handle)}


def detected_points(files: list[Path], description: str) -> dict[str, np.ndarray]:
    found = {}
    for file in track(files, description=description):
        faces = detect(load_image(file), method="hog")
        if faces:
            largest = max(faces, key=lambda face: face.width)
            found[file.name] = largest.landmarks5
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--limit", type=int, default=1000, help="images per set for the detector measurements")
    args = parser.parse_args()

    celeba = args.data / "celeba2bitmoji"
    annotated = csv_points(celeba / "photo.csv")
    bitmoji = Template("bitmoji", (128, 128), np.mean(list(annotated.values()), axis=0),
                       source=f"mean 5 points of celeba2bitmoji/photo.csv ({len(annotated)} photos)")

    sample = sorted(annotated)[: args.limit]
    ours = detected_points([celeba / name for name in sample], "celeba photos")
    by_name = {Path(name).name: points for name, points in annotated.items()}
    offsets = np.array([ours[name] - by_name[name] for name in ours])
    print(f"celeba: detector found a face in {len(ours)}/{len(sample)} photos")
    print("mean offset ours - photo.csv per point (x, y), px at 128:\n", offsets.mean(axis=0).round(2))
    print("mean absolute distance per point, px:", np.linalg.norm(offsets, axis=2).mean(axis=0).round(2))

    selfies = sorted((args.data / "selfie2anime/selfie").iterdir())[: args.limit]
    selfie_points = detected_points(selfies, "selfies")
    anime = Template("anime", (256, 256), np.mean(list(selfie_points.values()), axis=0),
                     source=f"mean 5 points detected by toonbridge (dlib HOG + 68 landmarks) on {len(selfie_points)} "
                            f"of the first {len(selfies)} selfie2anime/selfie images")
    for template in (bitmoji, anime):
        (OUT / f"{template.name}.json").write_text(template.to_json())
        print(template.name, template.points5.round(2).tolist())


if __name__ == "__main__":
    main()
