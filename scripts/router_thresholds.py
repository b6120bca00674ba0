"""How the elderly router's threshold trades found elderly faces against middle-aged ones sent to the elderly branch.

    python scripts/router_thresholds.py [--thresholds 0.5 0.4 0.3 0.2]

Prints, per threshold, the share of faces whose `elderly` probability reaches it: the 21 HELEN elderly faces of
the few-shot table (normal framing), the UTKFace validation groups (aligned to the bitmoji template) and the CelebA
validation photos (docs/models.md, "Router accuracy").
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from fewshot_table import helen_elderly
from toonbridge.data import image_to_tensor, load_split
from toonbridge.data.aligned import aligned_domain
from toonbridge.imageio import load_image, resize_image
from toonbridge.models import load_network
from toonbridge.style_files import find_style


@torch.no_grad()
def elderly_probability(classifier, domain, batch_size: int = 64) -> np.ndarray:
    found = []
    for start in range(0, len(domain.samples), batch_size):
        x = torch.stack([image_to_tensor(resize_image(load_image(s.path), 128)) for s in domain.samples[start:start + batch_size]])
        found += torch.softmax(classifier(x).float(), dim=1)[:, classifier.classes.index("elderly")].tolist()
    return np.array(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.4, 0.3, 0.2])
    args = parser.parse_args()
    classifier = load_network(find_style("bitmoji").folder.parent / "classifiers" / "elderly_photo.safetensors")
    utkface = aligned_domain(load_split("utkface", "val"), "bitmoji")
    groups = np.array([s.labels["group"] for s in utkface.samples])
    utk = elderly_probability(classifier, utkface)
    sets = {"HELEN elderly": elderly_probability(classifier, helen_elderly()), "UTKFace elderly": utk[groups == "elderly"],
            "UTKFace 36-59": utk[groups == "middle"], "other UTKFace": utk[groups != "elderly"],
            "CelebA validation": elderly_probability(classifier, load_split("celeba2bitmoji/photo", "val"))}
    print("| threshold | " + " | ".join(sets) + " |\n|---:|" + "---:|" * len(sets))
    for threshold in args.thresholds:
        print(f"| {threshold} | " + " | ".join(f"{100 * np.mean(p >= threshold):.0f} %" for p in sets.values()) + " |")


if __name__ == "__main__":
    main()
