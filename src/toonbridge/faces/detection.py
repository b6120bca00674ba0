"""Face detection with 68-point landmarks.

``auto`` (the default) finds faces with MediaPipe's BlazeFace over tiles of the photo (``faces/blazeface.py``) and
fits dlib's 68 landmarks in each box. On photos as people take them (benchmarks/faces_wild.py: group shots with
faces of 25-150 px, small HELEN photos, faces that fill the frame) it finds 0.98 of the faces ≥ 30 px wide where
dlib's HOG with a CNN fallback finds 0.78; on HELEN test both find all. Without the BlazeFace wheel, ``auto`` falls
back to ``dlib``: HOG, with the CNN to confirm weak hits and to search photos where HOG finds nothing.
``thorough`` adds finer tiles and an upsampled HOG search, for photos where every face counts more than time.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from toonbridge.faces import _dlib_models, blazeface
from toonbridge.faces.landmarks import five_from_68
from toonbridge.imageio import ImageInput, load_image

DetectorMethod = Literal["auto", "blazeface", "thorough", "dlib", "hog", "cnn"]
DETECTOR_METHODS = ("auto", "blazeface", "thorough", "dlib", "hog", "cnn")


@dataclass(frozen=True)
class BoxToHog:
    """Where dlib's shape predictor wants a detector's box: it was trained on HOG boxes. Centre shifts in box
    widths, and the width ratio, measured by scripts/calibrate_detector_boxes.py on ../shared/data/helen (train)
    faces that both detectors find."""

    shift_x: float
    shift_y: float
    scale: float

    def apply(self, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = box
        width = (x1 - x0) * self.scale
        cx = (x0 + x1) / 2 + self.shift_x * (x1 - x0)
        cy = (y0 + y1) / 2 + self.shift_y * (x1 - x0)
        return np.array([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2])


# MMOD boxes sit higher and are a little smaller (190 faces; landmark NME 0.035 -> 0.029 with the mapping);
# BlazeFace boxes are a little larger (189 faces).
BOX_TO_HOG = {"cnn": BoxToHog(0.04, 0.07, 1.05), "blazeface": BoxToHog(0.0, 0.025, 0.945)}


@dataclass(frozen=True)
class DetectorConfig:
    method: DetectorMethod = "auto"
    # Photos are searched at most this large (longer side); bigger ones are downscaled for the search only.
    max_side: int = 1024
    # Below this size (longer side) the HOG search runs on a 2× upsampled image, so faces down to ~40 px are found.
    upsample_below: int = 512
    # HOG SVM margin a detection must reach (dlib's default is 0).
    hog_threshold: float = 0.0
    # The CNN is slow; it searches a copy whose longer side is at most this.
    cnn_max_side: int = 512
    cnn_threshold: float = 0.3
    # BlazeFace tiles: the default finds faces from ~30 px; ``thorough`` uses smaller tiles (faces from ~20 px)
    # and a lower score threshold.
    tiles: blazeface.TileOptions = blazeface.TileOptions()
    thorough_tiles: blazeface.TileOptions = blazeface.TileOptions(tile=192, overlap=64, threshold=0.4)
    # In ``dlib`` and ``thorough`` modes, HOG detections with a margin below this are kept only if the CNN also
    # finds a face there (a quick look at a small crop): weak HOG hits are where its false positives are (badges).
    verify_below: float = 0.5
    # The same for BlazeFace hits scoring below this (of 0-1) and at least ``blazeface_verify_from`` px wide: its
    # weak large hits are patterns and badges; small faces score low too, and a CNN run for each would add up.
    blazeface_verify_below: float = 0.65
    blazeface_verify_from: float = 64.0


@dataclass(frozen=True)
class Face:
    """One detected face. Coordinates are pixels of the (EXIF-upright) photo, pixel centres at integers."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    landmarks68: np.ndarray = field(repr=False)
    detector: str = "hog"

    @property
    def landmarks5(self) -> np.ndarray:
        return five_from_68(self.landmarks68)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "detector": self.detector,
            "landmarks68": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks68],
        }


