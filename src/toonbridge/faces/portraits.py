"""Average portraits: what a style sees past the photo's edge when a face fills the frame (style padding "portrait").

A profile picture or passport photo ends at the head, so its aligned crop reaches past the photo; the `bitmoji`
generators learned from whole-head portraits on white and draw what they are shown there: skin-coloured padding
became blotches and woman-like cartoons, white padding a hairless square tile that reads as a man
(docs/models.md). Filled instead with the average aligned training portrait of the face's gender, the crop shows
a head with hair of that gender's typical outline, and the cartoon gets one. For a style that asks
(``portrait_hair``), the portrait's hair is moved to the colour of the hair the crop shows above the brows
(:func:`photo_hair_colour`, :class:`Portrait`), so a black- or grey-haired person is not given the average's.

The file (``weights/padding/portraits.safetensors``) holds one uint8 H×W×3 image per gender, on the template
named in its metadata: the per-pixel mean of 1,000 aligned CelebA training portraits for women, their median for
men (the median keeps the short hairline most men share; the mean's brown halo down to the jaw was drawn as long
hair), in which no one is recognisable (``scripts/make_mean_portraits.py`` rebuilds it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
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


# The person's hair colour on the portrait. The average portrait's hair is brown (women) or dark (men) whoever the
# person is; a dark-haired woman or a grey-haired man that fills the frame got it past the photo's edge. What shows
# of the hair above the brows is read from the crop where the segmenter finds the person (faces.backdrop), and the
# portrait's hair is moved to that colour in CIELAB. A first probe without the segmenter read walls and caps as
# hair; with it, the backdrop no longer counts. On 200 CelebA faces cut like UTKFace chips `bitmoji` keeps the
# hair colour of 61.5 % instead of 40.5 %; blond on warm skin is mostly not read (docs/models.md).
# Under this distance from the face's skin a pixel counts as skin (forehead, bald head): CIELAB with lightness at
# half weight (:func:`_skin_distance`), since a lit forehead differs from the cheeks in lightness, hair in hue.
SKIN_DISTANCE = 12.0
WHITE_DISTANCE = 40.0  # RGB distance from white under which a pixel is blown out or white, not hair
# The hair is read off the crop before its backdrop is keyed white, where the segmenter takes it for the person. Read
# off the keyed crop, the mask's soft edge blended a short-haired head with the white, and those greys were much of
# the "hair": of 239 UTKFace chips, 7 dark-skinned heads read as grey or white hair (0 now) and 25 reads were lighter
# than the skin (14 now: blond children, babies' scalps, light headscarves).
PERSON_SURE = 0.5
MIN_HAIR_PIXELS = 40  # at 128 px: fewer, and the colour is not known (a bald head, a chip cut at the brows)
# Hair is read this far above the eyes and higher (eye-to-mouth lengths; the brows are at about 0.3).
HAIR_ABOVE_EYES = 0.4
# A colour read nearer the skin than this is the forehead in shadow or a skin-coloured cap seen at the temples of
# a chip cut at the brows (UTKFace babies came out blond), not hair: the portrait keeps its own.
HAIR_FROM_SKIN = 1.5 * SKIN_DISTANCE
# A colour more vivid than this (CIELAB chroma) is a hat, a headscarf or a hood: 7 of 174 colours read from 239
# UTKFace chips, all red, pink or yellow headwear, while the vividest of 223 read from cut CelebA photos, red and
# blond hair, reached 44. The portrait keeps its own hair.
HAIR_CHROMA_MAX = 48.0
# A colour lighter than the skin and nearly grey (chroma under this) is white hair or a baby's pale scalp. The
# Bitmoji generator has no white hair and draws either blond, and the pale portrait washes the face out with it (a
# dim, white-haired old woman; babies drawn with blotched grey crowns): the portrait keeps its own hair.
PALE_CHROMA_MAX = 14.0


def cielab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB as OpenCV's 8-bit scale (L 0-255, a and b offset by 128), float32, same shape."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)


def face_geometry(shape: tuple[int, ...], landmarks5: np.ndarray):
    """(the face's ellipse mask, the skin's box, the eyes' and the mouth's height, eye-to-mouth length)."""
    from toonbridge.faces.backdrop import face_ellipse

    eyes_y, mouth_y = float(landmarks5[:2, 1].mean()), float(landmarks5[3:5, 1].mean())
    down = mouth_y - eyes_y
    # Skin: between the eyes' columns, from just under the eyes to just above the mouth (cheeks and nose).
    skin_box = (int(landmarks5[0, 0]), int(eyes_y + 0.3 * down), int(landmarks5[1, 0]) + 1, int(mouth_y - 0.2 * down) + 1)
    return face_ellipse(shape, landmarks5), skin_box, eyes_y, mouth_y, down


def skin_cielab(lab: np.ndarray, skin_box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = skin_box
    return np.median(lab[max(y0, 0):y1, max(x0, 0):x1].reshape(-1, 3), axis=0)


def _skin_distance(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Per pixel: CIELAB distance from ``skin`` with lightness at half weight (OpenCV's 8-bit L is 2.55× CIELAB's)."""
    difference = lab - skin
    difference[..., 0] /= 2.55 * 2
    return np.linalg.norm(difference, axis=-1)


