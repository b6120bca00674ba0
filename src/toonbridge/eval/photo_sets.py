"""Whole-pipeline figures on sets of unaligned photos, as users send them ([in-the-wild] tables).

Each photo goes through ``Style.translate`` (detect, align with the style's padding, translate) and the aligned
cartoon of its largest face is measured against the style's own validation cartoons (``reference_set``; the
Bitmoji for the Bitmoji styles, the anime faces for ``anime``), both at the size the style delivers its crop (the
template's: 128 px for Bitmoji, 256 for anime): KID×100, and where the cartoons are Bitmoji, gender kept (the
photo's label against our Bitmoji gender classifier; no anime gender classifier exists). ``scripts/framing_table.py``
(framings) and ``scripts/low_light_table.py`` (dim photos) differ only in the photos they send.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import numpy as np

from toonbridge.data import load_split
from toonbridge.errors import ToonbridgeError
from toonbridge.faces.landmarks import box_from_five
from toonbridge.imageio import load_image, resize_image

SIZE = 128
BITMOJI = "celeba2bitmoji/cartoon"
# The cartoon sets a gender classifier of ours can judge, and its file in weights/classifiers.
GENDER_JUDGES = {BITMOJI: "gender_cartoon.safetensors"}


def style_to_measure(style_name: str, run: Path | None, scratch: str | Path):
    """The shipped style, or ``run``'s last checkpoint exported into ``scratch`` with that style's settings; PyTorch
    backend (an exported run has no ONNX files)."""
    from toonbridge.api import Style, load
    from toonbridge.style_files import read_style
    from toonbridge.train.export import style_from_run

    if run is None:
        return load(style_name, backend="torch")
    return Style(read_style(style_from_run(run, style_name, Path(scratch) / "style")), backend="torch")


def reference_set(style) -> str:
    """The cartoons a style's results are judged against: the set its evaluation names, else the Bitmoji."""
    return style.info.evaluation.get("cartoons", BITMOJI)


def delivered_size(style) -> int:
    """The side of the aligned crop the style pastes back: its template's (256 px for anime, whose networks run at
    128), so that a blur the upscaling shows is measured (docs/models.md: judge a style at the size users get)."""
    return max(style.template.size)


def largest_face_cartoons(style, samples: list, group: str | None = None,
                          change: Callable[[np.ndarray, int], np.ndarray] | None = None, size: int = SIZE,
                          found: list[int] | None = None):
    """(aligned cartoons at ``size`` px, the photos' gender labels, the branch each went to, photos with no face
    found). ``change(photo, index)`` alters each photo first (e.g. darkens it); ``found``, if given, gets the index
    of each sample a cartoon was made of."""
    outputs, genders, routed, missed = [], [], [], 0
    for index, sample in enumerate(samples):
        photo = load_image(sample.path)
        try:
            result = style.translate(photo if change is None else change(photo, index), "cartoonize", group=group, largest_face=True)
        except ToonbridgeError:
            missed += 1
            continue
        outputs.append(resize_image(result.faces[0].output, size))
        if found is not None:
            found.append(index)
        genders.append(sample.labels.get("gender"))
        routed.append(result.faces[0].group or "")
    return outputs, genders, routed, missed


@functools.lru_cache(maxsize=2)
def _references(cartoons: str, size: int):
    from toonbridge.eval.inception import cached_path_features

    return cached_path_features([s.path for s in load_split(cartoons, "val").samples], resize_to=size)


@functools.lru_cache(maxsize=1)
def _gender_judge(cartoons: str):
    from toonbridge.models import load_network
    from toonbridge.style_files import find_style

    return load_network(find_style("bitmoji").folder.parent / "classifiers" / GENDER_JUDGES[cartoons])


def cartoon_figures(outputs: list[np.ndarray], genders: list[str | None], photos: int, missed: int,
                    cartoons: str = BITMOJI, size: int = SIZE) -> dict:
    """One table row: photos, no face found, KID×100 against the validation ``cartoons`` at ``size`` px, and
    gender kept (None if no photo of the set has a gender label or no classifier judges these cartoons)."""
    from toonbridge.eval.attributes import classify
    from toonbridge.eval.distribution import kid
    from toonbridge.eval.inception import features

    row = {"photos": photos, "no face found": missed,
           f"KID×100 vs val {cartoons}": round(kid(features(outputs), _references(cartoons, size)).mean, 2)}
    known = []
    if cartoons in GENDER_JUDGES:
        known = [(label, answer) for label, answer in zip(genders, classify(_gender_judge(cartoons), outputs)) if label]
    row["gender kept"] = round(float(np.mean([a == b for a, b in known])), 3) if known else None
    return row


