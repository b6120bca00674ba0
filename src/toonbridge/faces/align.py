"""Alignment: a similarity transform (rotation, uniform scale, translation) from 5 face points to a template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from toonbridge.errors import FaceTooSmall, NoFaceFound
from toonbridge.faces.detection import Face, detect
from toonbridge.faces.templates import Template, get_template
from toonbridge.imageio import ImageInput, load_image

if TYPE_CHECKING:
    from toonbridge.faces.portraits import Portrait


# Faces narrower than this (detector box, photo pixels) are not translated by default, with a note: below it the
# landmarks, and so the alignment, are unreliable, and the pasted cartoon would be a few pixels of colour.
MIN_FACE_PX = 24.0

@dataclass(frozen=True)
class AlignedFace:
    image: np.ndarray = field(repr=False)  # template-sized RGB uint8
    matrix: np.ndarray = field(repr=False)  # 2×3, photo pixel -> aligned pixel
    template: Template
    landmarks5: np.ndarray = field(repr=False)  # the source points mapped into the aligned image
    portrait: Portrait | None = None  # what filled the crop past the photo's edge or behind sunglasses (faces.portraits)
    lenses: np.ndarray | None = field(default=None, repr=False)  # dark sunglasses hidden from the generator (faces.sunglasses)

    @property
    def portrait_gender(self) -> str | None:
        """Whose average portrait ("female", "male") filled the crop past the photo's edge."""
        return None if self.portrait is None else self.portrait.gender

    @property
    def template_points(self) -> np.ndarray:
        """Where the template puts the 5 points, in this crop's pixels (``landmarks5`` is where the face has them)."""
        return self.template.points_at(self.image.shape[1], self.image.shape[0])

    @property
    def scale(self) -> float:
        """Aligned pixels per photo pixel (>1 means the face was enlarged)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991, no reflection) mapping ``source`` onto ``target``; 2×3."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    variance = (source_centred**2).sum() / len(source)
    if variance < 1e-12:
        raise ValueError("landmarks are degenerate (all points coincide)")
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def align_face(
    image: ImageInput,
    face: Face | np.ndarray,
    template: str | Template = "bitmoji",
    *,
    max_upscale: float | None = None,
    padding: Literal["blur", "reflect", "white"] = "blur",
) -> AlignedFace:
    """Warp the face into the template's canonical frame.

    ``face`` is a :class:`Face` or 5 points in the template's order. Downscaling goes through an image pyramid
    first so that small aligned faces from large photos are not aliased. ``max_upscale`` rejects faces that would
    be enlarged more than that factor (:class:`FaceTooSmall`).

    Where the template reaches past the photo's edge, ``padding="reflect"`` mirrors the photo; ``"blur"`` (the
    default, as in FFHQ's alignment) also blurs the mirrored part and fades it to the photo's median colour, so a
    face near the edge does not get mirrored ghost features a model could mistake for real ones. ``"white"`` fills
    it with white: what models trained on white-backdrop portraits (CelebAMask-HQ, the bitmoji styles) expect around
    a head; faded skin-coloured padding turned a frame-filling man into a blotched woman (docs/models.md).
    """
    image = load_image(image)  # a path, bytes or any array layout is accepted; an RGB uint8 array passes through
    template = get_template(template)
    points = face.landmarks5 if isinstance(face, Face) else np.asarray(face, dtype=np.float64)
    matrix = similarity_transform(points, template.points5)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if max_upscale is not None and scale > max_upscale:
        raise FaceTooSmall(
            f"face too small: eyes {template.eye_distance / scale:.0f} px apart, would be enlarged {scale:.1f}× "
            f"(limit {max_upscale:g}×)"
        )
    return warp_to_template(image, matrix, template, padding=padding, landmarks5=points)


def warp_to_template(image: np.ndarray, matrix: np.ndarray, template: Template, *,
                     padding: Literal["blur", "reflect", "edge", "white"] = "blur", landmarks5: np.ndarray | None = None) -> AlignedFace:
    """Warp ``image`` by a known photo -> template ``matrix`` (antialiased, padded as in :func:`align_face`).

    ``padding="edge"`` repeats the border pixels: no mirrored features at all, for a landmark model to read.
    ``landmarks5`` are the face's points in the photo, if known; otherwise the template's own points stand in.
    """
    aligned = warp_padded(image, matrix, template.size, padding)
    points = apply_transform(matrix, landmarks5) if landmarks5 is not None else np.array(template.points5, dtype=np.float64)
    return AlignedFace(image=aligned, matrix=matrix, template=template, landmarks5=points)


PADDINGS = ("blur", "reflect", "edge", "white")


def warp_padded(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int],
                padding: Literal["blur", "reflect", "edge", "white"] = "blur") -> np.ndarray:
    """``image`` warped by ``matrix`` into a ``size`` crop, where the crop reaches past the image padded as
    alignment pads it. Training uses it too, to show a model what a frame-filling photo looks like once aligned."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}")
    border = {"edge": cv2.BORDER_REPLICATE, "white": cv2.BORDER_CONSTANT}.get(padding, cv2.BORDER_REFLECT_101)
    warped = _warp_antialiased(image, matrix, size, border)
    return _soften_padding(warped, image.shape[:2], matrix) if padding == "blur" else warped


