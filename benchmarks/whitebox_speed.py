"""Speed of the whitebox styles' generator next to the published White-box generator ([whitebox]).

    python benchmarks/whitebox_speed.py [--style whitebox-bitmoji] [--threads 2] [--repeats 10] [--precisions int8 bf16 fp32]
        [--no-write]

Our generator (PyTorch fp32 and bf16 autocast; int8 onnxruntime as ``precision="int8"`` runs it) on a 256-px face, a 512-px image and, through ``cartoonize_whole``
(2×2 overlapping tiles of 544 px), a 1024×1024 photo; the published generator (../shared/peers, TFLite dynamic-range quantised,
LiteRT with XNNPack, comparison only) at its fixed 512×512 input and on the 1024-px photo as four 512 tiles. Inputs
are the bundled sample photo resized; no ../shared/data needed (the peer row is left out without ../shared).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.api import load
from toonbridge.data import image_to_tensor
from toonbridge.imageio import load_image, resize_image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "toonbridge" / "assets" / "astronaut.jpg"
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="whitebox-bitmoji")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    # int8 first: PyTorch's thread pool, once used, spins against onnxruntime's for a while after each call.
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16", "int8"], default=["int8", "bf16", "fp32"])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photo = load_image(SAMPLE)
    sizes = {"256-px face": resize_image(photo, 256), "512-px image": resize_image(photo, 512)}
    photo_1024 = resize_image(photo, 1024)
    rows = []
    for precision in args.precisions:
        style = load(args.style, precision=precision, backend="onnx" if precision == "int8" else "torch")
        network = style.whole_photo_network()  # int8: onnxruntime, quantised here on first use (cached)
        for label, image in sizes.items():
            x = image_to_tensor(image)[None]

            def run(x=x):
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    network(x)

            ms = timed_ms(run, args.repeats)
            rows.append([f"ours, {label}, {precision}", f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}"])
        ms = timed_ms(lambda: style.cartoonize_whole(photo_1024), max(args.repeats // 2, 3))
        rows.append([f"ours, 1024-px photo (whole, tiled), {precision}", f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}"])
    from evaluate_whitebox import PEER, Peer

    if PEER.is_file():
        peer = Peer(PEER, threads=args.threads)
        for label, image in (("512-px image", sizes["512-px image"]), ("1024-px photo (4 tiles)", photo_1024)):
            ms = timed_ms(lambda image=image: peer.run(image), args.repeats)
            rows.append([f"published White-box (TFLite), {label}", f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}"])
    header = [f"{args.style} generator ({args.threads} threads)", "median ms", "p95 ms"]
    print_table("whitebox speed", header, rows)
    if not args.no_write:
        update_section("whitebox-speed", markdown_table(header, rows) + f"\n\n{args.repeats} runs each (the 1024-px photo: half as many).",
                       f"python benchmarks/whitebox_speed.py --style {args.style} --threads {args.threads}")


if __name__ == "__main__":
    main()
