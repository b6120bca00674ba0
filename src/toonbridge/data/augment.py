"""Geometric augmentations that move the landmarks with the pixels (a flip also swaps left and right points)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from toonbridge.faces.align import apply_transform
from toonbridge.faces.landmarks import flip_landmarks


@dataclass(frozen=True)
class AugmentConfig:
    flip_probability: float = 0.5
    max_scale: float = 0.05  # zoom by a factor in [1 - max_scale, 1 + max_scale]
    max_rotation_degrees: float = 5.0
    max_shift: float = 0.03  # translation, as a fraction of the output size

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(flip_probability=0.0, max_scale=0.0, max_rotation_degrees=0.0, max_shift=0.0)


def augment(
    image: np.ndarray,
    landmarks: np.ndarray | None,
    size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the image resized to ``size``×``size`` after a random flip and similarity jitter, and its landmarks."""
    height, width = image.shape[:2]
    if config.flip_probability > 0 and rng.random() < config.flip_probability:
        image = np.ascontiguousarray(image[:, ::-1])
        landmarks = None if landmarks is None else flip_landmarks(landmarks, width)
    matrix = _jitter_matrix(width, height, size, config, rng)
    if config.max_scale or config.max_rotation_degrees or config.max_shift:
        output = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    elif (width, height) != (size, size):
        shrinking = size < min(width, height)
        output = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    else:
        output = image
    if landmarks is not None:
        landmarks = apply_transform(matrix, landmarks)
    return output, landmarks


def _jitter_matrix(width: int, height: int, size: int, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Resize width×height to size×size, then scale/rotate about the centre and shift, as one 2×3 matrix."""
    resize = np.diag([size / width, size / height, 1.0])
    # Pixel-centre convention: a pure resize maps x to (x + 0.5) * s - 0.5.
    resize[0, 2] = 0.5 * size / width - 0.5
    resize[1, 2] = 0.5 * size / height - 0.5
    scale = 1.0 + rng.uniform(-config.max_scale, config.max_scale) if config.max_scale else 1.0
    angle = rng.uniform(-config.max_rotation_degrees, config.max_rotation_degrees) if config.max_rotation_degrees else 0.0
    shift = rng.uniform(-config.max_shift, config.max_shift, size=2) * size if config.max_shift else np.zeros(2)
    centre = (size - 1) / 2.0
    jitter = np.vstack([cv2.getRotationMatrix2D((centre, centre), angle, scale), [0, 0, 1]])
    jitter[:2, 2] += shift
    return (jitter @ resize)[:2]


def colour_jitter(images: torch.Tensor, strength: float) -> torch.Tensor:
    """Random per-image saturation, contrast and brightness changes of a batch of tensors in [-1, 1]."""
    if strength <= 0:
        return images
    n = images.shape[0]
    draw = lambda: 1 + (torch.rand(n, 1, 1, 1, device=images.device) * 2 - 1) * strength  # noqa: E731
    grey = images.mean(dim=1, keepdim=True)
    images = grey + (images - grey) * draw()
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = mean + (images - mean) * draw()
    return (images + (draw() - 1)).clamp(-1, 1)
