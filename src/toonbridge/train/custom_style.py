"""A new whitebox style from a folder of the user's own cartoons: prepare, train, install (``toonbridge new-style``).

1. The cartoons are framed like the shipped whitebox styles' (the ``bitmoji`` template): each image's largest face
   is found and aligned where the detector finds one; the others are used as they are (centre square, resized).
2. The whitebox recipe (the dataclass defaults of :mod:`toonbridge.train.whitebox`, as the shipped styles use it)
   trains from the shared pre-trained generator (``weights/whitebox-base``) for a time budget, with a progress bar;
   running the same command again resumes it.
3. The generator is written into a style folder (``style.json`` + ``to_cartoon.safetensors``) that every command
   takes by path: ``toonbridge cartoonize photo.jpg --style FOLDER``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from toonbridge.errors import ToonbridgeError
from toonbridge.style_files import WEIGHTS_DIR

TEMPLATE = "bitmoji"
SIZE = 128
PRETRAINED = WEIGHTS_DIR / "whitebox-base"
# The photos every shipped whitebox style learnt from (the research sets; TOONBRIDGE_DATA).
DEFAULT_PHOTOS = [{"domain": "celeba2bitmoji/photo"}, {"domain": "utkface/faces", "align": TEMPLATE},
                  {"domain": "helen/images", "align": TEMPLATE}]


@dataclass
class PreparedCartoons:
    folder: Path
    aligned: int  # faces found and aligned
    as_they_are: int  # no face found: used as they are
    unreadable: int


def prepare_cartoons(source: Path, folder: Path, progress: bool = True) -> PreparedCartoons:
    """The images of ``source`` framed for training in ``folder`` (manifest.csv last, so a rerun redoes it)."""
    from rich.progress import track

    from toonbridge.batch import expand_inputs
    from toonbridge.data.manifest import Sample, write_manifest
    from toonbridge.errors import InvalidImage
    from toonbridge.faces import align_face, detect
    from toonbridge.imageio import load_image, resize_image, save_image

    if (folder / "manifest.csv").is_file():
        return _read_counts(folder)
    paths = expand_inputs([source])
    samples, counts = [], {"aligned": 0, "as_they_are": 0, "unreadable": 0}
    for index, path in enumerate(track(paths, description="framing the cartoons", disable=not progress)):
        try:
            image = load_image(path)
        except InvalidImage:
            counts["unreadable"] += 1
            continue
        faces = detect(image)
        if faces:
            framed = align_face(image, max(faces, key=lambda face: face.width), TEMPLATE).image
            how = "aligned"
        else:
            side = min(image.shape[:2])
            top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
            framed = resize_image(image[top:top + side, left:left + side], SIZE)
            how = "as_they_are"
        counts[how] += 1
        name = f"{index:05d}.png"
        save_image(resize_image(framed, SIZE), folder / name)
        samples.append(Sample(folder / name, name, {"framing": how, "source": path.name}))
    if not samples:
        raise ToonbridgeError(f"no readable images in {source}")
    write_manifest(folder / "manifest.csv", samples, ["framing", "source"])
    (folder / "counts.json").write_text(json.dumps(counts))
    return PreparedCartoons(folder, **counts)


def _read_counts(folder: Path) -> PreparedCartoons:
    counts = json.loads((folder / "counts.json").read_text())
    return PreparedCartoons(folder, **counts)


def style_config(name: str, cartoons: Path, run_dir: Path, minutes: float, photos: Path | None) -> dict:
    """The training config (a dict, as a YAML file would give) of a new style."""
    if photos is not None:
        photo_side = {"domain_a": str(photos), "align_a": TEMPLATE, "also_a": []}
    else:
        photo_side = {"domain_a": DEFAULT_PHOTOS[0]["domain"], "also_a": DEFAULT_PHOTOS[1:]}
    return {
        "method": "whitebox", "run_dir": str(run_dir), "steps": 1_000_000, "max_wall_minutes": minutes,
        "batch_size": 4, "precision": "bf16", "checkpoint_every": 100, "sample_every": 250, "log_every": 25,
        "init_from": str(PRETRAINED),
        # Every image of the user's set trains (a few-shot set has none to spare for a validation split).
        "data": {**photo_side, "domain_b": str(cartoons / "manifest.csv"), "split_b": "all", "size": SIZE},
    }


def install_style(run_dir: Path, folder: Path, name: str, cartoons: PreparedCartoons, blend: float = 1.0) -> Path:
    """``blend`` < 1 installs the generator that far from the shared pre-training towards the trained one (network
    interpolation): a long run on a few cartoons gets the style and loses faces; a point before its end keeps
    both (docs/models.md: 100 Bitmoji, 60 min, 0.9)."""
    from toonbridge.train.export import blend_networks, export_run

    folder.mkdir(parents=True, exist_ok=True)
    export_run(run_dir, folder, half=True)  # the generator only: a whitebox run ships nothing else
    if blend < 1:
        generator = folder / "to_cartoon.safetensors"
        blend_networks(PRETRAINED / "to_cartoon.safetensors", generator, blend, generator, half=True)
    style = {"name": name, "title": f"{name} (your own cartoons)",
             "description": f"whitebox style trained on {cartoons.aligned + cartoons.as_they_are} cartoons by toonbridge new-style",
             "template": TEMPLATE, "size": SIZE, "whole_photo": True, "networks": {"to_cartoon": "to_cartoon.safetensors"}}
    (folder / "style.json").write_text(json.dumps(style, indent=1) + "\n")
    return folder


def check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ToonbridgeError(f"a style name is letters, digits, - and _ only, not {name!r}")
