"""[twingan] Fit a TwinGAN file's per-domain mean codes (``code_means``) on the training images of each domain.

    python scripts/fit_twingan_code_means.py src/toonbridge/weights/twingan/network.safetensors \
        --config configs/twingan-judge.yaml [--limit 2000]

Training keeps these means as running averages (train/twingan.py); files trained before it did hold zeros, which
leave the codes uncentred. This reads up to ``--limit`` training images of every domain in the config (evenly
spaced through each domain's list, so every source set of a domain is drawn from), averages their codes, and
rewrites the file in place (atomically, same metadata and precision).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open

from toonbridge.data.unpaired import image_to_tensor
from toonbridge.imageio import load_image, resize_image
from toonbridge.models import load_network, save_network
from toonbridge.train.config import MultiDomainData, load_config, section


@torch.no_grad()
def mean_code(network, domain_index: int, paths: list[Path], size: int) -> torch.Tensor:
    total, count = None, 0
    for start in range(0, len(paths), 64):
        x = torch.stack([image_to_tensor(resize_image(load_image(p), size)) for p in paths[start:start + 64]])
        code = network.encode(x, torch.full((len(x),), domain_index, dtype=torch.long))[0].sum(0)
        total, count = (code if total is None else total + code), count + len(x)
        print(f"  {count}/{len(paths)}", end="\r", flush=True)
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="the training config whose data the network learnt")
    parser.add_argument("--limit", type=int, default=2000, help="images per domain")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with safe_open(str(args.network), framework="pt") as handle:
        metadata = handle.metadata()
        half = any(handle.get_tensor(key).dtype == torch.float16 for key in handle.keys())
    network = load_network(args.network)
    data = section(MultiDomainData, load_config(args.config).data, "data")
    for name in data.names:
        samples = data.load(name).samples
        step = max(1, len(samples) // args.limit)
        paths = [sample.path for sample in samples[::step][:args.limit]]
        network.code_means[network.domain_index(name)] = mean_code(network, network.domain_index(name), paths, data.size)
        print(f"\r{name}: mean code of {len(paths)} training images, norm {network.code_means[network.domain_index(name)].norm():.2f}")
    save_network(network, metadata["network"], json.loads(metadata["options"]), args.network, json.loads(metadata.get("info", "{}")), half=half)
    print(f"wrote {args.network}")


if __name__ == "__main__":
    main()
