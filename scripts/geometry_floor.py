"""[whitebox] How far a cartoon set lies from any style that keeps the photo's face geometry: its own cartoons,
redrawn on human faces' landmark positions, measured by KID against the set.

    python scripts/geometry_floor.py [--set avataaars] [--limit 300] [--json out.json]

A whitebox style must keep the photo's landmarks (the issue's NME ≤ 0.04 of the photo's own points), so its
cartoons have the eyes and mouth where the photo has them. A cartoon set whose faces share another geometry (every
DiceBear avataaars avatar is drawn on one frontal face; see ``faces/templates/dicebear-avataaars.json``) is then
out of reach by geometry alone. This script warps the set's training cartoons (reframed to the bitmoji template,
as the styles train on them) with a thin-plate spline that moves their 5 points onto the 5 labelled points of
CelebA validation photos (the faces ``evaluate_whitebox.py`` translates; the crop's border stays put), and reports
KID×100 against the set's validation cartoons: as they are, warped onto the mean human geometry (the bitmoji
template), and warped onto each photo's own points. A perfect style that keeps the landmarks scores no better than
the last line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from toonbridge.data import load_split
from toonbridge.data.aligned import load_aligned
from toonbridge.eval.distribution import kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.faces.align import apply_transform, similarity_transform
from toonbridge.faces.templates import get_template
from toonbridge.imageio import load_image, resize_image, write_atomic

SETS = {"avataaars": "dicebear/avataaars", "bitmoji": "celeba2bitmoji/cartoon"}
SIZE = 128


def thin_plate_warp(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` warped so that its points ``source`` land on ``target`` (N×2 pixels each), smoothly in between:
    a thin-plate spline from output to input pixels, sampled with ``cv2.remap``."""
    count = len(target)
    distances = np.linalg.norm(target[:, None] - target[None], axis=2)
    kernel = np.where(distances > 0, distances ** 2 * np.log(distances + 1e-12), 0.0)
    affine = np.hstack([np.ones((count, 1)), target])
    system = np.zeros((count + 3, count + 3))
    system[:count, :count], system[:count, count:], system[count:, :count] = kernel, affine, affine.T
    coefficients = np.linalg.solve(system, np.vstack([source, np.zeros((3, 2))]))
    height, width = image.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).reshape(-1, 2).astype(np.float64)
    to_controls = np.linalg.norm(grid[:, None] - target[None], axis=2)
    basis = np.where(to_controls > 0, to_controls ** 2 * np.log(to_controls + 1e-12), 0.0)
    mapped = basis @ coefficients[:count] + np.hstack([np.ones((len(grid), 1)), grid]) @ coefficients[count:]
    map_xy = mapped.reshape(height, width, 2).astype(np.float32)
    return cv2.remap(image, map_xy[..., 0], map_xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def border_points(size: int) -> np.ndarray:
    """Corners and edge midpoints of the crop, held in place so that only the face moves."""
    last = size - 1
    return np.array([[0, 0], [last / 2, 0], [last, 0], [last, last / 2], [last, last], [last / 2, last], [0, last], [0, last / 2]])


def cartoon_points(domain_spec: str) -> np.ndarray:
    """Where a set's faces have their 5 points once reframed to the bitmoji template (its own template's points
    moved by the reframing similarity; for a set already on the bitmoji template, the template's)."""
    domain = load_split(domain_spec, "val")
    source, target = get_template(domain.template), get_template("bitmoji")
    if domain.template == "bitmoji":
        return np.asarray(target.points5, np.float64)
    matrix = similarity_transform(np.asarray(source.points5, np.float64), np.asarray(target.points5, np.float64))
    return apply_transform(matrix, np.asarray(source.points5, np.float64))


def reframed_paths(domain_spec: str, split: str, limit: int) -> list[Path]:
    return [s.path for s in load_aligned(domain_spec, split, "bitmoji").samples[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="avataaars")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    spec = SETS[args.set]
    references = cached_path_features(reframed_paths(spec, "val", 10_000), resize_to=SIZE)
    cartoons = [resize_image(load_image(path), SIZE) for path in reframed_paths(spec, "train", args.limit)]
    photos = load_split("celeba2bitmoji/photo", "val").samples[:args.limit]
    own, border = cartoon_points(spec), border_points(SIZE)
    mean_human = np.asarray(get_template("bitmoji").points5, np.float64)

    def warped_onto(points_for) -> list[np.ndarray]:
        return [thin_plate_warp(cartoon, np.vstack([own, border]), np.vstack([points_for(i), border]))
                for i, cartoon in enumerate(cartoons)]

    rows = {
        "the set's own cartoons (train split)": cartoons,
        "warped onto the mean human geometry": warped_onto(lambda i: mean_human),
        "warped onto each photo's own points": warped_onto(lambda i: np.asarray(photos[i % len(photos)].landmarks5, np.float64)),
    }
    table = {}
    for name, images in rows.items():
        table[name] = round(kid(features(images), references).mean, 2)
        print(f"{name}: KID×100 {table[name]}", flush=True)
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps({"set": args.set, "table": table}, indent=1).encode()))


if __name__ == "__main__":
    main()
