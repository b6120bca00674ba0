"""The one benchmark harness: every shipped style's quality and speed, next to standard CycleGAN and U-GAT-IT generators.

    python benchmarks/run.py [--threads 2] [--repeats 50] [--limit 400] [--reference 500] [--identity 100]
                             [--speed-only | --quality-only] [--styles NAME...] [--no-write]

Quality (needs ../shared/data): the same evaluation as ``toonbridge eval report`` (KID×100 both ways, landmark NME,
round-trip identity, gender kept), without the groups. Speed: one aligned face at the style's resolution, batch 1,
median of ``repeats`` runs after 3 warm-ups, in PyTorch fp32, PyTorch bf16 autocast and onnxruntime fp32;
parameters and GFLOPs (torch's FlopCounterMode: 2 FLOPs per multiply-add) per generator. The references (CycleGAN's
ResNet-9 and the full U-GAT-IT generator; random weights: speed does not depend on them) run in the same process.
Tables are printed and written into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _report import markdown_table, print_table, update_section
from toonbridge.api import DIRECTIONS, load, styles
from toonbridge.models import build
from toonbridge.models.onnx import OnnxNetwork, export_onnx, onnx_available

# Standard generators, for scale: CycleGAN's ResNet-9 and the full U-GAT-IT generator (ngf 64, 4+4 blocks, AdaLIN,
# full MLP), at its published 256 px and at our 128 px.
REFERENCES = {
    "CycleGAN ResNet-9 (reference)": ("resnet_generator", {"ngf": 64, "n_blocks": 9, "upsample": "transpose"}, 128),
    "full U-GAT-IT 256 px (reference)": ("ugatit_generator", {"ngf": 64, "n_blocks": 4, "n_hourglass": 0, "adalin": "plain",
                                                                "light": False, "image_size": 256}, 256),
    "full U-GAT-IT 128 px (reference)": ("ugatit_generator", {"ngf": 64, "n_blocks": 4, "n_hourglass": 0, "adalin": "plain",
                                                                "light": False, "image_size": 128}, 128),
}
SPEED_HEADER = ["generator", "input", "parameters", "GFLOPs", "PyTorch fp32 ms", "PyTorch bf16 ms", "ONNX fp32 ms"]
QUALITY_HEADER = ["style", "step", "KID×100 photo→cartoon", "KID×100 cartoon→photo", "NME p→c / c→p",
                  "identity (round trip < 0.6)", "gender kept p→c / c→p"]

SPEED_NOTE = (
    'Goals: one aligned 128-px face in ≤ 30 ms on 2 cores (bf16 autocast is `--bf16`). '
    'ONNX is onnxruntime\'s CPU provider in fp32; `backend="auto"` uses it when installed.'
)


def median_ms(network, size: int, repeats: int, bf16: bool = False) -> float:
    x = torch.rand(1, 3, size, size) * 2 - 1
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for _ in range(3):
            network(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            network(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def gflops(network: torch.nn.Module, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        network(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def speed_row(name: str, network: torch.nn.Module, size: int, repeats: int, threads: int, scratch: Path) -> list:
    onnx_ms = "–"
    if onnx_available():
        path = export_onnx(network, size, scratch / f"{name.replace(' ', '_')}.onnx")
        onnx_ms = f"{median_ms(OnnxNetwork(path, threads), size, repeats):.1f}"
    parameters = sum(p.numel() for p in network.parameters()) / 1e6
    return [name, f"{size}×{size}", f"{parameters:.2f} M", f"{gflops(network, size):.2f}",
            f"{median_ms(network, size, repeats):.1f}", f"{median_ms(network, size, repeats, bf16=True):.1f}", onnx_ms]


def quality_row(style, limit: int, reference: int, identity: int) -> list:
    from toonbridge.eval.style_eval import EvalOptions, evaluate_style

    result = evaluate_style(style, EvalOptions(limit, reference, identity, group_limit=0))
    ways = [result.directions.get(name) for name in ("cartoonize", "realize")]

    def both(measure, pattern: str) -> str:
        return " / ".join(_format(measure(way), pattern) if way is not None else "–" for way in ways)

    kids = [f"{way.kid:.2f} ± {way.kid_std:.2f}" if way is not None else "–" for way in ways]
    identity_share = ways[0].identity_same if ways[0] is not None else None
    return [style.name, result.model.get("step"), *kids, both(lambda way: way.nme, "{:.3f}"),
            _format(identity_share and 100 * identity_share, "{:.0f} %"),
            both(lambda way: way.attribute_kept and 100 * way.attribute_kept, "{:.0f} %")]


def _format(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--reference", type=int, default=500)
    parser.add_argument("--identity", type=int, default=100)
    parser.add_argument("--speed-only", action="store_true", help="skip the quality table (no data needed)")
    parser.add_argument("--quality-only", action="store_true", help="skip the speed table (e.g. while the cores are busy)")
    parser.add_argument("--styles", nargs="+", help="only these shipped styles (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if args.speed_only and args.quality_only:
        parser.error("--speed-only and --quality-only exclude each other")
    torch.set_num_threads(args.threads)

    names = [info.name for info in styles()]
    unknown = sorted(set(args.styles or []) - set(names))
    if unknown:
        parser.error(f"unknown style(s) {', '.join(unknown)}; shipped: {', '.join(names)}")
    shipped = [load(name, backend="torch") for name in names if not args.styles or name in args.styles]
    speed_rows = [] if args.quality_only else measure_speed(shipped, args.repeats, args.threads)
    quality_rows = []
    if not args.speed_only:
        quality_rows = [quality_row(style, args.limit, args.reference, args.identity) for style in shipped]
        print_table(f"validation quality ({args.limit} inputs per direction, {args.reference} references)", QUALITY_HEADER, quality_rows)
    if args.no_write:
        return
    command = f"python benchmarks/run.py --threads {args.threads}" + (f" --styles {' '.join(args.styles)}" if args.styles else "")
    if speed_rows:
        update_section("styles-speed", markdown_table(SPEED_HEADER, speed_rows) + "\n\n" + SPEED_NOTE, command + (" --speed-only" if args.speed_only else ""))
    if quality_rows:
        update_section("styles-quality", markdown_table(QUALITY_HEADER, quality_rows), command + (" --quality-only" if args.quality_only else "")
                       + f" --limit {args.limit} --reference {args.reference} --identity {args.identity}")


def measure_speed(shipped: list, repeats: int, threads: int) -> list[list]:
    speed_rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for style in shipped:
            for direction in style.info.directions:
                network = style.network(DIRECTIONS[direction]).eval()
                speed_rows.append(speed_row(f"{style.name} {direction}", network, style.info.size, repeats, threads, Path(scratch)))
        for name, (builder, options, size) in REFERENCES.items():
            speed_rows.append(speed_row(name, build(builder, **options).eval(), size, repeats, threads, Path(scratch)))
    print_table(f"one aligned face, batch 1, {threads} threads (median of {repeats})", SPEED_HEADER, speed_rows)
    return speed_rows


if __name__ == "__main__":
    main()