def photo_hair_colour(crop: np.ndarray, inside: np.ndarray, landmarks5: np.ndarray, person: np.ndarray) -> np.ndarray | None:
    """The median CIELAB colour of the hair a crop shows above the brows; None where too little shows or the colour
    is not one to draw as hair (near the skin, a hat's, pale grey). ``crop``: the aligned crop, not keyed; ``inside``: 1 where it lies in the photo; ``person``: the segmenter's
    mask of the person in it (faces.backdrop.person_mask)."""
    height, width = crop.shape[:2]
    scale = height / 128
    lab = cielab(crop)
    ellipse, skin_box, eyes_y, _, down = face_geometry(crop.shape, landmarks5)
    kernel = np.ones((max(1, round(5 * scale)),) * 2, np.uint8)  # off the photo's edge, where the padding seam is
    rows = np.arange(height)[:, None]
    skin = skin_cielab(lab, skin_box)
    hair = ((cv2.erode(inside.astype(np.uint8), kernel) > 0) & (person >= PERSON_SURE)
            & (np.linalg.norm(crop.astype(np.float32) - 255.0, axis=2) > WHITE_DISTANCE)
            & (_skin_distance(lab, skin) > SKIN_DISTANCE)
            & (ellipse < 0.1) & (rows < eyes_y - HAIR_ABOVE_EYES * down))
    if hair.sum() < MIN_HAIR_PIXELS * scale * scale:
        return None
    colour = np.median(lab[hair], axis=0)
    chroma = np.hypot(colour[1] - 128, colour[2] - 128)
    vivid, pale = chroma > HAIR_CHROMA_MAX, chroma < PALE_CHROMA_MAX and colour[0] > skin[0]
    return colour if _skin_distance(colour, skin) > HAIR_FROM_SKIN and not vivid and not pale else None


@functools.lru_cache(maxsize=8)
def _portrait_hair(template: str, gender: str) -> tuple[np.ndarray, np.ndarray]:
    """(how much each pixel of a mean portrait is hair, 0-1; the CIELAB mean of its hair): not the white
    backdrop, not its skin, outside its face's ellipse, above its chin."""
    from toonbridge.faces.templates import get_template

    portrait, frame = mean_portraits()[1][gender], get_template(template)
    points = frame.points_at(portrait.shape[1])
    lab = cielab(portrait)
    ellipse, skin_box, _, mouth_y, down = face_geometry(portrait.shape, points)
    rows = np.arange(portrait.shape[0])[:, None]
    not_backdrop = np.clip(np.linalg.norm(lab - np.array([255.0, 128.0, 128.0]), axis=2) / 80, 0, 1)
    not_skin = np.clip((np.linalg.norm(lab - skin_cielab(lab, skin_box), axis=2) - 8) / 20, 0, 1)
    above_chin = 1 - np.clip((rows - (mouth_y + 0.9 * down)) / (0.3 * down), 0, 1)
    hairness = (not_backdrop * not_skin * (1 - ellipse) * above_chin).astype(np.float32)
    return hairness, (lab * hairness[..., None]).sum((0, 1)) / hairness.sum()


@dataclass(frozen=True)
class Portrait:
    """What fills a crop past the photo's edge: the mean portrait of ``gender``, its hair moved to ``hair`` (CIELAB;
    None: its own colour). A video chooses it once per tracked face, so the head around it cannot flicker."""
    gender: str
    hair: tuple[float, float, float] | None = None

    def image(self) -> np.ndarray:
        return with_hair_colour(self.gender, None if self.hair is None else np.asarray(self.hair, np.float32))


def with_hair_colour(gender: str, colour: np.ndarray | None) -> np.ndarray:
    """The mean portrait of ``gender`` with its hair moved to ``colour`` (CIELAB, :func:`photo_hair_colour`);
    the portrait as it is where the colour is not known."""
    template, portraits = mean_portraits()
    if colour is None:
        return portraits[gender]
    hairness, mean = _portrait_hair(template, gender)
    moved = cielab(portraits[gender]) + hairness[..., None] * (np.asarray(colour, np.float32) - mean)
    return cv2.cvtColor(np.clip(np.round(moved), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
