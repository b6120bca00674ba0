"""Face detection on photos as people take them: recall by face width, landmark NME, false faces, time per photo.

    python benchmarks/faces_wild.py [--methods auto,thorough,dlib] [--data ../shared/data] [--groups 100 --small 100
                                    --tight 100] [--no-write]

The set (``toonbridge.eval.wild_photos``: composed group photos on HELEN backdrops, HELEN test photos scaled down,
tight UTKFace and CelebA chips) is built into the user cache on first use (~15 min: every backdrop is searched
thoroughly for unannotated people) and reused after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.progress import track

from _report import markdown_table, print_table, update_section
from toonbridge.eval.wild_photos import SIZE_BUCKETS, WildScore, build_wild_photos, default_folder, score_detector
from toonbridge.faces import DetectorConfig, FaceDetector

KINDS = ("group", "small", "tight")
METHODS = "auto,thorough,dlib"

NOTE = """

How to read it. Goals (issue [in-the-wild]): recall ≥ 0.95 on faces ≥ 30 px wide, NME ≤ 0.06, ≤ 0.05 false faces
per photo, ≤ 150 ms median per 640-px photo in the default mode (the group photos are the 640-px ones).
*group*: 640×480 backdrops (face-free regions of HELEN training photos, scaled up) with 3-6 faces pasted in
(CelebA, UTKFace, HELEN test; 25-150 px wide, cut out with a feathered ellipse); *small*: HELEN test photos scaled
down so the face is 30-120 px wide; *tight*: UTKFace chips (200 px) and CelebA crops (128 px) as they are, the face
filling the frame. A hit is a detection whose box centre lies inside the face's landmark box (one to one); a false
face is a detection that is no hit and lies in no *ignore* region (people in the small photos that nobody
annotated, found at build time by HOG on a 2× copy and the CNN at full size). NME is over the faces with 68
annotated points (HELEN), normalised by the outer-eye-corner distance. Face width is the landmark box's width.
auto is BlazeFace over tiles; dlib is HOG with the CNN where HOG is unsure (the default before [in-the-wild]).
Timed with nothing else running on the 2 cores."""


def bucket_name(low: float, high: float) -> str:
    return f"{low:g}-{high:g} px" if high < 10_000 else f"≥ {low:g} px"


def rows_for(method: str, score: WildScore) -> list[list]:
    rows = []
    seconds = score.times()
    nmes = np.array(score.nmes)
    row = [method, f"{score.recall(30):.3f} ({score.count(30)})"]
    row += [f"{score.recall(low, high):.2f}" for low, high in SIZE_BUCKETS]
    row += [f"{score.recall(30, kind=kind):.3f}" for kind in KINDS]
    groups = score.times("group")
    row += [f"{nmes.mean():.4f}" if len(nmes) else "-", f"{score.false_per_photo():.3f}",
            f"{np.median(seconds) * 1000:.0f}", f"{np.median(groups) * 1000:.0f} / {np.percentile(groups, 95) * 1000:.0f}"]
    rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--tight", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    folder = default_folder()
    progress = lambda items, total, label: track(items, total=total, description=label)  # noqa: E731
    photos = build_wild_photos(args.data, folder, groups=args.groups, small=args.small, tight=args.tight, progress=progress)
    header = (["detector", "recall ≥ 30 px (faces)"] + [bucket_name(*b) for b in SIZE_BUCKETS]
              + [f"recall {kind}" for kind in KINDS]
              + ["NME (68 pt)", "false faces / photo", "ms / photo (median, all)", "ms / 640×480 group photo (median / p95)"])
    rows = []
    for method in args.methods.split(","):
        detector = FaceDetector(DetectorConfig(method=method))
        rows += rows_for(method, score_detector(detector, photos, folder, progress, method))
    print_table("in-the-wild photos: detection", header, rows)
    if not args.no_write:
        command = "python benchmarks/faces_wild.py" + ("" if args.methods == METHODS else f" --methods {args.methods}")
        update_section("faces-wild", markdown_table(header, rows) + NOTE, command)


if __name__ == "__main__":
    main()
