"""Measure pSp super-resolution ([psp]) against bicubic enlargement on held-out photos.

    python scripts/evaluate_psp_sr.py [--weights runs/psp-sr | FILE] [--limit 300] [--refine 20] [--sides 32 16]
                                   [--json out.json]

Held-out photos of the face generator's validation split (not its 1,000 KID reference photos, which
``evaluate_psp.py`` also uses) are shrunk to 32 and 16 px (area averaging, as a small sensor records them). Each is
enlarged back to 128 px twice: bicubic, and by the super-resolution encoder into the face generator. Against the
original 128-px photo: PSNR and SSIM (``toonbridge.eval.fidelity``), identity kept (dlib's same-person decision,
distance < 0.6; a face dlib cannot find counts as not kept); and KID×100 against the reference photos.
``--refine N`` adds a row for the encoder's face refined by N steps towards the small input (``upscale(...,
refine_steps=N)``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toonbridge.api import upscale
from toonbridge.eval.distribution import kid
from toonbridge.eval.fidelity import psnr, ssim
from toonbridge.eval.identity import SAME_PERSON_DISTANCE, identity_distances
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.imageio import load_image, resize_image

from evaluate_psp import SIZE, held_out_photos


def figures(originals: list[np.ndarray], outputs: list[np.ndarray], reference: np.ndarray) -> dict:
    distances = identity_distances(originals, outputs)
    score = kid(features(outputs), reference)
    return {"psnr": round(float(np.mean([psnr(o, r) for o, r in zip(outputs, originals)])), 2),
            "ssim": round(float(np.mean([ssim(o, r) for o, r in zip(outputs, originals)])), 3),
            "identity_kept": round(float(np.mean([d is not None and d < SAME_PERSON_DISTANCE for d in distances])), 3),
            "kid": round(score.mean, 2), "kid_std": round(score.std, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="an encoder file (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--refine", type=int, default=0, help="also measure upscale with this many refinement steps")
    parser.add_argument("--sides", type=int, nargs="+", default=[32, 16], help="the input sizes to measure, in px")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reference_paths, others = held_out_photos(1000)
    reference = cached_path_features(reference_paths, resize_to=SIZE)
    originals = [resize_image(load_image(path), SIZE) for path in others[:args.limit]]
    result: dict = {"photos": len(originals)}
    for side in args.sides:
        small = [resize_image(image, side) for image in originals]
        result[f"{side}px"] = {
            "bicubic": figures(originals, [resize_image(image, SIZE) for image in small], reference),
            "psp": figures(originals, [upscale(image, weights=args.weights, precision="bf16") for image in small], reference),
        }
        if args.refine:
            refined = [upscale(image, weights=args.weights, precision="bf16", refine_steps=args.refine) for image in small]
            result[f"{side}px"][f"psp, refined {args.refine} steps"] = figures(originals, refined, reference)
        print(side, result[f"{side}px"], flush=True)
    result["no change (the originals)"] = {"kid": round(kid(features(originals), reference).mean, 2)}
    print(result, flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
