"""Our pretrained face network: dlib's face-recognition ResNet, converted to PyTorch, with dlib's face chips.

``face_network()`` reads ``dlib_face_recognition_resnet_model_v1.dat`` from the installed ``face_recognition_models``
wheel with our own reader (:mod:`toonbridge.faces.dlib_format`), once, and caches it as safetensors under
``<cache>/face_features/``; later calls load the cache. ``face_descriptor(photo, face)`` gives what dlib's
``compute_face_descriptor(photo, shape)`` gives for the same 68 landmarks: the chip is cut by dlib itself
(``get_face_chip``, 150 px, padding 0.25), the network is ours.

For training, :func:`chips_from_aligned` cuts the same chip from a batch of aligned crops inside the autograd graph:
the crops' 5 points are mapped by a least-squares similarity onto where dlib's chip puts them
(:data:`DLIB_CHIP_POINTS5`), and the crop is resampled bilinearly, so gradients reach whatever drew the crop.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path

import numpy as np
import torch

from toonbridge.cache import cache_root
from toonbridge.errors import ToonbridgeError
from toonbridge.faces._dlib_models import model_path
from toonbridge.faces.detection import Face
from toonbridge.faces.dlib_format import read_dlib_face_resnet
from toonbridge.imageio import ImageInput, load_image
from toonbridge.ops.warp import invert_affine, similarity_matrices, warp_affine

DAT_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CONVERTED_FILE = "dlib_face_resnet_v1.safetensors"
CHIP_SIZE = 150
CHIP_PADDING = 0.25  # what compute_face_descriptor uses

# dlib's mean face shape (``get_face_chip_details`` in dlib/image_transforms/interpolation.h), landmarks 17–67 in a
# unit square; a chip of size s and padding p puts point m at (p + m) / (1 + 2p) · s.
_MEAN_SHAPE_X = (0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
                 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
                 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
                 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
                 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689)
_MEAN_SHAPE_Y = (0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
                 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326,
                 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423,
                 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
                 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182,
                 0.831803, 0.824182)


def _dlib_chip_points5() -> np.ndarray:
    from toonbridge.faces.landmarks import five_from_68

    mean68 = np.zeros((68, 2))
    mean68[17:] = np.stack([_MEAN_SHAPE_X, _MEAN_SHAPE_Y], axis=1)
    return (CHIP_PADDING + five_from_68(mean68)) / (1 + 2 * CHIP_PADDING) * CHIP_SIZE


# Where dlib's 150-px chip puts our 5 alignment points (eye centres, nose tip, mouth corners), in chip pixels.
DLIB_CHIP_POINTS5 = _dlib_chip_points5()


_lock = threading.Lock()


def face_network(device: str | torch.device = "cpu"):
    """dlib's face ResNet in PyTorch: frozen, in eval mode (one instance per device and process)."""
    return _face_network(str(torch.device(device)))


@cache
def _face_network(device: str):
    from toonbridge.models import load_network

    with _lock:
        converted = cache_root() / "face_features" / CONVERTED_FILE
        if not converted.is_file():
            convert_dlib_face_resnet(model_path(DAT_FILE), converted)
        try:
            network = load_network(converted)
        except ToonbridgeError:  # a damaged cache file: convert again
            convert_dlib_face_resnet(model_path(DAT_FILE), converted)
            network = load_network(converted)
    return network.to(device).eval().requires_grad_(False)


def convert_dlib_face_resnet(dat_path: str | Path, out_path: str | Path) -> Path:
    """Read dlib's ``.dat`` with our reader and write the network as self-describing safetensors."""
    from toonbridge.models import build, save_network

    layers = [layer for layer in read_dlib_face_resnet(dat_path) if layer.kind in ("con", "affine", "fc")]
    network = build("dlib_face_resnet")
    targets = [(network.stem, "con"), (network.stem_affine, "affine")]
    for block in network.blocks:
        targets += [(block.conv1, "con"), (block.affine1, "affine"), (block.conv2, "con"), (block.affine2, "affine")]
    targets.append((network.fc, "fc"))
    with torch.no_grad():
        for (module, kind), layer in zip(targets, layers, strict=True):
            _copy_layer(module, kind, layer)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    info = {"source": Path(dat_path).name, "source_bytes": os.path.getsize(dat_path),
            "note": "dlib's face-recognition ResNet (public domain, Davis King), converted by toonbridge"}
    return save_network(network, "dlib_face_resnet", {}, out_path, info)


def _copy_layer(module: torch.nn.Module, kind: str, layer) -> None:
    if layer.kind != kind:
        raise ToonbridgeError(f"dlib's file has a {layer.kind} layer where the network has {kind}")
    if kind == "con":
        if tuple(module.stride) != layer.options["stride"] or tuple(module.padding) != layer.options["padding"]:
            raise ToonbridgeError(f"a convolution of dlib's file has stride {layer.options['stride']} and padding "
                                  f"{layer.options['padding']}, the network {module.stride} and {module.padding}")
    for name, value in layer.tensors.items():
        target = getattr(module, name)
        if tuple(target.shape) != value.shape:
            raise ToonbridgeError(f"dlib's {kind} {name} has shape {value.shape}, the network {tuple(target.shape)}")
        target.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _dlib_shape(face: Face):
    """The dlib detection object for ``face`` (box and 68 points, rounded to pixels as dlib stores them)."""
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    points = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks68]
    return dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1), points)


def face_chip(photo: ImageInput, face: Face) -> np.ndarray:
    """dlib's 150-px face chip (padding 0.25) of ``face``: what its face-recognition network reads. RGB uint8."""
    import dlib

    return np.asarray(dlib.get_face_chip(load_image(photo), _dlib_shape(face), size=CHIP_SIZE, padding=CHIP_PADDING))


def chip_tensor(chips: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """RGB uint8 chips (one H×W×3 or a list) → B×3×150×150 float pixels in [0, 255], as the network takes them."""
    stacked = np.stack(chips) if isinstance(chips, list) else np.asarray(chips)[None]
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).float()


@torch.no_grad()
def face_descriptor(photo: ImageInput, face: Face) -> np.ndarray:
    """The 128-d descriptor of ``face`` (a detection in ``photo``), shape (128,), float32: dlib's, by our network."""
    return face_network()(chip_tensor(face_chip(photo, face)))[0].numpy().astype(np.float32)


def chips_from_aligned(images: torch.Tensor, points5: torch.Tensor) -> torch.Tensor:
    """Differentiable dlib chips: B×3×150×150 in [-1, 1] from aligned crops (B×3×H×W in [-1, 1], any template)
    and each crop's 5 points (B×5×2, or 5×2 for all, in crop pixels)."""
    points5 = points5.to(images.device, torch.float32)
    if points5.ndim == 2:
        points5 = points5.expand(images.shape[0], -1, -1)
    chip_points = torch.as_tensor(DLIB_CHIP_POINTS5, dtype=torch.float32, device=images.device)
    crop_to_chip = similarity_matrices(points5, chip_points)
    return warp_affine(images, invert_affine(crop_to_chip), (CHIP_SIZE, CHIP_SIZE))
