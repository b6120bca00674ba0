"""Dark sunglasses on a photo face: found on its aligned crop, hidden from the generator, drawn on the cartoon.

The Bitmoji generators never saw sunglasses in training. Shown dark lenses, they drew smudged, doubled eyes inside
dark blotches (``scripts/sunglasses_table.py``, docs/models.md). A style with ``"sunglasses": true`` in style.json
finds dark lenses (:func:`lens_mask`), puts the eyes of the average portrait there, matched to the face's skin
(:func:`hide_lenses`), so the generator draws clean eyes, and then draws flat cartoon sunglasses over them
(:func:`draw_sunglasses`).

All three take the eyes where the aligned crop's *template* has them, not where the landmarks put them: behind dark
lenses dlib's eye points slide towards the lens' lower rim (by about a fifth of the eye distance on drawn-on
sunglasses), where a test of the band under the eye misses the lens. The template's points, the least-squares fit
of all five, sit nearer the true eyes: the lens test found 77 % of drawn-on sunglasses with them and 53 % with the
landmarks, for 2 and 1 false finds among 2,398 faces without sunglasses (docs/models.md).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from toonbridge.faces.portraits import cielab, skin_cielab

# What a style does with a face behind dark sunglasses: "draw" them on the cartoon over clean eyes, "hide" them
# (clean eyes, no sunglasses), or "keep" the lenses in what the generator sees (as before).
SunglassesMode = Literal["draw", "hide", "keep"]
SUNGLASSES_MODES = ("draw", "hide", "keep")

# A lens pixel is darker than this share of the skin's lightness (the median between the nose and the mouth).
LENS_DARKER = 0.55
# Dark lenses cover at least this share of each eye and of a band under it. Eyes, lashes and brows alone darken a
# little of either: of 2,398 faces without sunglasses (CelebA, HELEN, UTKFace) 3 reached it, one of them a man in
# tinted sunglasses (99.9th percentile 0.76); 77 % of faces with dark sunglasses drawn on did. A band nearer the
# eye found 95 % of those, and 9 of the 2,398 (docs/models.md).
LENS_COVERS = 0.75


def _eye_shares(dark: np.ndarray, landmarks5: np.ndarray, eye_distance: float) -> list[float]:
    """Per eye, the share of dark pixels over the eye itself and over the band under it, whichever is less: a
    lens darkens both, a dark eye (iris, lashes, make-up) only the first, a shadow under it only the second."""
    shares = []
    for x, y in landmarks5[:2]:
        eye = np.zeros(dark.shape, np.uint8)
        cv2.ellipse(eye, (round(x), round(y)), (max(1, round(0.3 * eye_distance)), max(1, round(0.2 * eye_distance))),
                    0, 0, 360, 1, -1)
        x0, x1 = round(x - 0.3 * eye_distance), round(x + 0.3 * eye_distance) + 1
        y0, y1 = round(y + 0.1 * eye_distance), round(y + 0.22 * eye_distance) + 1
        band = dark[max(y0, 0):y1, max(x0, 0):x1]
        shares.append(min(float(dark[eye > 0].mean()), float(band.mean()) if band.size else 0.0))
    return shares


def _skin_below_lenses(landmarks5: np.ndarray) -> tuple[int, int, int, int]:
    """The skin's box for finding and hiding lenses: between the eyes' columns, from the nose to halfway down to
    the mouth. The portraits' box (cheeks and nose from just under the eyes) lies under large lenses."""
    nose_y, mouth_y = float(landmarks5[2, 1]), float(landmarks5[3:5, 1].mean())
    return (int(landmarks5[0, 0]), int(nose_y), int(landmarks5[1, 0]) + 1, int((nose_y + mouth_y) / 2) + 1)


