"""Time our face network (dlib's ResNet in PyTorch) per 150-px chip against dlib's own, and the cost of the face
losses in a training step (forward + backward through the network, at 128 px, as the bitmoji recipe uses them).

    python benchmarks/face_features.py [--threads 2] [--repeats 20] [--no-write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.data import image_to_tensor
from toonbridge.faces import align_face, detect, get_template
from toonbridge.faces._dlib_models import face_encoder
from toonbridge.faces.features import chip_tensor, face_chip, face_network
from toonbridge.imageio import load_image
from toonbridge.losses import face_identity_loss, face_perceptual_loss

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "assets" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    photo = load_image(SAMPLE)
    face = detect(photo)[0]
    chip = face_chip(photo, face)
    network = face_network()
    rows = []

    def add(name: str, function, per: int = 1) -> None:
        ms = timed_ms(function, args.repeats) / per
        rows.append([name, f"{np.median(ms):.1f}", f"{np.percentile(ms, 95):.1f}", args.repeats])

    add("dlib compute_face_descriptor (chip given, dlib's own threads)", lambda: face_encoder().compute_face_descriptor(chip))
    for batch in (1, 8):
        pixels = chip_tensor([chip] * batch)
        with torch.no_grad():
            add(f"ours, fp32, batch {batch} (per chip)", lambda: network(pixels), per=batch)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                add(f"ours, bf16, batch {batch} (per chip)", lambda: network(pixels), per=batch)

    aligned = align_face(photo, face, get_template("bitmoji"))
    crop = image_to_tensor(aligned.image)[None]
    points = torch.tensor(aligned.landmarks5, dtype=torch.float32)[None]
    output = (crop + 0.1).clamp(-1, 1).requires_grad_(True)

    def step(loss) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss()
        value.backward()

    add("identity loss, one 128-px pair, forward + backward, bf16", lambda: step(lambda: face_identity_loss(crop, output, points)))
    add("perceptual loss, one 128-px pair, forward + backward, bf16", lambda: step(lambda: face_perceptual_loss(output, crop, points)))
    header = [f"face network ({args.threads} threads)", "median ms", "p95 ms", "runs"]
    print_table("face features", header, rows)
    if not args.no_write:
        update_section("face-features", markdown_table(header, rows) + "\n\nA bitmoji training step uses each loss twice "
                       "(both directions); the step itself costs ~1 s on one thread (docs/models.md).",
                       f"python benchmarks/face_features.py --threads {args.threads}")


if __name__ == "__main__":
    main()
