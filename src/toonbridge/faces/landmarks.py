"""Landmark conventions shared by detection, alignment, datasets and (later) the landmark losses.

68 points follow the iBUG 300-W order. The 5-point set is, in this order: left eye centre, right eye centre,
nose tip, left mouth corner, right mouth corner, where "left"/"right" are as seen in the image (the same
convention as the ``../shared/data`` manifests).
"""

from __future__ import annotations

import numpy as np

FIVE_POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
FIVE_POINT_COLUMNS = tuple(f"{name}_{axis}" for name in FIVE_POINT_NAMES for axis in ("x", "y"))

# Image-left eye is points 36-41 (the subject's right eye), image-right eye 42-47.
_LEFT_EYE_68 = slice(36, 42)
_RIGHT_EYE_68 = slice(42, 48)
_NOSE_TIP_68 = 30
_MOUTH_LEFT_68 = 48
_MOUTH_RIGHT_68 = 54

# Index permutations that relabel points after a horizontal flip (left becomes right).
FLIP_PERMUTATION_5 = np.array([1, 0, 2, 4, 3])
FLIP_PERMUTATION_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # eyebrows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # image-left eye <- image-right eye
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48]  # outer lip, top
    + [59, 58, 57, 56, 55]  # outer lip, bottom
    + [64, 63, 62, 61, 60]  # inner lip, top
    + [67, 66, 65]  # inner lip, bottom
)


def five_from_68(points68: np.ndarray) -> np.ndarray:
    """Derive the 5 alignment points from 68 landmarks: eye centres, nose tip, mouth corners."""
    points68 = np.asarray(points68, dtype=np.float64)
    if points68.shape != (68, 2):
        raise ValueError(f"expected 68×2 landmarks, got {points68.shape}")
    return np.stack(
        [
            points68[_LEFT_EYE_68].mean(axis=0),
            points68[_RIGHT_EYE_68].mean(axis=0),
            points68[_NOSE_TIP_68],
            points68[_MOUTH_LEFT_68],
            points68[_MOUTH_RIGHT_68],
        ]
    )


def flip_landmarks(points: np.ndarray, width: float) -> np.ndarray:
    """Mirror landmarks for an image of ``width`` pixels flipped left-right, relabelling left/right points.

    Coordinates follow OpenCV's and dlib's convention (pixel i has its centre at i), so ``np.fliplr`` sends x to
    ``width - 1 - x``.
    """
    points = np.asarray(points, dtype=np.float64)
    permutation = {5: FLIP_PERMUTATION_5, 68: FLIP_PERMUTATION_68}.get(len(points))
    if permutation is None:
        raise ValueError(f"no flip permutation for {len(points)} landmarks")
    flipped = points[permutation].copy()
    flipped[:, 0] = (width - 1) - flipped[:, 0]
    return flipped


def inter_ocular_distance_68(points68: np.ndarray) -> float:
    """Outer-eye-corner distance (points 36 and 45), the usual NME normaliser for 68-point landmarks."""
    return float(np.linalg.norm(np.asarray(points68)[36] - np.asarray(points68)[45]))


def normalised_mean_error(predicted: np.ndarray, truth: np.ndarray, normaliser: float) -> float:
    """Mean point-to-point Euclidean distance divided by ``normaliser``."""
    distances = np.linalg.norm(np.asarray(predicted, float) - np.asarray(truth, float), axis=-1)
    return float(distances.mean() / normaliser)


# A 68-point landmark box from 5 points, measured on the 783 primary HELEN training faces with s = the mean of the
# eye-centre distance and the eye-to-mouth distance: width 2.25 s, height 2.17 s, centre 0.65 s below the eyes
# along the eyes-to-mouth direction.
_FIVE_BOX_WIDTH, _FIVE_BOX_HEIGHT, _FIVE_BOX_DROP = 2.25, 2.17, 0.65


def box_from_five(points5: np.ndarray) -> tuple[float, float, float, float]:
    """Where the 68-point landmark box (jaw, brows, chin) of a face lies, from its 5 points: x0, y0, x1, y1."""
    points5 = np.asarray(points5, dtype=np.float64)
    eyes, mouth = (points5[0] + points5[1]) / 2, (points5[3] + points5[4]) / 2
    down = mouth - eyes
    scale = (np.linalg.norm(points5[1] - points5[0]) + np.linalg.norm(down)) / 2
    centre = eyes + down / max(np.linalg.norm(down), 1e-6) * _FIVE_BOX_DROP * scale
    half_w, half_h = _FIVE_BOX_WIDTH * scale / 2, _FIVE_BOX_HEIGHT * scale / 2
    return (float(centre[0] - half_w), float(centre[1] - half_h), float(centre[0] + half_w), float(centre[1] + half_h))
