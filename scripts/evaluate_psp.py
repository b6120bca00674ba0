"""Measure a pSp style ([psp]): cartoon → real on the validation Bitmoji and anime faces, inversion of held-out
photos, and the diversity of its variants.

    python scripts/evaluate_psp.py [--style psp | --style FOLDER] [--limit 300] [--variants 50] [--json out.json]
                                   [--refine STEPS] [--only cartoons inversion variants]

- **Cartoon → real**: each validation cartoon goes through the whole-image path (`realize` without `--aligned`: the
  Bitmoji landmark regressors align a Bitmoji to the photo template; ``STYLE-anime`` frames an anime face as the
  `anime` style does and moves it to a photo's framing), and the aligned result is compared, by KID×100 at
  128 px, with the generator's held-out photos (the same fixed 1,000 as `evaluate_generator.py`). In the same run
  the `bitmoji` and `anime` styles realize the same cartoons (their own aligned path), for comparison.
- **Gender kept** (Bitmoji): our cartoon gender classifier on the input, our photo classifier on the output.
- **Hair colour kept** (Bitmoji): the colour named from the band above the forehead (``faces.hair``) of the aligned
  input crop and of the output, both on the photo template, next to chance.
- **Inversion**: held-out photos that are not among the KID reference, realized as aligned crops; identity kept
  is dlib's same-person decision (descriptor distance < 0.6, by our network, which equals dlib's and is also the
  identity loss the encoder trained with: this flatters the figure).
- **Variants**: for the first ``--variants`` Bitmoji, 4 variants each (seed 0): the mean pairwise perceptual
  distance between variants (our face network's LPIPS-like distance) and the share of variant pairs dlib would call
  the same person.
- ``--refine STEPS`` measures the hybrid inversion: each encoding finished by that many optimisation steps
  (``load(..., refine_steps=)``; L2 and perceptual terms only, no identity term).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from toonbridge.api import load
from toonbridge.data import image_to_tensor, load_split
from toonbridge.eval.attributes import classify
from toonbridge.eval.distribution import kid
from toonbridge.eval.identity import identity_distances, summarise_identity
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.faces.hair import hair_colour_of
from toonbridge.imageio import load_image, resize_image
from toonbridge.losses.face_features import face_perceptual_loss
from toonbridge.models import load_network
from toonbridge.train import load_config
from toonbridge.train.config import section
from toonbridge.train.stylegan import FaceImagesData

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIERS = ROOT / "src" / "toonbridge" / "weights" / "classifiers"
SIZE = 128


def held_out_photos(reference: int) -> tuple[list[Path], list[Path]]:
    """(the KID reference: a fixed random pick of the generator's held-out photos, the rest)."""
    data = section(FaceImagesData, load_config(ROOT / "configs" / "stylegan-128.yaml").data, "data")
    held_out = data.load("val")
    chosen = set(np.random.default_rng(0).choice(len(held_out), min(reference, len(held_out)), replace=False).tolist())
    paths = [sample.path for sample in held_out]
    return [paths[i] for i in sorted(chosen)], [p for i, p in enumerate(paths) if i not in chosen]


def realize_whole(style, cartoons: list[np.ndarray], inputs: list | None = None) -> list[np.ndarray]:
    """The aligned result of each cartoon; ``inputs`` (a list) also gets each aligned input crop."""
    outputs = []
    for image in cartoons:
        face = style.translate(image, "realize").faces[0]
        outputs.append(resize_image(face.output, SIZE))
        if inputs is not None:
            inputs.append(resize_image(face.aligned, SIZE))
    return outputs


def hair_kept(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> dict:
    """The share of faces whose hair colour (faces.hair: the band above the forehead, named by fixed rules) is the
    same in and out, over the faces named on both sides, next to chance (the same label frequencies, drawn apart)."""
    pairs = [(a, b) for a, b in zip(map(hair_colour_of, inputs), map(hair_colour_of, outputs)) if a and b]
    if not pairs:
        return {"hair_kept": None}
    before, after = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(before[c] * after[c] for c in before) / len(pairs) ** 2
    return {"hair_kept": round(float(np.mean([a == b for a, b in pairs])), 3), "hair_chance": round(chance, 3),
            "hair_named": len(pairs), "hair_in": dict(before), "hair_out": dict(after)}


def kid100(outputs: list[np.ndarray], reference: np.ndarray) -> dict:
    score = kid(features(outputs), reference)
    return {"kid": round(score.mean, 2), "kid_std": round(score.std, 2), "n": len(outputs)}


@torch.no_grad()
def variant_figures(style, cartoons: list[np.ndarray], count: int = 4) -> dict:
    """Variants of each cartoon's aligned crop: their mean pairwise perceptual distance and same-person share."""
    distances, same = [], []
    pairs = list(itertools.combinations(range(count), 2))
    for image in cartoons:
        crop = style.translate(image, "realize").faces[0].aligned
        drawn = [resize_image(v, SIZE) for v in style.variants(crop, count, seed=0, aligned=True)]
        tensors = torch.stack([image_to_tensor(v) for v in drawn])
        distances += [float(face_perceptual_loss(tensors[a:a + 1], tensors[b:b + 1])) for a, b in pairs]
        judged = identity_distances([drawn[a] for a, _ in pairs], [drawn[b] for _, b in pairs])
        same += [d < 0.6 for d in judged if d is not None]
    return {"mean_pairwise_perceptual": round(float(np.mean(distances)), 3),
            "same_person_pairs": round(float(np.mean(same)), 3) if same else None, "pairs_judged": len(same),
            "cartoons": len(cartoons)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="psp")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--reference", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=50)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--refine", type=int, default=0, help="optimisation steps after the encoder")
    parser.add_argument("--only", nargs="+", choices=["cartoons", "inversion", "variants"])
    args = parser.parse_args()
    wanted = set(args.only or ["cartoons", "inversion", "variants"])
    psp = load(args.style, backend="torch", refine_steps=args.refine)
    reference_paths, other_photos = held_out_photos(args.reference)
    reference = cached_path_features(reference_paths, resize_to=SIZE)
    result: dict = {"style": str(args.style), "reference": len(reference_paths), "refine_steps": args.refine}

    bitmoji = [load_image(s.path) for s in load_split("celeba2bitmoji/cartoon", "val").samples[:args.limit]]
    anime = [load_image(s.path) for s in load_split("selfie2anime/anime", "val").samples[:args.limit]]
    print(f"{len(bitmoji)} Bitmoji, {len(anime)} anime faces, {len(reference_paths)} reference photos", flush=True)
    if "cartoons" in wanted:
        crops: list[np.ndarray] = []
        outputs = realize_whole(psp, bitmoji, crops)
        result["bitmoji_to_photo"] = kid100(outputs, reference) | hair_kept(crops, outputs)
        judge_cartoon = load_network(CLASSIFIERS / "gender_cartoon.safetensors")
        judge_photo = load_network(CLASSIFIERS / "gender_photo.safetensors")
        before = classify(judge_cartoon, [resize_image(image, SIZE) for image in bitmoji])
        after = classify(judge_photo, outputs)
        result["bitmoji_to_photo"]["gender_kept"] = round(float(np.mean([a == b for a, b in zip(before, after)])), 3)
        result["bitmoji_to_photo"]["men_in"] = before.count("male")
        result["bitmoji_to_photo"]["men_kept"] = round(float(np.mean([b == "male" for a, b in zip(before, after) if a == "male"])), 3) if "male" in before else None
        print(json.dumps(result["bitmoji_to_photo"]), flush=True)
        result["bitmoji_style_same_run"] = kid100(load("bitmoji", backend="torch").translate_aligned([resize_image(i, SIZE) for i in bitmoji], "realize"), reference)
        print(json.dumps(result["bitmoji_style_same_run"]), flush=True)

        psp_anime = load(f"{args.style}-anime", backend="torch", refine_steps=args.refine)  # the same encoder; anime faces found and framed as such
        anime_outputs = realize_whole(psp_anime, anime)
        result["anime_to_photo"] = kid100(anime_outputs, reference)
        result["anime_to_photo"]["women_out"] = round(float(np.mean([c == "female" for c in classify(judge_photo, anime_outputs)])), 3)
        result["anime_style_same_run"] = kid100([resize_image(o, SIZE) for o in load("anime", backend="torch").translate_aligned(anime, "realize")], reference)
        print(json.dumps(result["anime_to_photo"]), json.dumps(result["anime_style_same_run"]), flush=True)

    if "inversion" in wanted:
        photos = [resize_image(load_image(p), SIZE) for p in other_photos[:args.limit]]
        inverted = psp.translate_aligned(photos, "realize")
        identity = summarise_identity(identity_distances(photos, inverted))
        result["inversion"] = kid100(inverted, reference) | {"same_person": round(identity.same_person_share, 3) if identity.same_person_share is not None else None,
                                                              "found": round(identity.found_share, 3),
                                                              "mean_distance": round(identity.mean_distance, 3)}
        print(json.dumps(result["inversion"]), flush=True)
    if args.variants and "variants" in wanted:
        result["variants"] = variant_figures(psp, bitmoji[:args.variants])
        print(json.dumps(result["variants"]), flush=True)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
