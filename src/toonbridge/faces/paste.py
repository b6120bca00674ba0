"""Paste translated faces back into the original photo with a feathered mask."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from toonbridge.faces.align import AlignedFace, apply_transform, invert_transform
from toonbridge.imageio import ImageInput, load_image


def feather_mask(width: int, height: int, feather: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 over ``feather`` × size at each edge (float32, height×width)."""
    ramp = max(feather * min(width, height), 1.0)
    xs = np.minimum(np.arange(width) + 0.5, width - np.arange(width) - 0.5) / ramp
    ys = np.minimum(np.arange(height) + 0.5, height - np.arange(height) - 0.5) / ramp
    mask = np.clip(np.minimum.outer(ys, xs), 0.0, 1.0)
    return (mask * mask * (3.0 - 2.0 * mask)).astype(np.float32)  # smoothstep: no visible seam at the ramp's ends


def paste_back(
    photo: ImageInput,
    replacements: Iterable[tuple[AlignedFace, np.ndarray]],
    *,
    feather: float = 0.1,
) -> np.ndarray:
    """Return a copy of ``photo`` with each aligned face replaced by its translated image.

    ``replacements`` pairs each :class:`AlignedFace` with the new face image (any size: a model may work at a
    different resolution than the template; the transform is rescaled to match).
    """
    photo = load_image(photo)
    result = photo.astype(np.float32)
    height, width = photo.shape[:2]
    for aligned, new_face in replacements:
        new_face = np.asarray(new_face)
        face_height, face_width = new_face.shape[:2]
        template_width, template_height = aligned.template.size
        resize = np.diag([face_width / template_width, face_height / template_height, 1.0])
        to_photo = invert_transform((resize @ np.vstack([aligned.matrix, [0.0, 0.0, 1.0]]))[:2])
        x0, y0, x1, y1 = _footprint(to_photo, face_width, face_height, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        local = to_photo.copy()
        local[:, 2] -= (x0, y0)
        region = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(new_face.astype(np.float32), local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(feather_mask(face_width, face_height, feather), local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        target = result[y0:y1, x0:x1]
        target += mask[:, :, None] * (warped - target)
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def _footprint(to_photo: np.ndarray, face_width: int, face_height: int, width: int, height: int):
    corners = np.array([[0, 0], [face_width, 0], [0, face_height], [face_width, face_height]], dtype=np.float64)
    mapped = apply_transform(to_photo, corners)
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 2
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
