"""The few-shot group transfer table: the paper's set-ups on held-out photos of each group (docs/fewshot.md).

    python scripts/fewshot_table.py [--limit 300] [--json docs/fewshot.json] [--grid docs/fewshot_grid.png]

Set-ups, all cartoonizing (photo → Bitmoji), all 75 minutes of base training on one CPU thread:

1. base      — runs/bitmoji-women: trained on women only;
2. mixed     — runs/bitmoji-shipped-step-4300: one model on all the data (the same budget);
3. fine-tune — runs/fewshot-{men,elderly}-finetune: the whole base fine-tuned on a group's 20 cartoons;
4. branches  — the bitmoji-groups style (selective backprop), each face through its own group's branch, and
   the same with the branch picked by the style's classifiers (``auto``).

Held-out sets: CelebA validation photos of women and of men, UTKFace validation photos of the elderly (aligned to
the bitmoji template; tight chips, a third of each crop is padding), and 21 elderly faces in HELEN photos (normal
framing, cluttered backgrounds; never trained on). Measures per set: KID×100 against that group's cartoons (women:
validation Bitmoji labelled female; men and elderly: their 20 few-shot Bitmoji; men also against the validation
Bitmoji labelled male), gender kept (label vs our Bitmoji gender classifier), and the share of grey-haired cartoons
(:func:`toonbridge.eval.attributes.grey_hair_fraction` ≥ 0.3).
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toonbridge.api import Style, load
from toonbridge.data import load_domain, load_split
from toonbridge.data.aligned import aligned_domain
from toonbridge.data.domains import Domain, default_data_root
from toonbridge.data.manifest import Sample
from toonbridge.eval.attributes import GREY_HAIR_THRESHOLD, classify, grey_hair_fraction
from toonbridge.eval.distribution import kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import load_image, resize_image, write_atomic
from toonbridge.models import load_network
from toonbridge.style_files import find_style, read_style
from toonbridge.train.export import style_from_run

SIZE = 128
# Elderly faces framed like users' photos: the HELEN faces (train and test photos; no model here trains on HELEN)
# that the elderly router scored highest, kept when they looked 60 or older by eye (21 of the top 48 + 24; the
# largest face of each photo). Chosen with the router, so routing figures on this set flatter it.
HELEN_ELDERLY = [f"helen/images/{name}.webp" for name in (
    "1845765682", "230131544", "1987287630", "1844911065", "2246883372", "2102458056", "1844930191", "2293424058",
    "1379651992", "110520830", "2201151487", "2061993362")] + [f"helen_test/images/{name}.webp" for name in (
    "3247339235", "3034068134", "2984236559", "3039925276", "3059898359", "3213087169", "3061668030",
    "3038704879", "3219821966")]
Translate = Callable[[list[np.ndarray]], list[np.ndarray]]


def helen_elderly() -> Domain:
    root = default_data_root()
    return aligned_domain(Domain([Sample(root / path, Path(path).stem, {}, None) for path in HELEN_ELDERLY], "helen-elderly"), "bitmoji")


SET_NAMES = ("women", "men", "elderly", "elderly (HELEN)")


def held_out_sets(limit: int, names: list[str] | None = None) -> dict[str, dict]:
    """Each group's validation photos (images and gender labels) and the cartoons to compare with."""
    fewshot = load_domain("celeba2bitmoji/fewshot")
    sets = {
        "women": (load_split("celeba2bitmoji/photo", "val", ["gender=female"]),
                  {"val Bitmoji (female)": load_split("celeba2bitmoji/cartoon", "val", ["gender=female"])}),
        "men": (load_split("celeba2bitmoji/photo", "val", ["gender=male"]),
                {"20 few-shot": fewshot.where("group=men"), "val Bitmoji (male)": load_split("celeba2bitmoji/cartoon", "val", ["gender=male"])}),
        "elderly": (aligned_domain(load_split("utkface", "val", ["group=elderly"]), "bitmoji"),
                    {"20 few-shot": fewshot.where("group=elderly")}),
        "elderly (HELEN)": (helen_elderly(), {"20 few-shot": fewshot.where("group=elderly")}),
    }
    result = {}
    for name, (photos, references) in sets.items():
        if names and name not in names:
            continue
        samples = photos.samples[:limit]
        result[name] = {"images": [resize_image(load_image(s.path), SIZE) for s in samples],
                        "genders": [s.labels.get("gender") for s in samples],
                        "references": {label: [s.path for s in domain.samples] for label, domain in references.items()}}
    return result


def setups(args, scratch: Path, grouped: Style) -> dict[str, Translate]:
    def from_run(run: Path, label: str) -> Translate:
        @functools.cache  # exported on first use, so that set-ups left out by --setups cost nothing
        def style() -> Style:
            return Style(read_style(style_from_run(run, "bitmoji", scratch / label)), backend="torch")

        return lambda images: style().translate_aligned(images, "cartoonize")

    chosen = {
        "(1) base (women only)": from_run(args.base, "base"),
        "(2) mixed (all data)": from_run(args.mixed, "mixed"),
        "(3) fine-tune all on men": from_run(args.finetune_men, "finetune-men"),
        "(3) fine-tune all on elderly": from_run(args.finetune_elderly, "finetune-elderly"),
        "(4) branches, auto": lambda images: grouped.translate_aligned(images, "cartoonize", group="auto"),
    }
    for group in grouped.groups:
        chosen[f"(4) branch {group}"] = lambda images, group=group: grouped.translate_aligned(images, "cartoonize", group=group)
    return chosen


