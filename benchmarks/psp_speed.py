"""pSp speed ([psp]): one aligned face through the encoder and the face generator, the same with 20 refinement
steps (``refine_steps``: the hybrid inversion), the whole realize path on a 640-px cartoon image, and the
super-resolution upscaler.

    python benchmarks/psp_speed.py [--threads 2] [--repeats 10] [--no-write]

The cartoon is the bundled sample cartoonized by the ``bitmoji`` style (aligned, 128 px) and, for the whole path,
that cartoon enlarged to 640 px: the path finds the face with the Bitmoji landmark regressors (4-6 passes),
aligns, inverts and pastes back. No ../shared/data needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.api import load, upscale
from toonbridge.imageio import resize_image

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "assets" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cartoon = load("bitmoji").translate(SAMPLE, "cartoonize").faces[0].output
    whole = resize_image(cartoon, 640)
    rows = []
    for precision in ("fp32", "bf16"):
        psp = load("psp", precision=precision, backend="torch")
        refined = load("psp", precision=precision, refine_steps=20)
        for label, call in ((f"one aligned face, {precision}", lambda: psp.translate(cartoon, "realize", aligned=True)),
                            (f"one aligned face, 20 refinement steps, {precision}", lambda: refined.translate(cartoon, "realize", aligned=True)),
                            (f"whole 640-px cartoon image, {precision}", lambda: psp.translate(whole, "realize")),
                            (f"upscale a 16-px face, {precision}", lambda: upscale(resize_image(cartoon, 16), precision=precision))):
            repeats = max(2, args.repeats // 5) if "refinement" in label else args.repeats  # seconds each
            ms = timed_ms(call, repeats)
            rows.append([label, f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}", repeats])
    header = [f"psp ({args.threads} threads)", "median ms", "p95 ms", "runs"]
    print_table("psp", header, rows)
    if not args.no_write:
        update_section("psp-speed", markdown_table(header, rows), f"python benchmarks/psp_speed.py --threads {args.threads}")


if __name__ == "__main__":
    main()
