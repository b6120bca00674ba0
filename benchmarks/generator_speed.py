"""Time one aligned face through each shipped style's generators, next to the standard CycleGAN ResNet-9 generator.

    python benchmarks/generator_speed.py [--repeats 50] [--threads 2] [--no-write]

Batch 1, 128×128 (each style at its own size), CPU, fp32 and bf16 autocast. The ResNet-9 reference (ngf 64,
9 blocks, transposed convolutions; random weights: speed does not depend on them) runs in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _report import markdown_table, print_table, update_section
from toonbridge.api import styles
from toonbridge.models import build, load_network


GOAL = "\n\nGoal: one aligned 128-px face in ≤ 30 ms on 2 cores (met with bf16 autocast, `--bf16`)."


def median_ms(network: torch.nn.Module, size: int, repeats: int, bf16: bool) -> float:
    x = torch.rand(1, 3, size, size) * 2 - 1
    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.no_grad()
    with torch.no_grad(), context:
        for _ in range(3):
            network(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            network(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def parameters(network: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in network.parameters()) / 1e6:.2f} M"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    candidates = []
    for info in styles():
        for role in ("to_cartoon", "to_photo"):
            if info.network_path(role):
                candidates.append((f"{info.name} {role}", load_network(info.network_path(role)), info.size))
    reference = build("resnet_generator", ngf=64, n_blocks=9, upsample="transpose").eval()
    candidates.append(("CycleGAN ResNet-9 (reference)", reference, 128))

    header = ["generator", "input", "parameters", "fp32 ms", "bf16 ms"]
    rows = [[name, f"{size}×{size}", parameters(net), f"{median_ms(net, size, args.repeats, False):.1f}",
             f"{median_ms(net, size, args.repeats, True):.1f}"] for name, net, size in candidates]
    print_table(f"one face, batch 1, {args.threads} threads (median of {args.repeats})", header, rows)
    if not args.no_write:
        update_section("generator-speed", markdown_table(header, rows) + GOAL,
                       f"python benchmarks/generator_speed.py --threads {args.threads}")


if __name__ == "__main__":
    main()