def measure(outputs: list[np.ndarray], data: dict, classifier) -> dict:
    found = features(outputs)
    row = {f"KID vs {label}": kid(found, cached_path_features(paths, resize_to=SIZE)).mean for label, paths in data["references"].items()}
    answers = classify(classifier, outputs)
    known = [(label, answer) for label, answer in zip(data["genders"], answers) if label is not None]
    if known:
        row["gender kept"] = float(np.mean([label == answer for label, answer in known]))
    row["grey-haired"] = float(np.mean([grey_hair_fraction(o) >= GREY_HAIR_THRESHOLD for o in outputs]))
    return row


def routing_accuracy(style: Style, sets: dict[str, dict]) -> dict[str, dict[str, float]]:
    shares = {}
    for name, data in sets.items():
        routed = style.route(data["images"], "cartoonize")
        shares[name] = {group: routed.count(group) / len(routed) for group in style.groups}
    return shares


def grid(sets: dict[str, dict], outputs: dict[str, dict[str, list[np.ndarray]]], columns: list[str], per_set: int) -> np.ndarray:
    rows = []
    for name, data in sets.items():
        for index in range(min(per_set, len(data["images"]))):
            rows.append(np.concatenate([data["images"][index], *(outputs[column][name][index] for column in columns)], axis=1))
    return np.concatenate(rows, axis=0)


def markdown(table: dict[str, dict[str, dict]], counts: dict[str, int]) -> str:
    keys = {name: list(dict.fromkeys(key for row in table.values() for key in row.get(name, {}))) for name in counts}
    columns = [(name, key) for name in counts for key in keys[name]
               if not (key == "grey-haired" and not name.startswith("elderly"))
               and not (key == "gender kept" and name.startswith("elderly"))]
    lines = ["| set-up | " + " | ".join(f"{name}: {key}" for name, key in columns) + " |",
             "|---|" + "---:|" * len(columns)]

    def cell(value: float | None, key: str) -> str:
        if value is None:
            return "–"  # not measured (yet): a partial run
        return f"{100 * value:.0f} %" if key in ("gender kept", "grey-haired") else f"{value:.2f}"

    for setup, row in table.items():
        lines.append(f"| {setup} | " + " | ".join(cell(row.get(name, {}).get(key), key) for name, key in columns) + " |")
    held_out = ", ".join(f"{name} {count}" for name, count in counts.items())
    return "\n".join(lines) + f"\n\nHeld-out photos: {held_out}. KID×100; 100 subsets of min(100, n).\n"


def merged(path: Path, found: dict) -> dict:
    """``found`` over what ``path`` already holds, set by set, so a run of some set-ups or sets updates only those."""
    if not path.is_file():
        return found
    result = json.loads(path.read_text())
    for setup, row in found["table"].items():
        result["table"].setdefault(setup, {}).update(row)
    for key in ("routing", "counts"):
        result.setdefault(key, {}).update(found[key])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=300, help="held-out photos per group")
    parser.add_argument("--base", type=Path, default=Path("runs/bitmoji-women"))
    parser.add_argument("--mixed", type=Path, default=Path("runs/bitmoji-shipped-step-4300"))
    parser.add_argument("--finetune-men", type=Path, default=Path("runs/fewshot-men-finetune"))
    parser.add_argument("--finetune-elderly", type=Path, default=Path("runs/fewshot-elderly-finetune"))
    parser.add_argument("--groups-style", default="bitmoji-groups")
    parser.add_argument("--sets", nargs="+", help=f"only these held-out sets ({', '.join(SET_NAMES)})")
    parser.add_argument("--setups", nargs="+", help="only the set-ups whose names contain one of these, e.g. '(4)'")
    parser.add_argument("--json", type=Path, help="write every number here (merged into the file when it exists)")
    parser.add_argument("--grid", type=Path, help="write a PNG: input | each set-up measured (not 'auto'), 3 faces per set")
    args = parser.parse_args()

    unknown = sorted(set(args.sets or []) - set(SET_NAMES))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(SET_NAMES)}")
    sets = held_out_sets(args.limit, args.sets)
    classifier = load_network(find_style("bitmoji").folder.parent / "classifiers" / "gender_cartoon.safetensors")
    grouped = load(args.groups_style, backend="torch")  # translates set-up (4) and routes
    table = {}
    with tempfile.TemporaryDirectory() as scratch:
        translators = setups(args, Path(scratch), grouped)
        chosen = [name for name in translators if not args.setups or any(part in name for part in args.setups)]
        if not chosen:
            parser.error(f"no set-up matches {', '.join(args.setups)}; set-ups: {', '.join(translators)}")
        for setup in chosen:
            print(f"{setup} …", flush=True)
            table[setup] = {name: measure(translators[setup](data["images"]), data, classifier) for name, data in sets.items()}
        if args.grid:
            write_grid(args.grid, sets, {name: translators[name] for name in chosen})
    found = {"table": table, "routing": routing_accuracy(grouped, sets),
             "counts": {name: len(data["images"]) for name, data in sets.items()}}
    result = merged(args.json, found) if args.json else found
    print(markdown(result["table"], result["counts"]) + "\nRouting by the style's classifiers (share of each held-out set sent to each branch):\n\n"
          + "\n".join(f"- {name}: " + ", ".join(f"{group} {100 * share:.0f} %" for group, share in shares.items())
                      for name, shares in result["routing"].items()))
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1).encode()))


def write_grid(path: Path, sets: dict[str, dict], translators: dict[str, Translate], per_set: int = 3) -> None:
    from PIL import Image

    few = {name: {**data, "images": data["images"][:per_set]} for name, data in sets.items()}
    columns = [name for name in translators if name != "(4) branches, auto"]
    outputs = {column: {name: translators[column](data["images"]) for name, data in few.items()} for column in columns}
    image = Image.fromarray(grid(few, outputs, columns, per_set))
    write_atomic(path, lambda handle: image.save(handle, format="PNG", optimize=True))


if __name__ == "__main__":
    main()
