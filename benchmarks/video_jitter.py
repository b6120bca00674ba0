"""Video: frames per second, and the jitter of a still face with and without the temporal smoothing.

    python benchmarks/video_jitter.py [--frames 100] [--threads 2] [--no-write]

The clip is the bundled sample photo (512 px wide) filmed as a still face by a noisy sensor: the same picture in
every frame with fresh Gaussian noise (σ = 6 levels), written as mp4v at 25 fps. Jitter is the mean frame-to-frame
motion of the 5 alignment points, in inter-ocular distances: of the raw detections, and of the points the
alignment used (One-Euro smoothed, or raw with smoothing off).

A second clip is dim with an exposure that hunts (auto-exposure hunting): the sample at ×0.60 and ×0.68 in
alternate frames, its highlights either side of the dim threshold, so that each frame's own gain jumps between ~1.5
and 1. Flicker is the mean frame-to-frame change of the mean brightness of the pasted face's box, in grey levels,
with the steady gain (ops/exposure.SteadyExposure) and with each frame's own; the input's own is shown beside.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from _report import markdown_table, print_table, update_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_video import write_still_clip  # noqa: E402  (the same clip the tests use)

import toonbridge  # noqa: E402
from toonbridge.faces import detect  # noqa: E402
from toonbridge.imageio import load_image  # noqa: E402
from toonbridge.video import cartoonize_video  # noqa: E402

SAMPLE = Path(toonbridge.__file__).parent / "assets" / "astronaut.jpg"

NOTE = (
    'A still face filmed by a noisy sensor: the bundled 512-px sample photo in every frame with fresh '
    'Gaussian noise (σ = 6 levels). Jitter: mean frame-to-frame motion of the 5 alignment points, in '
    'inter-ocular distances. Frames per second include decoding, detection, alignment, translation, '
    'paste-back and encoding.'
)


HUNTING_EXPOSURES = (0.60, 0.68)
LIGHT_NOTE = (
    'Dim light with hunting exposure: the sample at ×0.60 and ×0.68 in alternate frames (highlights either side of '
    'the dim threshold, so each frame\'s own gain jumps between ~1.5 and 1). Flicker: mean frame-to-frame change of '
    'the mean brightness of the face\'s box in the output, in grey levels; "input" is the clip itself.'
)


def write_hunting_clip(path: Path, photo: np.ndarray, frames: int, fps: float = 25.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, photo.shape[1::-1])
    for index in range(frames):
        frame = np.clip(photo * HUNTING_EXPOSURES[index % 2], 0, 255).round().astype(np.uint8)
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


def box_flicker(video: Path, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    capture, means = cv2.VideoCapture(str(video)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        means.append(float(frame[y0:y1, x0:x1].mean()))
    capture.release()
    return float(np.abs(np.diff(means)).mean())


def hunting_light_rows(style, scratch: Path, frames: int) -> list[list]:
    photo = load_image(SAMPLE)
    clip = scratch / "hunting.mp4"
    write_hunting_clip(clip, photo, frames)
    box = tuple(int(round(v)) for v in detect(photo)[0].box)
    rows = [["input", "–", f"{box_flicker(clip, box):.1f}"]]
    for steady in (False, True):
        report = cartoonize_video(style, clip, scratch / "hunting-out.mp4", steady_light=steady)
        rows.append(["steady (1 s)" if steady else "each frame's own", report.faces, f"{box_flicker(report.output, box):.1f}"])
    return rows


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
        light_header = ["gain", "faces", "flicker of the face (grey levels)"]
        light_rows = hunting_light_rows(style, Path(scratch), args.frames)
    print_table(f"still face, {args.frames} frames of {load_image(SAMPLE).shape[1]} px, {args.threads} threads", header, rows)
    print_table("dim light, hunting exposure", light_header, light_rows)
    if not args.no_write:
        update_section("video", markdown_table(header, rows) + "\n\n" + NOTE + "\n\n" + markdown_table(light_header, light_rows)
                       + "\n\n" + LIGHT_NOTE, f"python benchmarks/video_jitter.py --frames {args.frames} --threads {args.threads}")


if __name__ == "__main__":
    main()