class FaceDetector:
    """Finds every face in a photo and fits 68 landmarks to each."""

    def __init__(self, config: DetectorConfig | None = None):
        self.config = config or DetectorConfig()
        if self.config.method not in DETECTOR_METHODS:
            raise ValueError(f"unknown detector method {self.config.method!r}; choose one of {', '.join(DETECTOR_METHODS)}")
        self.method = self.config.method
        if self.method in ("blazeface", "thorough") and not blazeface.available():
            # Said once, before any photo: otherwise every photo of a batch fails with the same message.
            raise blazeface.DetectorUnavailable(f"the {self.method} detector needs BlazeFace ({blazeface.INSTALL_HINT})")
        if self.method == "auto":
            self.method = "blazeface" if blazeface.available() else "dlib"
            if self.method == "dlib":
                _note_once(f"note: BlazeFace is not installed ({blazeface.INSTALL_HINT}); detecting with dlib, "
                           "which misses more small faces")

    def __call__(self, image: ImageInput) -> list[Face]:
        rgb = load_image(image)
        if min(rgb.shape[:2]) < 8:  # nothing can be recognised as a face; the detectors would only waste time
            return []
        boxes = self._boxes(rgb)
        faces = [self._fit_landmarks(rgb, box, score, name) for box, score, name in boxes]
        return sorted(faces, key=lambda face: (face.box[0], face.box[1]))

    def _boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float, str]]:
        method = self.method
        if method == "blazeface":
            found = self._blazeface_boxes(rgb, self.config.tiles)
            kept = [hit for hit in found if hit[1] >= self.config.blazeface_verify_below
                    or hit[0][2] - hit[0][0] < self.config.blazeface_verify_from or self._cnn_confirms(rgb, hit[0], pad=True)]
            # Nothing at all: ask HOG too (cheap), for the rare face BlazeFace scores low (1 in 300 UTKFace chips).
            return kept or [hit for hit in self._hog_boxes(rgb) if hit[1] >= self.config.verify_below or self._cnn_confirms(rgb, hit[0])]
        if method == "thorough":
            found = self._blazeface_boxes(rgb, self.config.thorough_tiles)
            extra = [hit for hit in self._hog_boxes(rgb, upsample=1) if not _same_face(hit[0], found)]
            return found + [hit for hit in extra if hit[1] >= self.config.verify_below or self._cnn_confirms(rgb, hit[0])]
        boxes = self._hog_boxes(rgb) if method in ("dlib", "hog") else []
        if method == "dlib":
            boxes = [b for b in boxes if b[1] >= self.config.verify_below or self._cnn_confirms(rgb, b[0])]
        if method == "cnn" or (method == "dlib" and not boxes):
            boxes = self._cnn_boxes(rgb)
        return boxes

    def _blazeface_boxes(self, rgb: np.ndarray, tiles: blazeface.TileOptions):
        scale = min(1.0, self.config.max_side / max(rgb.shape[:2]))
        boxes, scores = blazeface.find_faces(_resized(rgb, scale), tiles)
        return [(BOX_TO_HOG["blazeface"].apply(box / scale), float(score), "blazeface") for box, score in zip(boxes, scores)]

    def _hog_boxes(self, rgb: np.ndarray, upsample: int | None = None):
        scale = min(1.0, self.config.max_side / max(rgb.shape[:2]))
        search = _resized(rgb, scale)
        if upsample is None:
            upsample = 1 if max(search.shape[:2]) < self.config.upsample_below else 0
        rects, scores, _ = _dlib_models.hog_detector().run(search, upsample, self.config.hog_threshold)
        return [(_rect_to_box(rect) / scale, float(score), "hog") for rect, score in zip(rects, scores)]

    def _cnn_boxes(self, rgb: np.ndarray):
        scale = min(1.0, self.config.cnn_max_side / max(rgb.shape[:2]))
        search = _resized(rgb, scale)
        upsample = 1 if max(search.shape[:2]) < self.config.upsample_below // 2 else 0
        found = []
        for detection in _dlib_models.cnn_detector()(search, upsample):
            if detection.confidence < self.config.cnn_threshold:
                continue
            box = BOX_TO_HOG["cnn"].apply(_rect_to_box(detection.rect) / scale)
            found.append((box, float(detection.confidence), "cnn"))
        return found

    def _cnn_confirms(self, rgb: np.ndarray, box: np.ndarray, pad: bool = False) -> bool:
        """Run the CNN on a crop twice the box's size, scaled so the face is ~100 px wide. ``pad``: where the crop
        reaches past the photo, fill with black instead of cutting it off, so a face that fills the frame (which
        the CNN misses without surroundings) can still be confirmed."""
        x0, y0, x1, y1 = box
        width = x1 - x0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if pad:
            left, top, side = int(cx - width), int(cy - width), int(2 * width)
            shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]])  # a whole-pixel shift: an exact copy
            crop = cv2.warpAffine(rgb, shift, (side, side), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        else:
            left, top = int(max(cx - width, 0)), int(max(cy - width, 0))
            right, bottom = int(min(cx + width, rgb.shape[1])), int(min(cy + width, rgb.shape[0]))
            crop = np.ascontiguousarray(rgb[top:bottom, left:right])
        scale = 100.0 / max(width, 1.0)
        crop = _resized(crop, scale) if scale < 1 else cv2.resize(crop, None, fx=scale, fy=scale)
        for detection in _dlib_models.cnn_detector()(crop, 0):
            found = _rect_to_box(detection.rect) / scale + (left, top, left, top)
            centre_x, centre_y = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
            if detection.confidence >= self.config.cnn_threshold and x0 <= centre_x <= x1 and y0 <= centre_y <= y1:
                return True
        return False

    def _fit_landmarks(self, rgb: np.ndarray, box: np.ndarray, score: float, detector: str) -> Face:
        import dlib

        x0, y0, x1, y1 = (int(round(v)) for v in box)
        rect = dlib.rectangle(x0, y0, x1 - 1, y1 - 1)
        shape = _dlib_models.shape_predictor_68()(rgb, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return Face(box=tuple(float(v) for v in box), score=score, landmarks68=points, detector=detector)


def _same_face(box: np.ndarray, others: list[tuple[np.ndarray, float, str]]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(o[0][0] <= cx <= o[0][2] and o[0][1] <= cy <= o[0][3] for o in others)


_notes_given: set[str] = set()


def _note_once(text: str) -> None:
    if text not in _notes_given:
        _notes_given.add(text)
        print(text, file=sys.stderr)


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _rect_to_box(rect) -> np.ndarray:
    # dlib rectangles are inclusive; right()+1 makes x1-x0 the width in pixels.
    return np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float64)


_default_detectors: dict[DetectorConfig, FaceDetector] = {}


def detect(image: ImageInput, method: DetectorMethod = "auto") -> list[Face]:
    """Every face in ``image`` (a path, bytes, PIL image or RGB array), left to right, each with 68 landmarks.
    ``method``: ``auto`` (BlazeFace when installed, else ``dlib``), ``blazeface``, ``thorough``, ``dlib``, ``hog``
    or ``cnn``."""
    config = DetectorConfig(method=method)
    detector = _default_detectors.setdefault(config, FaceDetector(config))
    return detector(image)
