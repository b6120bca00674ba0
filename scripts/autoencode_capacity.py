"""How fast can each generator learn to copy a face? L1 identity only, same data, steps and optimiser.

    python scripts/autoencode_capacity.py [--domain selfie2anime/selfie] [--steps 300] [--generators ...]

A diagnostic for slow translation training: if a generator cannot even copy its input after N steps, the cycle and
identity terms of a GAN built on it cannot be low either, whatever the adversarial side does. Prints the mean L1
(on [-1, 1]) of each 50-step window and the time per step (bf16 autocast, one thread, batch 1).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from toonbridge.data import load_split
from toonbridge.imageio import load_image
from toonbridge.models import build

GENERATORS = {
    # configs/anime.yaml's generator and its U-GAT-IT (plain AdaLIN) twin, and the shipped bitmoji generator.
    "anime (soft AdaLIN)": ("ugatit_generator", {"ngf": 32, "n_blocks": 3, "n_hourglass": 0, "adalin": "soft", "light": True}),
    "anime (plain AdaLIN)": ("ugatit_generator", {"ngf": 32, "n_blocks": 3, "n_hourglass": 0, "adalin": "plain", "light": True}),
    "bitmoji ResNet": ("resnet_generator", {"ngf": 32, "n_blocks": 6, "upsample": "resize"}),
}


def image_tensor(path, size: int) -> torch.Tensor:
    image = load_image(path)
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="selfie2anime/selfie")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = load_split(args.domain, "train")
    images = [image_tensor(samples[i].path, args.size) for i in range(min(args.steps, len(samples)))]
    print(f"{args.domain}: L1 per 50-step window over {args.steps} steps")
    for name in args.generators:
        torch.manual_seed(0)
        builder, options = GENERATORS[name]
        generator = build(builder, **options)
        optimizer = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
        losses, started = [], time.perf_counter()
        for step in range(args.steps):
            target = images[step % len(images)]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                output = generator(target)
            loss = (output.float() - target).abs().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        windows = " ".join(f"{np.mean(losses[i:i + 50]):.3f}" for i in range(0, args.steps, 50))
        print(f"{name:22s} {windows}   {(time.perf_counter() - started) / args.steps:.2f} s/step", flush=True)


if __name__ == "__main__":
    main()
