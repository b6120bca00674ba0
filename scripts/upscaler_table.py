"""[in-the-wild] The cartoon upscaler against bicubic enlargement, on validation cartoons shrunk and enlarged again.

    python scripts/upscaler_table.py [--network src/toonbridge/weights/upscaler/cartoon_x2.safetensors | --run runs/cartoon-upscaler]
                                     [--limit 300] [--json out.json]

Each validation cartoon (Bitmoji at their native 128 px, anime faces at 256) is shrunk by area averaging, ×2 and
×4, as a cartoon the generators draw stands to the larger one the user is shown, then enlarged back by the
upscaler (one ×2 pass, or two) and bicubically (what the pipeline did before, ``resize_image``). PSNR (dB, RGB)
and mean absolute error (grey levels) against the original; higher PSNR, lower error is better. Also the time of
one ×2 pass on a 128- and a 256-px cartoon (median of 5, after a warm-up) with the threads torch has.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from toonbridge.data import load_split
from toonbridge.data.unpaired import image_to_tensor, tensor_to_image
from toonbridge.imageio import load_image, resize_image, write_atomic
from toonbridge.models import load_network

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "weights" / "upscaler" / "cartoon_x2.safetensors"
SETS = ("celeba2bitmoji/cartoon", "selfie2anime/anime")


@torch.no_grad()
def upscaled(network: torch.nn.Module, image: np.ndarray, passes: int) -> np.ndarray:
    for _ in range(passes):
        image = tensor_to_image(network(image_to_tensor(image)[None])[0])
    return image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def compare(network: torch.nn.Module, paths: list[Path], factor: int) -> dict:
    scores = {"bicubic": [], "upscaler": []}
    for path in paths:
        sharp = load_image(path)
        height, width = sharp.shape[:2]
        small = resize_image(sharp, (width // factor, height // factor))
        scores["bicubic"].append((psnr(resize_image(small, (width, height)), sharp), np.abs(resize_image(small, (width, height)).astype(int) - sharp).mean()))
        enlarged = upscaled(network, small, factor.bit_length() - 1)
        scores["upscaler"].append((psnr(enlarged, sharp), np.abs(enlarged.astype(int) - sharp).mean()))
    return {name: {"PSNR dB": round(float(np.mean([p for p, _ in values])), 2), "mean abs error": round(float(np.mean([e for _, e in values])), 2)}
            for name, values in scores.items()}


def pass_time(network: torch.nn.Module, side: int) -> float:
    image = np.full((side, side, 3), 128, np.uint8)
    upscaled(network, image, 1)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        upscaled(network, image, 1)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--network", type=Path, default=SHIPPED)
    source.add_argument("--run", type=Path, help="a training run (or checkpoint): its network instead of the shipped one")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.run:
        from toonbridge.train.export import shipped_networks

        network = shipped_networks(args.run)["upscaler"]
    else:
        network = load_network(args.network)
    table = {}
    for name in SETS:
        paths = [sample.path for sample in load_split(name, "val").samples[:args.limit]]
        for factor in (2, 4):
            row = compare(network, paths, factor)
            table[f"{name} ×{factor} ({len(paths)})"] = row
            print(f"{name} ×{factor} ({len(paths)} images)", json.dumps(row), flush=True)
    timing = {f"ms per ×2 pass, {side} px in ({torch.get_num_threads()} threads)": pass_time(network, side) for side in (128, 256)}
    print(json.dumps(timing), flush=True)
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps({"table": table, "timing": timing}, indent=1).encode()))


if __name__ == "__main__":
    main()
