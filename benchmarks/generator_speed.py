"""Time the face generator: milliseconds per generated face (mapping + synthesis), batch 1 and 16, fp32 and bf16.

    python benchmarks/generator_speed.py --weights runs/stylegan-64 [--threads 2] [--repeats 10] [--no-write]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.api import face_generator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", help="a generator .safetensors or a stylegan2 run (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = face_generator(args.weights)
    rows = []
    for batch in (1, 16):
        z = torch.randn(batch, generator.z_dim)
        for precision in ("fp32", "bf16"):
            def draw():
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    generator(z, truncation=0.7)

            ms = timed_ms(draw, args.repeats) / batch
            rows.append([f"{generator.resolution} px, batch {batch}, {precision}", f"{np.median(ms):.2f}", f"{np.percentile(ms, 95):.2f}", args.repeats])
    parameters = sum(p.numel() for p in generator.parameters())
    header = [f"face generator, per face ({args.threads} threads)", "median ms", "p95 ms", "runs"]
    print_table("face generator", header, rows)
    if not args.no_write:
        update_section("face-generator", markdown_table(header, rows) + f"\n\n{parameters / 1e6:.2f} M parameters.",
                       f"python benchmarks/generator_speed.py --threads {args.threads}"
                       + (f" --weights {args.weights}" if args.weights else ""))


if __name__ == "__main__":
    main()
