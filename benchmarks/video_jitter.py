"""Video: frames per second, and the jitter of a still face with and without the temporal smoothing.

    python benchmarks/video_jitter.py [--frames 100] [--threads 2] [--no-write]

The clip is the bundled sample photo (640 px wide) filmed as a still face by a noisy sensor: the same picture in
every frame with fresh Gaussian noise (σ = 6 levels), written as mp4v at 25 fps. Jitter is the mean frame-to-frame
motion of the 5 alignment points, in inter-ocular distances: of the raw detections, and of the points the
alignment used (One-Euro smoothed, or raw with smoothing off).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from _report import markdown_table, print_table, update_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_video import write_still_clip  # noqa: E402  (the same clip the tests use)

import toonbridge  # noqa: E402
from toonbridge.imageio import load_image  # noqa: E402
from toonbridge.video import cartoonize_video  # noqa: E402

SAMPLE = Path(toonbridge.__file__).parent / "assets" / "astronaut.jpg"

NOTE = (
    'A still face filmed by a noisy sensor: the bundled 512-px sample photo in every frame with fresh '
    'Gaussian noise (σ = 6 levels). Jitter: mean frame-to-frame motion of the 5 alignment points, in '
    'inter-ocular distances. Frames per second include decoding, detection, alignment, translation, '
    'paste-back and encoding.'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    style = toonbridge.load("bitmoji")
    header = ["smoothing", "backend", "frames", "frames/s", "jitter of detections", "jitter of alignment used"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "still.mp4"
        write_still_clip(clip, load_image(SAMPLE), args.frames)
        for smoothing in (False, True):
            report = cartoonize_video(style, clip, Path(scratch) / "out.mp4", smoothing=smoothing)
            rows.append(["One-Euro" if smoothing else "off", style.backend, report.frames, f"{report.fps:.1f}",
                         f"{report.jitter_raw:.4f}", f"{report.jitter_used:.4f}"])
    print_table(f"still face, {args.frames} frames of {load_image(SAMPLE).shape[1]} px, {args.threads} threads", header, rows)
    if not args.no_write:
        update_section("video", markdown_table(header, rows) + "\n\n" + NOTE, f"python benchmarks/video_jitter.py --frames {args.frames} --threads {args.threads}")


if __name__ == "__main__":
    main()
