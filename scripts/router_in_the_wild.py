"""How often `--group auto` of bitmoji-groups routes a face to the right branch, on photos people take rather than
CelebA studio portraits: the validation selfies of selfie2anime (phone selfies, all of women, mostly young) and the
UTKFace validation photos (faces that fill the frame, every age, with gender and age labels).

    python scripts/router_in_the_wild.py [--style bitmoji-groups]

The right branch: `elderly` for people of 60 and over, else `men` or `women` by the label. Faces are detected and
aligned to the style's template once (cached, as in training). Prints JSON: accuracy per set and per group.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from toonbridge.api import load
from toonbridge.data import load_split
from toonbridge.data.aligned import aligned_domain
from toonbridge.imageio import load_image


def expected_branch(labels: dict) -> str:
    if "age" in labels and int(labels["age"]) >= 60:
        return "elderly"
    return {"male": "men", "female": "women"}[labels.get("gender", "female")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="bitmoji-groups")
    args = parser.parse_args()
    style = load(args.style, backend="torch")
    result = {}
    for name in ("selfie2anime/selfie", "utkface/faces"):
        domain = aligned_domain(load_split(name, "val"), style.info.template)
        routed = style.route([load_image(sample.path) for sample in domain.samples], "cartoonize", "auto")
        hits, counts = defaultdict(int), defaultdict(int)
        for sample, branch in zip(domain.samples, routed):
            wanted = expected_branch(sample.labels)
            key = f"{sample.labels.get('group', 'selfie')}/{wanted}"
            counts[key] += 1
            hits[key] += branch == wanted
        total = sum(counts.values())
        result[name] = {"faces": total, "accuracy": round(sum(hits.values()) / total, 3),
                        "by_group": {key: {"faces": counts[key], "accuracy": round(hits[key] / counts[key], 3)} for key in sorted(counts)}}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
