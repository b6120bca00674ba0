"""Whole-pipeline figures on sets of unaligned photos, as users send them ([in-the-wild] tables).

Each photo goes through ``Style.translate`` (detect, align with the style's padding, translate) and the aligned
cartoon of its largest face is measured: KID×100 against the validation Bitmoji at 128 px and gender kept (the
photo's label against our Bitmoji gender classifier). ``scripts/framing_table.py`` (framings) and
``scripts/low_light_table.py`` (dim photos) differ only in the photos they send.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import numpy as np

from toonbridge.data import load_split
from toonbridge.errors import ToonbridgeError
from toonbridge.imageio import load_image, resize_image

SIZE = 128


def style_to_measure(style_name: str, run: Path | None, scratch: str | Path):
    """The shipped style, or ``run``'s last checkpoint exported into ``scratch`` with that style's settings; PyTorch
    backend (an exported run has no ONNX files)."""
    from toonbridge.api import Style, load
    from toonbridge.style_files import read_style
    from toonbridge.train.export import style_from_run

    if run is None:
        return load(style_name, backend="torch")
    return Style(read_style(style_from_run(run, style_name, Path(scratch) / "style")), backend="torch")


def largest_face_cartoons(style, samples: list, group: str | None = None,
                          change: Callable[[np.ndarray, int], np.ndarray] | None = None):
    """(aligned cartoons at 128 px, the photos' gender labels, the branch each went to, photos with no face found).
    ``change(photo, index)`` alters each photo first (e.g. darkens it)."""
    outputs, genders, routed, missed = [], [], [], 0
    for index, sample in enumerate(samples):
        photo = load_image(sample.path)
        try:
            result = style.translate(photo if change is None else change(photo, index), "cartoonize", group=group, largest_face=True)
        except ToonbridgeError:
            missed += 1
            continue
        outputs.append(resize_image(result.faces[0].output, SIZE))
        genders.append(sample.labels.get("gender"))
        routed.append(result.faces[0].group or "")
    return outputs, genders, routed, missed


@functools.lru_cache(maxsize=1)
def _bitmoji_judges():
    from toonbridge.eval.inception import cached_path_features
    from toonbridge.models import load_network
    from toonbridge.style_files import find_style

    classifier = load_network(find_style("bitmoji").folder.parent / "classifiers" / "gender_cartoon.safetensors")
    references = cached_path_features([s.path for s in load_split("celeba2bitmoji/cartoon", "val").samples], resize_to=SIZE)
    return classifier, references


def bitmoji_figures(outputs: list[np.ndarray], genders: list[str | None], photos: int, missed: int) -> dict:
    """One table row: photos, no face found, KID×100 against the validation Bitmoji, gender kept (None if no
    photo of the set has a gender label)."""
    from toonbridge.eval.attributes import classify
    from toonbridge.eval.distribution import kid
    from toonbridge.eval.inception import features

    classifier, references = _bitmoji_judges()
    known = [(label, answer) for label, answer in zip(genders, classify(classifier, outputs)) if label]
    return {"photos": photos, "no face found": missed, "KID×100 vs val Bitmoji": round(kid(features(outputs), references).mean, 2),
            "gender kept": round(float(np.mean([a == b for a, b in known])), 3) if known else None}
