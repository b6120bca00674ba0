"""Face detection with 68-point landmarks: dlib's HOG detector, its CNN (MMOD) detector, or HOG with a CNN fallback.

Measured on ``../shared/data/helen_test`` (see docs/benchmarks.md): HOG alone misses a few strongly turned or
tilted faces that the CNN finds, but the CNN costs ~1 s per photo on 2 cores, so ``auto`` (the default) only runs
it on photos where HOG found nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from toonbridge.faces import _dlib_models
from toonbridge.faces.landmarks import five_from_68
from toonbridge.imageio import ImageInput, load_image

DetectorMethod = Literal["auto", "hog", "cnn"]

# The shape predictor was trained on HOG boxes. MMOD boxes sit higher and are a little smaller; scripts/
# calibrate_cnn_boxes.py measured the mapping on 190 faces of ../shared/data/helen (train) that both detectors
# find: centre +0.04 box widths right and +0.07 down, width ×1.05. It lowers the CNN path's landmark NME there from
# 0.035 to 0.029.
_CNN_TO_HOG_SHIFT_X = 0.04
_CNN_TO_HOG_SHIFT_Y = 0.07
_CNN_TO_HOG_SCALE = 1.05


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
    # In ``auto`` mode, HOG detections with a margin below this are kept only if the CNN also finds a face there
    # (a quick look at a small crop): weak HOG hits are where its false positives are (badges, patterns).
    verify_below: float = 0.5


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
        if self.config.method not in ("auto", "hog", "cnn"):
            raise ValueError(f"unknown detector method {self.config.method!r}; choose auto, hog or cnn")

    def __call__(self, image: ImageInput) -> list[Face]:
        rgb = load_image(image)
        if min(rgb.shape[:2]) < 8:  # nothing can be recognised as a face; dlib would only waste time
            return []
        method = self.config.method
        boxes: list[tuple[np.ndarray, float, str]] = []
        if method in ("auto", "hog"):
            boxes = self._hog_boxes(rgb)
        if method == "auto":
            boxes = [b for b in boxes if b[1] >= self.config.verify_below or self._cnn_confirms(rgb, b[0])]
        if method == "cnn" or (method == "auto" and not boxes):
            boxes = self._cnn_boxes(rgb)
        faces = [self._fit_landmarks(rgb, box, score, name) for box, score, name in boxes]
        return sorted(faces, key=lambda face: (face.box[0], face.box[1]))

    def _hog_boxes(self, rgb: np.ndarray):
        scale = min(1.0, self.config.max_side / max(rgb.shape[:2]))
        search = _resized(rgb, scale)
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
            x0, y0, x1, y1 = _rect_to_box(detection.rect) / scale
            width = (x1 - x0) * _CNN_TO_HOG_SCALE
            cx = (x0 + x1) / 2 + _CNN_TO_HOG_SHIFT_X * (x1 - x0)
            cy = (y0 + y1) / 2 + _CNN_TO_HOG_SHIFT_Y * (x1 - x0)
            box = np.array([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2])
            found.append((box, float(detection.confidence), "cnn"))
        return found

    def _cnn_confirms(self, rgb: np.ndarray, box: np.ndarray) -> bool:
        """Run the CNN on a crop twice the box's size, scaled so the face is ~100 px wide."""
        x0, y0, x1, y1 = box
        width = x1 - x0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
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
    """Every face in ``image`` (a path, bytes, PIL image or RGB array), left to right, each with 68 landmarks."""
    config = DetectorConfig(method=method)
    detector = _default_detectors.setdefault(config, FaceDetector(config))
    return detector(image)
