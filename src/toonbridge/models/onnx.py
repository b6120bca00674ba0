"""ONNX export of image-to-image networks and an onnxruntime runner that stands in for the PyTorch module.

Export uses the TorchScript exporter (``dynamo=False``; the dynamo one needs ``onnxscript``) at opset 17 with a
dynamic batch axis. Runtime is optional (``pip install toonbridge[onnx]``): :func:`onnx_available` says whether
onnxruntime can be imported, and :class:`OnnxNetwork` is called like the module it replaces (N×3×H×W float
tensor in, same out), so callers need no second code path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

import torch

from toonbridge.errors import ToonbridgeError

OPSET = 17


def onnx_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def export_onnx(network: torch.nn.Module, size: int, path: str | Path) -> Path:
    """Write ``network`` (3×size×size images in and out) as ONNX, atomically."""
    if importlib.util.find_spec("onnx") is None:
        raise ToonbridgeError("ONNX export needs the onnx package: pip install 'toonbridge[onnx]'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    example = torch.zeros(1, 3, size, size)
    network = network.eval().float()
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter warns about InstanceNorm's train flag (it always uses the input's statistics, as we want)
        # and about Slice constant folding; neither changes the graph's results (the parity test checks).
        warnings.simplefilter("ignore")
        # No constant folding at export: the TorchScript exporter's folding drops AdaLIN's ρ initializers that
        # it deduplicated (an invalid graph). onnxruntime folds constants itself when it loads the model.
        torch.onnx.export(network, (example,), str(partial), dynamo=False, opset_version=OPSET, do_constant_folding=False,
                          input_names=["image"], output_names=["output"],
                          dynamic_axes={"image": {0: "batch"}, "output": {0: "batch"}})
    partial.replace(path)
    return path


class OnnxNetwork:
    """An onnxruntime session with the calling convention of the PyTorch network it was exported from."""

    def __init__(self, path: str | Path, threads: int | None = None):
        if not onnx_available():
            raise ToonbridgeError("onnxruntime is not installed: pip install 'toonbridge[onnx]'")
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = images.detach().float().cpu().contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {"image": array})[0])


def cached_onnx(network: torch.nn.Module, weights: str | Path, size: int, cache_dir: Path, variant: str = "") -> Path:
    """The ONNX file for a safetensors network (``variant``: e.g. one group branch of it), exported once into
    ``cache_dir`` under a hash of its weights."""
    digest = hashlib.sha1(Path(weights).read_bytes()).hexdigest()[:16]
    path = cache_dir / f"{Path(weights).stem}{'-' + variant if variant else ''}-{size}-{digest}.onnx"
    return path if path.is_file() else export_onnx(network, size, path)
