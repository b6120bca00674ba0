"""Measure the built-in alignment templates from ../shared/data and write them to src/toonbridge/faces/templates/.

- bitmoji (128 px): the mean 5 points of celeba2bitmoji/photo.csv.
- anime (256 px): the mean 5 points our detector finds on selfie2anime/selfie (one face per image, the largest).
- anime-cartoon (256 px): where selfie2anime's *anime* faces sit, looser than its selfies. No detector of ours
  finds 68 points on anime faces, so the anime template is moved by the similarity that takes BlazeFace's median
  eyes, nose and mouth on training selfies onto its medians on training anime faces (the same detector on both,
  so its own bias cancels).

It also reports how far our detector's 5 points fall from photo.csv's on the same celeba photos, the check that a
photo aligned by us lands where the training images' faces are.

    python scripts/measure_templates.py [--data ../shared/data] [--limit N] [--only anime-cartoon]
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


def median_keypoints(spec: str, limit: int) -> tuple[np.ndarray, int]:
    """BlazeFace's median eyes, nose tip and mouth centre (4×2 pixels) over the first ``limit`` training images of a
    set where it scores a face ≥ 0.5, and how many those were."""
    from toonbridge.data import load_split
    from toonbridge.faces.blazeface import blazeface

    found = []
    for sample in track(load_split(spec, "train").samples[:limit], description=spec):
        points, score = blazeface().strongest_keypoints(load_image(sample.path))
        if score >= 0.5:
            found.append(points[:4])
    return np.median(np.array(found), axis=0), len(found)


def anime_cartoon_template(limit: int) -> Template:
    """The ``anime`` template moved as selfie2anime's anime faces sit relative to its selfies."""
    from toonbridge.faces import get_template
    from toonbridge.faces.align import apply_transform, similarity_transform

    selfies, selfie_count = median_keypoints("selfie2anime/selfie", limit)
    anime, anime_count = median_keypoints("selfie2anime/anime", limit)
    move = similarity_transform(selfies, anime)
    points = apply_transform(move, np.asarray(get_template("anime").points5, np.float64)).round(2)
    scale = float(np.sqrt(abs(np.linalg.det(move[:, :2]))))
    return Template("anime-cartoon", (256, 256), points,
                    source=f"how selfie2anime/anime faces sit in their crops: the anime template moved by the similarity "
                           f"that takes BlazeFace's median eyes, nose and mouth on {selfie_count} of the first {limit} "
                           f"training selfies onto its medians on {anime_count} of the first {limit} training anime faces "
                           f"(scale {scale:.3f}); scripts/measure_templates.py")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--limit", type=int, default=1000, help="images per set for the detector measurements")
    parser.add_argument("--only", choices=["anime-cartoon"], help="measure and write this template alone")
    args = parser.parse_args()
    if args.only == "anime-cartoon":
        template = anime_cartoon_template(args.limit)
        (OUT / "anime-cartoon.json").write_text(template.to_json())
        print(template.name, template.points5.tolist())
        return

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