# How a UTKFace chip frames its face: its margins beyond the 5-point landmark box (``box_from_five``), as fractions
# of the box (left, right, top, bottom); medians over 150 validation chips, the default detector's points.
UTK_MARGINS = (0.06, 0.07, 0.15, 0.02)
UTK_CHIP = 200


def cut_like_utkface(photo: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """The photo cut to its face as UTKFace chips are (``UTK_MARGINS``) and resized to their 200 px: the same
    people as the uncut set, framed the tight way, so that the two sets' difference is the framing's alone."""
    x0, y0, x1, y1 = box_from_five(landmarks5)
    width, height = x1 - x0, y1 - y0
    left, right, top, bottom = UTK_MARGINS
    size_y, size_x = photo.shape[:2]
    cut = photo[max(0, round(y0 - top * height)):min(size_y, round(y1 + bottom * height)),
                max(0, round(x0 - left * width)):min(size_x, round(x1 + right * width))]
    return resize_image(np.ascontiguousarray(cut), UTK_CHIP)


# Sunglasses drawn onto photos (scripts/sunglasses_table.py): the photo sets here have almost none (a search of
# HELEN's 1,200 faces for dark lenses found tinted glasses at most), so the shapes people wear are drawn at the
# eyes: the lens' half-width and half-height in eye distances, and how far below the eye its centre sits.
LENS_SHAPES = {"round": (0.36, 0.26, 0.04), "wayfarer": (0.46, 0.30, 0.08), "aviator": (0.44, 0.36, 0.12)}
LENS_TINTS = ((18, 20, 26), (40, 28, 18), (16, 30, 28))  # black, brown, green-grey


def with_sunglasses(photo: np.ndarray, landmarks5: np.ndarray, seed: int) -> np.ndarray:
    """The photo with dark sunglasses drawn at its eyes (a shape and tint chosen by ``seed``): lenses 90 % opaque,
    lighter towards the top, with a reflection, a thin frame, a bridge and the arms towards the ears."""
    import cv2

    rng = np.random.default_rng(seed)
    half_width, half_height, below = list(LENS_SHAPES.values())[seed % len(LENS_SHAPES)]
    tint = np.array(LENS_TINTS[rng.integers(len(LENS_TINTS))], np.float32)
    left, right = np.asarray(landmarks5[:2], np.float64)
    distance = float(np.linalg.norm(right - left))
    across = (right - left) / distance
    angle = float(np.degrees(np.arctan2(across[1], across[0])))
    lens, frame = np.zeros(photo.shape[:2], np.uint8), np.zeros(photo.shape[:2], np.uint8)
    thickness = max(1, round(0.05 * distance))
    centres = [eye + np.array([-across[1], across[0]]) * below * distance for eye in (left, right)]
    for centre in centres:
        axes = (round(half_width * distance), round(half_height * distance))
        cv2.ellipse(lens, tuple(np.round(centre).astype(int)), axes, angle, 0, 360, 255, -1)
        cv2.ellipse(frame, tuple(np.round(centre).astype(int)), axes, angle, 0, 360, 255, thickness)
    inner = [centre + side * across * half_width * distance for centre, side in zip(centres, (1, -1))]
    cv2.line(frame, tuple(np.round(inner[0]).astype(int)), tuple(np.round(inner[1]).astype(int)), 255, thickness)
    for centre, side in zip(centres, (-1, 1)):
        start = centre + side * across * half_width * distance
        cv2.line(frame, tuple(np.round(start).astype(int)), tuple(np.round(start + side * across * 0.4 * distance).astype(int)), 255, thickness)
    rows = np.linspace(0.0, 1.0, photo.shape[0], dtype=np.float32)[:, None, None]
    glass = tint + 30 * (1 - rows)
    # A reflection: a soft light patch on each lens' upper outer part.
    shine = np.zeros(photo.shape[:2], np.float32)
    for centre, side in zip(centres, (-1, 1)):
        spot = centre + side * across * 0.4 * half_width * distance - np.array([-across[1], across[0]]) * 0.35 * half_height * distance
        cv2.circle(shine, tuple(np.round(spot).astype(int)), max(1, round(0.12 * distance)), 1.0, -1)
    shine = cv2.GaussianBlur(shine, (0, 0), max(0.06 * distance, 0.5)) * (lens > 0)
    alpha = lens.astype(np.float32)[..., None] / 255 * 0.9
    out = photo.astype(np.float32) * (1 - alpha) + glass * alpha + 70 * shine[..., None]
    line = frame.astype(np.float32)[..., None] / 255
    out = out * (1 - line) + 12 * line
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
