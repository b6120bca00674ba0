"""Evaluate a landmark-CycleGAN run (or an exported style folder) both ways on the Bitmoji validation split.

    python scripts/evaluate_run.py runs/bitmoji [--limit 400] [--reference 500] [--json out.json]

KID×100 against the target domain's validation images and the landmark NME between each input's ground-truth
landmarks and the target regressor's landmarks on the output. Inputs: the first ``limit`` validation images of
each side (all 387 validation Bitmoji); references: the first ``reference`` validation images of the target side
(sorted by file name).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from toonbridge.data import image_to_tensor, load_split
from toonbridge.eval.translation import evaluate_direction
from toonbridge.faces.align import similarity_transform
from toonbridge.imageio import load_image
from toonbridge.models import load_network, network_info
from toonbridge.train.export import export_run

REGRESSORS = Path("src/toonbridge/weights/bitmoji")
CLASSIFIERS = Path("src/toonbridge/weights/classifiers")


def gender_preservation(to_cartoon, to_photo, photos, cartoons, limit: int) -> dict:
    """Share of faces whose gender survives each direction: the input's label vs the target classifier's answer.

    Photo labels (CelebA) are reliable; Bitmoji labels are noisy, so the cartoon -> photo figure is a floor.
    """
    from toonbridge.eval.attributes import attribute_preservation
    from toonbridge.eval.translation import translate_domain

    result = {}
    for name, generator, source, classifier in (("photo_to_cartoon", to_cartoon, photos, "gender_cartoon"),
                                                ("cartoon_to_photo", to_photo, cartoons, "gender_photo")):
        outputs, _ = translate_domain(generator, source, 128, limit=limit)
        labels = [sample.labels["gender"] for sample in source.samples[:len(outputs)]]
        result[name] = attribute_preservation(labels, load_network(CLASSIFIERS / f"{classifier}.safetensors"), outputs).to_dict()
    return result


@torch.no_grad()
def round_trip_identity(to_cartoon, to_photo, photos, count: int) -> dict:
    """dlib embedding distance between each validation photo and its photo -> cartoon -> photo round trip."""
    from toonbridge.data import tensor_to_image
    from toonbridge.eval.identity import identity_preservation
    from toonbridge.eval.translation import translate_domain

    cartoons, _ = translate_domain(to_cartoon, photos, 128, limit=count)
    originals = [load_image(sample.path) for sample in photos.samples[:count]]
    backs = [tensor_to_image(to_photo(image_to_tensor(c)[None])[0]) for c in cartoons]
    return identity_preservation(originals, backs).to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="run folder, checkpoint folder, or folder with to_cartoon/to_photo.safetensors")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--reference", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--identity", type=int, default=0, help="also measure identity on this many photo round trips")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = Path(args.source)
    with tempfile.TemporaryDirectory() as scratch:
        folder = source if (source / "to_cartoon.safetensors").is_file() else Path(scratch)
        if folder != source:
            export_run(source, folder)
        info = network_info(folder / "to_cartoon.safetensors")
        to_cartoon, to_photo = load_network(folder / "to_cartoon.safetensors"), load_network(folder / "to_photo.safetensors")
    photos, cartoons = load_split("celeba2bitmoji/photo", "val"), load_split("celeba2bitmoji/cartoon", "val")
    photo_reference, cartoon_reference = photos.samples[:args.reference], cartoons.samples[:args.reference]
    regressor_photo = load_network(REGRESSORS / "landmarks_photo.safetensors")
    regressor_cartoon = load_network(REGRESSORS / "landmarks_cartoon.safetensors")
    # NME in the target domain's frame: the source landmarks carried by the similarity between the two domains'
    # mean shapes (Bitmoji faces sit lower in their crops than CelebA faces), as the landmark loss defines it.
    mean_photo = load_split("celeba2bitmoji/photo", "train").mean_landmarks()
    mean_cartoon = load_split("celeba2bitmoji/cartoon", "train").mean_landmarks()
    to_cartoon_frame, to_photo_frame = similarity_transform(mean_photo, mean_cartoon), similarity_transform(mean_cartoon, mean_photo)
    started = time.time()
    results = {
        "source": str(source), "step": info.get("step"), "wall_minutes": round(info.get("wall_seconds", 0) / 60, 1),
        "photo_to_cartoon": evaluate_direction(to_cartoon, photos, cartoon_reference, 128, target_regressor=regressor_cartoon, limit=args.limit, frame=to_cartoon_frame).to_dict(),
        "cartoon_to_photo": evaluate_direction(to_photo, cartoons, photo_reference, 128, target_regressor=regressor_photo, limit=args.limit, frame=to_photo_frame).to_dict(),
    }
    if CLASSIFIERS.joinpath("gender_photo.safetensors").is_file() and CLASSIFIERS.joinpath("gender_cartoon.safetensors").is_file():
        results["gender_preserved"] = gender_preservation(to_cartoon, to_photo, photos, cartoons, args.limit)
    if args.identity:
        results["identity_round_trip"] = round_trip_identity(to_cartoon, to_photo, photos, args.identity)
    results["eval_seconds"] = round(time.time() - started)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
