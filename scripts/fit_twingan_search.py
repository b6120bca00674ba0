"""[twingan] Fit a TwinGAN file's lookalike search on the training images of each domain: the per-domain mean codes
(``code_means``) and the metric's attribute axes (``search_axes``, ``search_stretch``).

    python scripts/fit_twingan_search.py src/toonbridge/weights/twingan/network.safetensors \
        --config configs/twingan-hair.yaml [--limit 3000] [--gender-stretch 16] [--hair-stretch 8]

Reads up to ``--limit`` training images of every domain in the config (evenly spaced through each domain's list, so
every source set of a domain is drawn from) and encodes each once:

- **mean codes**: each domain's average code. Training keeps them as running averages; files trained before it
  held zeros, which leave the codes uncentred (docs/models.md: centring took the top-5 gender agreement 68 → 78 %).
- **axes**: on the centred, unit-length codes of all domains together, a ridge regression (λ ``--ridge``) to the
  gender label (±1, images that have one: CelebA, UTKFace, Bitmoji's noisy labels) and to each hair colour
  against the rest (images whose colour :mod:`toonbridge.faces.hair` names), made orthonormal, gender first. Fitted
  on images of every domain at once, so each axis reads the attribute the same way in all of them. The search
  multiplies each code's component along gender by ``--gender-stretch`` and along each colour by
  ``--hair-stretch``: the defaults were chosen on the training images (axes from half of them, the search scored on
  the other half), never on the validation split the figures are measured on.

The file is rewritten in place (atomically, same metadata and precision); every other tensor is unchanged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open

from toonbridge.data.unpaired import image_to_tensor
from toonbridge.faces.hair import hair_colour_of
from toonbridge.imageio import load_image, resize_image
from toonbridge.models import load_network, save_network
from toonbridge.train.config import MultiDomainData, load_config, section

MIN_LABELLED = 20  # an attribute value seen less often than this gets no axis (zeros: no stretch)


@torch.no_grad()
def encode_domain(network, domain_index: int, samples, size: int) -> tuple[torch.Tensor, list[str | None], list[str | None]]:
    """Codes (N×D, uncentred), gender labels and hair colours of ``samples``."""
    codes, genders, hairs = [], [], []
    for start in range(0, len(samples), 64):
        chunk = samples[start:start + 64]
        images = [resize_image(load_image(sample.path), size) for sample in chunk]
        x = torch.stack([image_to_tensor(image) for image in images])
        codes.append(network.encode(x, torch.full((len(x),), domain_index, dtype=torch.long))[0].flatten(1))
        genders += [sample.labels.get("gender") if sample.labels.get("gender") in ("male", "female") else None for sample in chunk]
        hairs += [hair_colour_of(image) if sample.labels.get("hair") != "unknown" else None for sample, image in zip(chunk, images)]
        print(f"  {start + len(chunk)}/{len(samples)}", end="\r", flush=True)
    return torch.cat(codes), genders, hairs


def ridge_direction(features: torch.Tensor, gram: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """argmin_w |features w − targets|² + ridge |w|², in its dual form (fewer images than dimensions); ``gram`` is
    features @ features.T."""
    return features.T @ torch.linalg.solve(gram + ridge * torch.eye(len(features), dtype=features.dtype), targets)


def fit_axes(units: torch.Tensor, genders: list, hairs: list, colours: list[str], ridge: float) -> torch.Tensor:
    """Orthonormal rows: gender, then one per colour (zero where too few images carry the label)."""
    units = units.double()
    gram = units @ units.T  # once: each attribute's images are a subset
    columns = []
    for values, wanted in [(genders, "male")] + [(hairs, colour) for colour in colours]:
        known = torch.tensor([value is not None for value in values])
        targets = torch.tensor([1.0 if value == wanted else -1.0 for value in values], dtype=torch.float64)
        enough = int(known.sum()) and min(int((targets[known] > 0).sum()), int((targets[known] < 0).sum())) >= MIN_LABELLED
        subset = known.nonzero().view(-1)
        columns.append(ridge_direction(units[subset], gram[subset][:, subset], targets[subset], ridge) if enough else torch.zeros(units.shape[1], dtype=torch.float64))
    directions = torch.stack(columns, dim=1)
    used = directions.norm(dim=0) > 0
    axes = torch.zeros_like(directions)
    axes[:, used] = torch.linalg.qr(directions[:, used]).Q  # Gram-Schmidt in order: gender keeps its own direction
    return axes.T.float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="the training config whose data the network learnt")
    parser.add_argument("--limit", type=int, default=3000, help="images per domain")
    parser.add_argument("--ridge", type=float, default=1.0)
    parser.add_argument("--gender-stretch", type=float, default=16.0)
    parser.add_argument("--hair-stretch", type=float, default=8.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with safe_open(str(args.network), framework="pt") as handle:
        metadata = handle.metadata()
        half = any(handle.get_tensor(key).dtype == torch.float16 for key in handle.keys())
    network = load_network(args.network)
    data = section(MultiDomainData, load_config(args.config).data, "data")
    units, genders, hairs = [], [], []
    for name in data.names:
        samples = data.load(name).samples
        samples = samples[::max(1, len(samples) // args.limit)][:args.limit]
        index = network.domain_index(name)
        codes, domain_genders, domain_hairs = encode_domain(network, index, samples, data.size)
        network.code_means[index] = codes.mean(0).view_as(network.code_means[index])
        units.append(torch.nn.functional.normalize(codes - codes.mean(0), dim=1))
        genders += domain_genders
        hairs += domain_hairs
        print(f"\r{name}: {len(samples)} training images, mean code norm {network.code_means[index].norm():.2f}, "
              f"{sum(g is not None for g in domain_genders)} with gender, {sum(h is not None for h in domain_hairs)} with a named hair colour")
    network.search_axes.copy_(fit_axes(torch.cat(units), genders, hairs, network.hair_colours, args.ridge))
    network.search_stretch.copy_(torch.tensor([args.gender_stretch] + [args.hair_stretch] * len(network.hair_colours)))
    save_network(network, metadata["network"], json.loads(metadata["options"]), args.network, json.loads(metadata.get("info", "{}")), half=half)
    print(f"wrote {args.network}: {int((network.search_axes.norm(dim=1) > 0).sum())} search axes")


if __name__ == "__main__":
    main()
