"""The photo's backdrop keyed to white: MediaPipe's selfie segmentation (person against background), run with LiteRT.

The ``bitmoji`` styles learned from CelebAMask-HQ portraits cut out onto white, and drew a casual photo's walls,
trees and crowds into the cartoon (HELEN test photos: KID 13.7 against 7.4 for CelebA's framing, docs/models.md).
A style that says ``"backdrop": "white"`` in style.json has each aligned crop's background replaced by white before
it is translated, so it sees the framing it learned.

The model (``selfie_segmentation.tflite``, 256×256, Apache 2.0) ships inside the ``mediapipe`` wheel, whose own
dependencies (numpy < 2, protobuf 4, jax) would break this environment: install it with
``pip install --no-deps mediapipe==0.10.21``. The package is located with ``importlib.util.find_spec``, which does not
execute it. Nothing is downloaded. Without it a style keys nothing and says so once.

Never a hole in a face: the segmenter, made for selfies with surroundings, can lose a face that fills the whole
crop, so an ellipse over the face (from its 5 points: brows to chin, temple to temple) is always kept.
"""

from __future__ import annotations

import threading
import warnings
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from toonbridge.errors import ToonbridgeError
from toonbridge.models.tflite import can_run, packaged_model, quiet_litert

MODEL_FILE = "modules/selfie_segmentation/selfie_segmentation.tflite"
INPUT_SIZE = 256
INSTALL_HINT = "pip install --no-deps mediapipe==0.10.21"


class SegmenterUnavailable(ToonbridgeError):
    """The selfie segmentation model or its runtime is not installed."""


def model_path() -> Path:
    return packaged_model("mediapipe", MODEL_FILE, INSTALL_HINT, SegmenterUnavailable)


def available() -> bool:
    return can_run(model_path)


class SelfieSegmenter:
    """One LiteRT interpreter; ``__call__`` is serialised because an interpreter is not re-entrant."""

    def __init__(self, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        with quiet_litert():
            self.interpreter = Interpreter(model_path=str(model_path()), num_threads=threads)
            self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """float32 mask of ``rgb``'s size: 1 on the person (face, hair, body), 0 on the background."""
        height, width = rgb.shape[:2]
        interpolation = cv2.INTER_AREA if max(height, width) > INPUT_SIZE else cv2.INTER_LINEAR
        tensor = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation).astype(np.float32) / 255
        with self.lock:
            self.interpreter.set_tensor(self.input_index, tensor[None])
            self.interpreter.invoke()
            mask = self.interpreter.get_tensor(self.output_index)[0, :, :, 0]
        return np.clip(cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


@cache
def segmenter() -> SelfieSegmenter | None:
    if not available():
        warnings.warn(f"the photo's backdrop is left as it is: {SegmenterUnavailable.__name__}: {INSTALL_HINT}", stacklevel=3)
        return None
    return SelfieSegmenter()


def face_ellipse(shape: tuple[int, ...], landmarks5: np.ndarray) -> np.ndarray:
    """float32 mask, 1 inside an ellipse over the face (brows to chin, temple to temple) with a soft edge, from its
    5 points (eyes, nose, mouth corners) in the image's pixels."""
    eyes, mouth = landmarks5[:2].mean(axis=0), landmarks5[3:5].mean(axis=0)
    eye_distance = float(np.linalg.norm(landmarks5[0] - landmarks5[1]))
    down = mouth - eyes
    angle = float(np.degrees(np.arctan2(down[0], down[1])))
    top, bottom = eyes - down * 1.1, mouth + down * 0.9  # brows to chin, in eye-to-mouth lengths
    centre = (top + bottom) / 2
    axes = (0.95 * eye_distance, float(np.linalg.norm(bottom - top)) / 2)
    mask = np.zeros(shape[:2], np.float32)
    scale = 16  # cv2.ellipse takes integer pixels; draw at 1/16 px
    cv2.ellipse(mask, (int(round(centre[0] * scale)), int(round(centre[1] * scale))),
                (int(round(axes[0] * scale)), int(round(axes[1] * scale))), -angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    return cv2.GaussianBlur(mask, (0, 0), max(eye_distance * 0.06, 0.5))


def person_mask(image: np.ndarray, landmarks5: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray | None:
    """How surely each pixel of an aligned crop (RGB uint8) is the person, 0-1, by the segmenter: the face's ellipse
    always, and everything where ``inside`` is 0 (past the photo's edge: the style's padding, not the photo's
    backdrop). None when the segmenter is not installed."""
    model = segmenter()
    if model is None:
        return None
    keep = np.maximum(model(image), face_ellipse(image.shape, landmarks5))
    return keep if inside is None else np.where(inside > 0, keep, 1.0)


def key_to_white(image: np.ndarray, landmarks5: np.ndarray, inside: np.ndarray | None = None,
                 person: np.ndarray | None = None) -> np.ndarray:
    """``image`` (an aligned crop, RGB uint8) with its background blended to white by :func:`person_mask` (or
    ``person``, that mask already computed). Unchanged when the segmenter is not installed."""
    keep = person_mask(image, landmarks5, inside) if person is None else person
    if keep is None:
        return image
    keep = keep[:, :, None]
    return np.clip(np.round(image.astype(np.float32) * keep + 255.0 * (1 - keep)), 0, 255).astype(np.uint8)
