"""Average portraits: what a style sees past the photo's edge when a face fills the frame (style padding "portrait").

A profile picture or passport photo ends at the head, so its aligned crop reaches past the photo; the `bitmoji`
generators learned from whole-head portraits on white and draw what they are shown there: skin-coloured padding
became blotches and woman-like cartoons, white padding a hairless square tile that reads as a man
(docs/models.md). Filled instead with the average aligned training portrait of the face's gender, the crop shows
a head with hair of that gender's typical outline, and the cartoon gets one.

The file (``weights/padding/portraits.safetensors``) holds one uint8 H×W×3 image per gender, on the template
named in its metadata: the per-pixel mean of 1,000 aligned CelebA training portraits for women, their median for
men (the median keeps the short hairline most men share; the mean's brown halo down to the jaw was drawn as long
hair), in which no one is recognisable (``scripts/make_mean_portraits.py`` rebuilds it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from toonbridge.errors import ToonbridgeError

PORTRAITS = Path(__file__).resolve().parents[1] / "weights" / "padding" / "portraits.safetensors"


@functools.lru_cache(maxsize=4)
def mean_portraits(path: Path = PORTRAITS) -> tuple[str, dict[str, np.ndarray]]:
    """(the template they are aligned to, {gender: uint8 image})."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            template = (handle.metadata() or {})["template"]
            return template, {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, SafetensorError, KeyError) as error:
        raise ToonbridgeError(f"cannot read the mean portraits {path}: {error}") from None