def lens_mask(crop: np.ndarray, landmarks5: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray | None:
    """float32 mask (1 on the lenses) of dark sunglasses on an aligned crop (RGB uint8; ``landmarks5``: its
    template's points in its pixels), or None if the eyes are not behind dark lenses, or (``inside``: 1 where the
    crop lies in the photo) if the eyes or the skin below them reach past the photo's edge, where the padding would
    be read as the face."""
    eye_distance = float(np.linalg.norm(landmarks5[1] - landmarks5[0]))
    near_eyes = np.zeros(crop.shape[:2], np.uint8)
    for x, y in landmarks5[:2]:
        cv2.ellipse(near_eyes, (round(x), round(y + 0.05 * eye_distance)), (round(0.55 * eye_distance), round(0.45 * eye_distance)),
                    0, 0, 360, 1, -1)
    x0, y0, x1, y1 = skin_box = _skin_below_lenses(landmarks5)
    eyes_x0, eyes_x1 = landmarks5[:2, 0].min() - 0.3 * eye_distance, landmarks5[:2, 0].max() + 0.3 * eye_distance
    eyes_y0 = landmarks5[:2, 1].min() - 0.2 * eye_distance
    if inside is not None and not (inside[max(y0, 0):y1, max(x0, 0):x1].all()
                                   and inside[max(round(eyes_y0), 0):y1, max(round(eyes_x0), 0):round(eyes_x1) + 1].all()):
        return None
    lab = cielab(crop)
    dark = (lab[..., 0] < LENS_DARKER * skin_cielab(lab, skin_box)[0]).astype(np.uint8)
    # Only near each eye (not the hair beside it), gaps and a lens' reflections closed.
    kernel = np.ones((2 * max(1, round(0.08 * eye_distance)) + 1,) * 2, np.uint8)
    lenses = cv2.morphologyEx(dark * near_eyes, cv2.MORPH_CLOSE, kernel) * near_eyes
    if min(_eye_shares(lenses, landmarks5, eye_distance)) < LENS_COVERS:
        return None
    count, labels = cv2.connectedComponents(lenses)
    keep = np.zeros(dark.shape, np.uint8)
    for x, y in landmarks5[:2]:  # the dark blob under each eye, not specks elsewhere in the window
        eye = labels[max(round(y) - 1, 0):round(y) + 2, max(round(x) - 1, 0):round(x) + 2]
        found = np.bincount(eye.ravel(), minlength=count)
        found[0] = 0
        if found.any():
            keep[labels == found.argmax()] = 1
    contours, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(keep, contours, -1, 1, -1)
    return keep.astype(np.float32) if keep.any() else None


def hide_lenses(crop: np.ndarray, landmarks5: np.ndarray, lenses: np.ndarray, portrait: np.ndarray) -> np.ndarray:
    """``crop`` with the average ``portrait``'s eyes (aligned to the same template, any size) where ``lenses`` is,
    their colour moved to the crop's skin, faded in over a seam. ``landmarks5``: the template's points in the
    crop's pixels."""
    height, width = crop.shape[:2]
    if portrait.shape[:2] != (height, width):
        portrait = cv2.resize(portrait, (width, height), interpolation=cv2.INTER_AREA)
    crop_lab, portrait_lab = cielab(crop), cielab(portrait)
    skin_box = _skin_below_lenses(landmarks5)  # the cheeks just under the eyes lie under large lenses
    crop_skin, portrait_skin = skin_cielab(crop_lab, skin_box), skin_cielab(portrait_lab, skin_box)
    eyes = cv2.cvtColor(np.clip(np.round(portrait_lab + (crop_skin - portrait_skin)), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    eye_distance = float(np.linalg.norm(landmarks5[1] - landmarks5[0]))
    # A little past the lens' edge, so that no dark rim of the frame is left for the generator to draw.
    grown = cv2.dilate(lenses, np.ones((2 * max(1, round(0.06 * eye_distance)) + 1,) * 2, np.uint8))
    fade = cv2.GaussianBlur(grown, (0, 0), max(0.05 * eye_distance, 0.5))[..., None]
    return np.clip(np.round(crop * (1 - fade) + eyes.astype(np.float32) * fade), 0, 255).astype(np.uint8)


LENS_COLOUR = np.array([34, 36, 44], np.float32)
SHEEN = 40.0  # how much lighter the reflection stripes are
RIM_COLOUR = (12, 12, 14)


def draw_sunglasses(cartoon: np.ndarray, lenses: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """Flat cartoon sunglasses on ``cartoon`` (RGB uint8, the aligned crop's framing at any size): the ``lenses``
    filled dark with reflection stripes on their upper half, a black rim and a bridge between them.
    ``landmarks5``: the template's points in the pixels of ``lenses``."""
    height, width = cartoon.shape[:2]
    scale = width / lenses.shape[1]
    points = landmarks5 * scale
    eye_distance = float(np.linalg.norm(points[1] - points[0]))
    # The lenses' outline smoothed before it is cut at half, so that a 128-px mask drawn large has no stairs.
    smooth = cv2.GaussianBlur(cv2.resize(lenses, (width, height), interpolation=cv2.INTER_LINEAR), (0, 0), max(0.04 * eye_distance, 0.5))
    lens = (smooth > 0.5).astype(np.uint8)
    rows, columns = np.mgrid[0:height, 0:width]
    stripes = (columns - 0.8 * rows) % max(2.0, 0.9 * eye_distance) < 0.12 * eye_distance
    glass = np.where((stripes & (rows < points[:2, 1].mean()))[..., None], LENS_COLOUR + SHEEN, LENS_COLOUR)
    drawn = np.ascontiguousarray(np.where(lens[..., None] > 0, glass, cartoon), np.float32)  # OpenCV draws on C order only
    rim = max(1, round(0.06 * eye_distance))
    contours, _ = cv2.findContours(lens, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(drawn, contours, -1, RIM_COLOUR, rim, cv2.LINE_AA)
    # The bridge: from the inner edge of one lens to the other, a little above the eyes.
    left, right = sorted(points[:2].tolist())
    y = round((left[1] + right[1]) / 2 - 0.1 * eye_distance)
    inner = [x for x in range(round(left[0]), round(right[0]) + 1) if 0 <= x < width and 0 <= y < height and not lens[y, x]]
    if inner:
        cv2.line(drawn, (inner[0], y), (inner[-1], y), RIM_COLOUR, rim, cv2.LINE_AA)
    return np.clip(np.round(drawn), 0, 255).astype(np.uint8)