def _warp_antialiased(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    source, matrix = _crop_around_target(image, matrix, size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    while scale < 0.5 and min(source.shape[:2]) >= 4:
        # pyrDown: pixel centre x in the half image sits at 2x + 0.5 in the full one.
        source = cv2.pyrDown(source)
        matrix = matrix @ np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])
        scale *= 2.0
    return cv2.warpAffine(source, matrix, size, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=(255, 255, 255))


def _soften_padding(aligned: np.ndarray, photo_shape: tuple[int, int], matrix: np.ndarray) -> np.ndarray:
    height, width = aligned.shape[:2]
    inside = photo_region(photo_shape, matrix, (width, height))
    if inside.all():
        return aligned
    size = max(width, height)
    outside_distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)  # pixels to the nearest photo pixel
    ramp = np.clip(outside_distance / (0.15 * size), 0.0, 1.0)[:, :, None]
    result = aligned.astype(np.float32)
    blurred = cv2.GaussianBlur(result, (0, 0), sigmaX=0.02 * size + 0.5)
    padded = (1 - inside)[:, :, None].astype(np.float32)
    result += (blurred - result) * padded
    median = np.median(aligned[inside.astype(bool)], axis=0) if inside.any() else result.reshape(-1, 3).mean(0)
    result += (median.astype(np.float32) - result) * ramp
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def photo_region(photo_shape: tuple[int, ...], matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 mask of a ``size`` crop: 1 where ``matrix`` maps from inside the photo, 0 past its edge. Each crop
    pixel's source is computed, not a photo-sized mask warped: the cost is the crop's, whatever the photo's size."""
    width, height = size
    rows, columns = np.mgrid[:height, :width]
    source = apply_transform(invert_transform(matrix), np.stack([columns.ravel(), rows.ravel()], axis=1))
    photo_height, photo_width = photo_shape[:2]
    # Nearest-pixel sampling reads pixel round(x): inside while -0.5 < x < width - 0.5.
    inside = ((source[:, 0] > -0.5) & (source[:, 0] < photo_width - 0.5)
              & (source[:, 1] > -0.5) & (source[:, 1] < photo_height - 0.5))
    return inside.reshape(height, width).astype(np.uint8)


def fill_past_edge(aligned: np.ndarray, inside: np.ndarray, fill: np.ndarray, seam: float = 0.06) -> np.ndarray:
    """``aligned`` with ``fill`` (any size; resized to the crop) where ``inside`` is 0, faded into the photo over a
    seam of ``seam`` × the crop's size *inside* the photo. Why inside: past the edge ``aligned`` holds only padding
    (white), and a seam there mixed that padding into the fill as a pale line along the photo's edge, which the
    generators drew as a dark frame around every cut-off face."""
    height, width = aligned.shape[:2]
    if inside.all():
        return aligned
    fill = cv2.resize(fill, (width, height), interpolation=cv2.INTER_AREA if fill.shape[0] > height else cv2.INTER_LINEAR)
    # Depth into the photo, measured from the photo's edge only (the crop's own border is not an edge).
    depth = cv2.distanceTransform(np.pad(inside, 1, constant_values=1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    keep = np.clip(depth / (seam * max(width, height)), 0.0, 1.0)[:, :, None]
    result = aligned.astype(np.float32) * keep + fill.astype(np.float32) * (1 - keep)
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def _crop_around_target(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]):
    """Cut the photo down to the region the template maps from (plus a margin), so big photos warp fast."""
    width, height = size
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64)
    footprint = apply_transform(invert_transform(matrix), corners)
    margin = 0.1 * (footprint.max(axis=0) - footprint.min(axis=0)).max() + 4
    x0, y0 = np.floor(footprint.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(footprint.max(axis=0) + margin).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:  # the face lies (almost) outside the photo: warp from the whole photo
        return image, matrix
    shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    return image[y0:y1, x0:x1], matrix @ shift


def align_faces(image: ImageInput, faces: list[Face] | None = None, template: str | Template = "bitmoji",
                **options) -> list[AlignedFace]:
    """Align the given faces, or every face detected in ``image``; :class:`NoFaceFound` if there is none."""
    image = load_image(image)
    if faces is None:
        faces = detect(image)
    if not faces:
        raise NoFaceFound("no face found")
    return [align_face(image, face, template, **options) for face in faces]
