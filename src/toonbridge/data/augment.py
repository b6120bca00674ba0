"""Augmentations: geometric ones that move the landmarks with the pixels (a flip also swaps left and right points),
a tight re-framing that shows a model what a frame-filling photo looks like once aligned, and the photometric
damage of casual phone photos."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from toonbridge.faces.align import apply_transform, fill_past_edge, photo_region, warp_padded
from toonbridge.faces.landmarks import box_from_five, flip_landmarks


@dataclass(frozen=True)
class AugmentConfig:
    flip_probability: float = 0.5
    max_scale: float = 0.05  # zoom by a factor in [1 - max_scale, 1 + max_scale]
    max_rotation_degrees: float = 5.0
    max_shift: float = 0.03  # translation, as a fraction of the output size
    # [in-the-wild] Probability of cutting the image to its face (0-25 % margins) and padding the rest as
    # alignment pads a photo that ends there (profile pictures, passport photos, UTKFace-like chips).
    tight_framing: float = 0.0
    tight_framing_padding: str = "blur"  # as the style pads at inference (StyleInfo.padding): "blur", "white" or "portrait"
    # Probability of each photometric damage: blur, sensor noise, JPEG, low light, a colour cast.
    degrade: float = 0.0

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(flip_probability=0.0, max_scale=0.0, max_rotation_degrees=0.0, max_shift=0.0)


def augment(
    image: np.ndarray,
    landmarks: np.ndarray | None,
    size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
    gender: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the image resized to ``size``×``size`` after a random flip and similarity jitter, and its landmarks.
    ``gender`` (the sample's label) picks the portrait of ``"portrait"`` tight framing."""
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
        if config.tight_framing and rng.random() < config.tight_framing:
            output = cut_to_face(output, landmarks, rng, padding=config.tight_framing_padding, gender=gender)
    if config.degrade:
        output = degrade(output, config.degrade, rng)
    return output, landmarks


def cut_to_face(image: np.ndarray, landmarks5: np.ndarray, rng: np.random.Generator, max_margin: float = 0.25,
                padding: str = "blur", gender: str | None = None) -> np.ndarray:
    """Keep the face's landmark box plus random margins of 0-``max_margin`` of its size on each side, and pad
    the rest exactly as alignment pads a photo that ends there (``padding`` as the style's: mirrored, blurred and
    faded to its median colour, white, or the average portrait of ``gender``, both portraits' mean if unknown)."""
    x0, y0, x1, y1 = box_from_five(landmarks5)
    width, height = x1 - x0, y1 - y0
    left, right = x0 - rng.uniform(0, max_margin) * width, x1 + rng.uniform(0, max_margin) * width
    top, bottom = y0 - rng.uniform(0, max_margin) * height, y1 + rng.uniform(0, max_margin) * height
    size_y, size_x = image.shape[:2]
    left, top = int(np.clip(np.floor(left), 0, size_x - 2)), int(np.clip(np.floor(top), 0, size_y - 2))
    right, bottom = int(np.clip(np.ceil(right), left + 2, size_x)), int(np.clip(np.ceil(bottom), top + 2, size_y))
    chip = np.ascontiguousarray(image[top:bottom, left:right])
    shift = np.array([[1.0, 0.0, left], [0.0, 1.0, top]])  # chip pixel -> image pixel
    if padding != "portrait":
        return warp_padded(chip, shift, (size_x, size_y), padding=padding)
    from toonbridge.faces.portraits import mean_portraits

    portraits = mean_portraits()[1]
    fill = portraits[gender] if gender in portraits else np.mean(list(portraits.values()), axis=0).astype(np.uint8)
    cut = warp_padded(chip, shift, (size_x, size_y), padding="white")
    return fill_past_edge(cut, photo_region(chip.shape, shift, (size_x, size_y)), fill)


def degrade(image: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Casual-photo damage, each kind with ``probability``: defocus blur, sensor noise, JPEG artefacts, low light
    (darker, gamma up) and a colour cast."""
    result = image.astype(np.float32)
    if rng.random() < probability:
        result = cv2.GaussianBlur(result, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < probability:  # low light: darker, with the shadows crushed
        result = 255.0 * (result / 255.0) ** rng.uniform(1.2, 2.0) * rng.uniform(0.5, 0.85)
    if rng.random() < probability:
        result = result * rng.uniform(0.85, 1.15, size=3)
    if rng.random() < probability:
        result = result + rng.normal(0, rng.uniform(2, 10), result.shape)
    result = np.clip(np.round(result), 0, 255).astype(np.uint8)
    if rng.random() < probability:
        ok, encoded = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 70))])
        result = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)  # channel order is irrelevant to the round trip
    return result


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
