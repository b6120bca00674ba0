"""Hair colour read from an aligned face itself (no tags exist for these sets): the [twingan] labels and judge.

Every face on the ``bitmoji`` template (photos aligned, cartoons reframed) has the top of its head in the same place:
the band above the forehead, x 44-84 and y 10-26 of the 128-px frame (checked by eye on CelebA, Bitmoji, anime
and UTKFace faces; UTKFace chips have little margin, so there the band often holds padding). The band's median
colour is named by fixed rules in HSV: dark is black, grey and pale unsaturated are white, a saturated cool hue is
the fantasy colour (blue, standing for blue and purple), saturated orange-red is red, light warm is blond, the rest
of the warm hues brown. Pink and green hair get no name (None): they are neither requested nor counted.

The same measure labels training images and judges the outputs. As a training loss on requested colours
(:func:`hair_rgb`, the band's mean, differentiable) it was gamed: the model painted the band only (docs/models.md).
The [twingan] hair judge therefore learns the band's label from everything *but* the band (:func:`without_band`),
so it can only be met by colouring the hair around it.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch

HAIR_COLOURS = ("black", "brown", "blond", "red", "white", "blue")

# What a request asks the band to look like, in RGB 0-255; each is named back as itself by hair_colour_name.
HAIR_TARGETS = {
    "black": (28, 22, 20),
    "brown": (100, 64, 40),
    "blond": (222, 186, 116),
    "red": (172, 68, 34),
    "white": (222, 222, 218),
    "blue": (60, 100, 220),
}

_BAND = (44, 10, 84, 26)  # x0, y0, x1, y1 at 128 px on the bitmoji template
_FACE = (38, 44, 90, 112)  # brows to chin, temple to temple: no hair but a beard or a fringe's tips


def _at_size(box: tuple[int, int, int, int], size: int) -> tuple[int, int, int, int]:
    return tuple(round(v * size / 128) for v in box)


def hair_band(size: int) -> tuple[int, int, int, int]:
    """The band's box at ``size`` px."""
    return _at_size(_BAND, size)


def hair_colour_name(rgb) -> str | None:
    """The name of an RGB colour (0-255) by the module's rules; None for pink, green and other unnamed hues."""
    hue, saturation, value = colorsys.rgb_to_hsv(*(float(c) / 255 for c in rgb))
    hue *= 360
    if value < 0.25:
        return "black"
    if saturation < 0.15:
        return "black" if value < 0.35 else "white"
    if 190 <= hue <= 300 and saturation > 0.25:
        return "blue"
    if not (hue >= 345 or hue <= 70):
        return None if saturation > 0.3 else ("white" if value > 0.6 else "brown")
    if saturation > 0.6 and (hue <= 20 or hue >= 345) and value > 0.3:
        return "red"
    return "blond" if value > 0.6 else "brown"


def hair_colour_of(image: np.ndarray) -> str | None:
    """The hair colour of an aligned face (H×W×3 uint8 on the bitmoji template, any size)."""
    x0, y0, x1, y1 = hair_band(image.shape[0])
    return hair_colour_name(np.median(image[y0:y1, x0:x1].reshape(-1, 3), axis=0))


def hair_colour_indices(images: torch.Tensor) -> torch.Tensor:
    """Each image's colour as an index into HAIR_COLOURS, -1 where unnamed (N×3×H×W in [-1, 1])."""
    x0, y0, x1, y1 = hair_band(images.shape[-1])
    band = images[..., y0:y1, x0:x1].detach().float().flatten(2)
    medians = band.median(dim=2).values.add(1).mul(127.5).cpu().numpy()
    names = [hair_colour_name(rgb) for rgb in medians]
    return torch.tensor([HAIR_COLOURS.index(name) if name else -1 for name in names], device=images.device)


def hair_rgb(images: torch.Tensor) -> torch.Tensor:
    """The band's mean colour, N×3 in [-1, 1] (differentiable: the training loss on requested colours)."""
    x0, y0, x1, y1 = hair_band(images.shape[-1])
    return images[..., y0:y1, x0:x1].float().mean(dim=(2, 3))


def hair_target_rgb(indices: torch.Tensor) -> torch.Tensor:
    """The request targets of HAIR_COLOURS indices, N×3 in [-1, 1]."""
    table = torch.tensor([HAIR_TARGETS[name] for name in HAIR_COLOURS], dtype=torch.float32) / 127.5 - 1
    return table.to(indices.device)[indices]


def face_box(size: int) -> tuple[int, int, int, int]:
    """The face's box at ``size`` px (brows to chin, between the temples): what a hair request should leave alone."""
    return _at_size(_FACE, size)


def without_band(images: torch.Tensor) -> torch.Tensor:
    """A copy of N×3×H×W images in [-1, 1] with the hair band set to mid grey: what the hair judge sees."""
    x0, y0, x1, y1 = hair_band(images.shape[-1])
    masked = images.clone()
    masked[..., y0:y1, x0:x1] = 0
    return masked
