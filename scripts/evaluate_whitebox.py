"""Measure whitebox styles ([whitebox]) next to the published White-box generator and "do nothing".

    python scripts/evaluate_whitebox.py [--styles whitebox-bitmoji whitebox-avataaars | FOLDER ...]
        [--runs runs/whitebox-ablation/* --base-style whitebox-bitmoji]
        [--limit 300] [--men 200] [--peer ../shared/peers/whitebox/whitebox_cartoon_gan_dr.tflite] [--json out.json]

On the first ``--limit`` validation photos of celeba2bitmoji/photo (aligned 128-px faces with 5 labelled points):
- **identity kept**: dlib's same-person decision (descriptor distance < 0.6) between photo and cartoon, over all
  faces (a cartoon in which dlib finds no face counts as not kept);
- **landmark NME**: the bitmoji photo landmark regressor on the cartoon against the photo's labelled 5 points;
- **KID×100** of the cartoons against each cartoon set's validation faces at 128 px (anime and avataaars reframed
  to the bitmoji template, the anime faces from where they really sit, ``anime-cartoon``: since 2026-12-06; before,
  from the selfies' template, which left them three quarters of a photo face's size), next to "do nothing" (the
  photos themselves);
- **men kept**: UTKFace young and middle-aged men (aligned), judged by the gender probe on our face network's
  descriptor (``classifiers/gender_probe``, the bitmoji-groups router: it calls 97 % of UTKFace men 18-35 men,
  where the small CNN photo classifier, trained on CelebA crops, calls 27.5 % of these photos male), also by that
  CNN, and for Bitmoji-set styles by our Bitmoji gender classifier. ``--men-only`` measures these rows alone.
The published generator (TFLite, dynamic-range quantised; read from ../shared/peers for comparison only) has a fixed
512×512 input: it runs on the same faces enlarged to 512 px and its output is shrunk back to 128. Speed is measured
by ``benchmarks/whitebox_speed.py`` (docs/benchmarks.md). ``--runs`` measures training runs' last checkpoints
(e.g. the ablation, ``configs/whitebox-ablation*.yaml``), each exported to a scratch style with ``--base-style``'s
settings, after the ``--styles``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from toonbridge.api import load
from toonbridge.data import image_to_tensor, load_split
from toonbridge.data.aligned import aligned_domain, load_aligned
from toonbridge.eval.attributes import classify
from toonbridge.eval.distribution import kid
from toonbridge.eval.identity import SAME_PERSON_DISTANCE, identity_distances
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import load_image, resize_image
from toonbridge.losses import normalised_mean_error
from toonbridge.models import load_network
from toonbridge.train.export import style_from_run

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "toonbridge" / "weights"
PEER = ROOT.parent / "shared" / "peers" / "whitebox" / "whitebox_cartoon_gan_dr.tflite"
SIZE = 128
CARTOON_SETS = {"bitmoji": "celeba2bitmoji/cartoon", "anime": "selfie2anime/anime", "avataaars": "dicebear/avataaars"}
# Where a set's faces really sit when not on its registered template (configs/whitebox-anime-framed.yaml says why).
FRAMED = {"anime": "anime-cartoon"}


class Peer:
    """The published White-box generator through LiteRT. Its graph is fixed at 512×512 (XNNPack cannot reshape
    it), so faces are enlarged to 512 px and the result shrunk back, and a 1024-px photo runs as four 512 tiles."""

    SIDE = 512

    def __init__(self, path: Path, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()

    def run(self, image: np.ndarray) -> np.ndarray:
        side = self.SIDE
        if image.shape[:2] != (side, side):
            tiles = [[self.run(image[y:y + side, x:x + side]) for x in range(0, image.shape[1], side)]
                     for y in range(0, image.shape[0], side)]
            return np.concatenate([np.concatenate(row, axis=1) for row in tiles], axis=0)
        self.interpreter.set_tensor(self.interpreter.get_input_details()[0]["index"], (image[None].astype(np.float32) / 127.5 - 1))
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])[0]
        return np.clip((out + 1) * 127.5, 0, 255).round().astype(np.uint8)

    def faces(self, photos: list[np.ndarray]) -> list[np.ndarray]:
        return [resize_image(self.run(resize_image(photo, self.SIDE)), SIZE) for photo in photos]


def cartoon_references(limit: int) -> dict[str, np.ndarray]:
    found = {}
    for name, spec in CARTOON_SETS.items():
        domain = load_aligned(spec, "val", "bitmoji", framed=FRAMED.get(name))
        found[name] = cached_path_features([s.path for s in domain.samples[:limit]], resize_to=SIZE)
    return found


def scores(photos, points, outputs, references, regressor) -> dict:
    distances = identity_distances(photos, outputs)
    kept = [d is not None and d < SAME_PERSON_DISTANCE for d in distances]
    with torch.no_grad():
        found = regressor.points(torch.stack([image_to_tensor(o) for o in outputs])).float()
    nme = normalised_mean_error(found, torch.as_tensor(np.stack(points), dtype=torch.float32))
    out_features = features(outputs)
    result = {"identity_kept": round(float(np.mean(kept)), 3), "no_face": sum(d is None for d in distances),
              "nme": round(float(nme.mean()), 4)}
    for name, reference in references.items():
        score = kid(out_features, reference)
        result[f"kid_{name}"] = round(score.mean, 2)
    return result


def men_kept(outputs: list[np.ndarray], classifier) -> float:
    return round(float(np.mean([label == "male" for label in classify(classifier, outputs)])), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="*", default=["whitebox-bitmoji", "whitebox-avataaars"])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--men", type=int, default=200)
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--styles-only", action="store_true", help="leave out the do-nothing and published rows")
    parser.add_argument("--men-only", action="store_true", help="only the men-kept figures")
    parser.add_argument("--runs", nargs="+", type=Path, default=[], help="training runs to measure too (their last checkpoints)")
    parser.add_argument("--base-style", default="whitebox-bitmoji", help="the settings a run's scratch style takes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        names = {}
        for i, run in enumerate(args.runs):
            names[str(style_from_run(run, args.base_style, Path(scratch) / f"run{i}"))] = str(run)
        args.styles = list(args.styles) + list(names)
        measure(args, names)


def measure(args: argparse.Namespace, names: dict[str, str]) -> None:
    """The figures of every row; ``names`` labels scratch styles by the run they came from."""
    photo_domain = load_split("celeba2bitmoji/photo", "val")
    samples = photo_domain.samples[:args.limit]
    photos = [load_image(s.path) for s in samples]
    points = [s.landmarks5 for s in samples]
    men_domain = aligned_domain(load_split("utkface/faces", "all", ["gender=male", "group=young,middle"]), "bitmoji")
    men = [load_image(s.path) for s in men_domain.samples[:args.men]]
    references = cartoon_references(args.limit)
    regressor = load_network(WEIGHTS / "bitmoji" / "landmarks_photo.safetensors")
    photo_gender = load_network(WEIGHTS / "classifiers" / "gender_photo.safetensors")
    probe = load_network(WEIGHTS / "classifiers" / "gender_probe.safetensors")
    cartoon_gender = load_network(WEIGHTS / "classifiers" / "gender_cartoon.safetensors")
    print(f"{len(photos)} photos, {len(men)} UTKFace men", flush=True)
    if args.men_only:
        judges = {"probe": probe, "photo_cnn": photo_gender}
        rows = {"do nothing": men}
        if args.peer.is_file():
            rows["published White-box (TFLite)"] = Peer(args.peer).faces(men)
        for name in args.styles:
            rows[names.get(str(name), str(name))] = load(name, backend="torch").translate_aligned(men, "cartoonize")
        found = {name: {f"men_kept_{judge}": men_kept(images, network) for judge, network in judges.items()} for name, images in rows.items()}
        for name, row in found.items():
            print(name, row, flush=True)
        if args.json:
            args.json.write_text(json.dumps(found, indent=1))
        return

    results = {}
    if not args.styles_only:
        results["do nothing"] = {**scores(photos, points, photos, references, regressor), "men_kept_photo_classifier": men_kept(men, photo_gender)}
        print("do nothing", results["do nothing"], flush=True)
    if args.peer.is_file() and not args.styles_only:
        peer = Peer(args.peer)
        row = scores(photos, points, peer.faces(photos), references, regressor)
        row["men_kept_photo_classifier"] = men_kept(peer.faces(men), photo_gender)
        results["published White-box (TFLite)"] = row
        print("peer", row, flush=True)
    for name in args.styles:
        style = load(name, backend="torch")
        outputs = style.translate_aligned(photos, "cartoonize")
        row = scores(photos, points, outputs, references, regressor)
        men_cartoons = style.translate_aligned(men, "cartoonize")
        row["men_kept_photo_classifier"] = men_kept(men_cartoons, photo_gender)
        if "bitmoji" in (args.base_style if str(name) in names else str(name)):
            row["men_kept_cartoon_classifier"] = men_kept(men_cartoons, cartoon_gender)
        results[names.get(str(name), str(name))] = row
        print(names.get(str(name), name), row, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
