"""Paste translated faces back into the original photo with a feathered mask of the head, never a square.

The crop of one face also holds whatever lies around it: a neighbour's face, a smeared background. Pasting the
whole square half-translates the neighbour and leaves a frame around the head, so only a soft ellipse around the
head (face and hair, from the template's 5 points) is pasted; the photo shows everywhere else.

Cartoon styles whose training cartoons sit on a light, plain backdrop (Bitmoji) paint that backdrop into every
translated crop; pasted as a square it leaves a pale box around the head. With ``key_light_background`` the
backdrop is keyed out (near-white pixels connected to the crop's edge), so the photo's own background shows there.
"""

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


# The head ellipse in units of the eye distance d, around the point between the eyes (x) and a fifth of the way
# from the eyes to the mouth (y): wide enough for the hair at the sides (1.45 d), tall enough for the hair above
# and the chin below (2.05 d), softened over 0.2 d. Measured by eye on the bitmoji and anime templates.
HEAD_HALF_WIDTH = 1.45
HEAD_HALF_HEIGHT = 2.05
HEAD_SOFTNESS = 0.2


def head_mask(points5: np.ndarray, width: int, height: int) -> np.ndarray:
    """A soft ellipse over the head of an aligned face with 5 points ``points5`` (pixels of a width×height crop):
    1 on the face and hair, 0 beyond, float32 height×width."""
    points = np.asarray(points5, dtype=np.float64)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    eye_distance = float(np.linalg.norm(points[1] - points[0]))
    centre = eyes + 0.2 * (mouth - eyes)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = np.hypot((xs - centre[0]) / (HEAD_HALF_WIDTH * eye_distance), (ys - centre[1]) / (HEAD_HALF_HEIGHT * eye_distance))
    # 1 inside radius 1 − s, 0 outside 1 + s, a smoothstep between (s: the softness relative to the half-width).
    softness = HEAD_SOFTNESS / HEAD_HALF_WIDTH
    t = np.clip((1 + softness - radius) / (2 * softness), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def keyed_face(face: np.ndarray, points5: np.ndarray, *, key_light_background: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(colours, alpha) to paste an aligned face with: float32 height×width×3 and height×width.

    Alpha: how much of the face is pasted, the head ellipse of its 5 points less its light backdrop when keyed
    (the alpha of a transparent cut-out avatar, too). Where the backdrop is keyed, its soft edge would blend the
    cartoon's white into the photo as a pale rim around the head; there the colours are the head's own edge
    colours carried outwards (:func:`without_backdrop_colour`), so the edge fades from the head's outline into
    the photo."""
    height, width = face.shape[:2]
    colours = np.asarray(face, dtype=np.float32)
    alpha = head_mask(points5, width, height)
    if key_light_background:
        backdrop = light_backdrop(face)
        alpha *= 1.0 - soften(backdrop)
        colours = without_backdrop_colour(colours, backdrop)
    return colours, alpha


def cutout(face: np.ndarray, points5: np.ndarray, *, key_light_background: bool = False) -> np.ndarray:
    """The aligned face as RGBA: transparent outside the head (and on its keyed backdrop)."""
    colours, alpha = keyed_face(face, points5, key_light_background=key_light_background)
    return np.dstack([np.clip(np.round(colours), 0, 255).astype(np.uint8), np.round(alpha * 255).astype(np.uint8)])


def light_background(face: np.ndarray) -> np.ndarray:
    """How much each pixel of a translated crop is its light backdrop (float32 in [0, 1], height×width): the
    backdrop of :func:`light_backdrop` with its edge softened."""
    return soften(light_backdrop(face))


def light_backdrop(face: np.ndarray, *, min_level: int = 230, max_spread: int = 24) -> np.ndarray:
    """Which pixels of a translated crop are its light backdrop (float32, 0 or 1, height×width).

    Backdrop: near-white, unsaturated pixels (every channel ≥ ``min_level``, channels within ``max_spread``) that
    connect to the crop's edge, so white eyes, teeth or a white collar inside the face stay. A small closing first
    swallows the sketchy specks generated backdrops carry. The thresholds keep pale cartoon skin (Bitmoji outline
    their faces, which also stops the fill); should the fill still reach the middle of the crop, where the face
    is, nothing is keyed.
    """
    pixels = np.asarray(face).astype(np.int16)
    light = ((pixels.min(axis=2) >= min_level) & (np.ptp(pixels, axis=2) <= max_spread)).astype(np.uint8)
    side = min(light.shape)
    kernel = np.ones((max(3, side // 32 | 1),) * 2, np.uint8)
    light = cv2.morphologyEx(light, cv2.MORPH_CLOSE, kernel)
    _, labels = cv2.connectedComponents(light, connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    backdrop = np.isin(labels, edge[edge > 0]).astype(np.float32)  # label 0 is "not light"
    height, width = backdrop.shape
    if backdrop[int(0.35 * height):int(0.65 * height), int(0.3 * width):int(0.7 * width)].mean() > 0.5:
        return np.zeros_like(backdrop)
    return backdrop


# The keyed edge is softened over this fraction of the crop's side (a Gaussian's sigma).
BACKDROP_SOFTNESS = 0.02


def soften(backdrop: np.ndarray) -> np.ndarray:
    """A 0/1 backdrop mask with its edge blurred (float32 in [0, 1]): how much of each pixel is keyed."""
    sigma = max(BACKDROP_SOFTNESS * min(backdrop.shape), 0.5)
    return np.clip(cv2.GaussianBlur(backdrop, (0, 0), sigma), 0.0, 1.0)


def without_backdrop_colour(colours: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """``colours`` (float32 H×W×3) with each backdrop pixel given the colour of the nearest head pixel, a simple
    stand-in for matting's foreground colour. The head's outermost pixel ring is skipped as a source: the
    generator blends it with the white."""
    head = (backdrop < 0.5).astype(np.uint8)
    inner = cv2.erode(head, np.ones((3, 3), np.uint8))
    source = inner if inner.any() else head
    if not source.any() or source.all():
        return colours
    # For every pixel, the label of the nearest zero of the input, i.e. of the nearest source pixel.
    _, labels = cv2.distanceTransformWithLabels(1 - source, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    colour_of_label = np.zeros((labels.max() + 1, 3), np.float32)
    colour_of_label[labels[source > 0]] = colours[source > 0]
    result = colours.copy()
    keyed = head == 0
    result[keyed] = colour_of_label[labels[keyed]]
    return result


def paste_back(
    photo: ImageInput,
    replacements: Iterable[tuple[AlignedFace, np.ndarray]],
    *,
    feather: float = 0.1,
    key_light_background: bool = False,
) -> np.ndarray:
    """Return a copy of ``photo`` with each aligned face replaced by its translated image.

    ``replacements`` pairs each :class:`AlignedFace` with the new face image (any size: a model may work at a
    different resolution than the template; the transform is rescaled to match). ``key_light_background``: let
    the photo show through the crop's light backdrop (see :func:`light_background`).
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
        template_points = aligned.template.points_at(face_width, face_height)
        colours, alpha = keyed_face(new_face, template_points, key_light_background=key_light_background)
        warped = cv2.warpAffine(colours, local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        face_mask = feather_mask(face_width, face_height, feather) * alpha
        mask = cv2.warpAffine(face_mask, local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        target = result[y0:y1, x0:x1]
        target += mask[:, :, None] * (warped - target)
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def _footprint(to_photo: np.ndarray, face_width: int, face_height: int, width: int, height: int):
    corners = np.array([[0, 0], [face_width, 0], [0, face_height], [face_width, face_height]], dtype=np.float64)
    mapped = apply_transform(to_photo, corners)
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 2
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
