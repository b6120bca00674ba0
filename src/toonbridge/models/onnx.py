"""ONNX export of image-to-image networks and an onnxruntime runner that stands in for the PyTorch module.

Export uses the TorchScript exporter (``dynamo=False``; the dynamo one needs ``onnxscript``) at opset 17 with a
dynamic batch axis. Runtime is optional (``pip install toonbridge[onnx]``): :func:`onnx_available` says whether
onnxruntime can be imported, and :class:`OnnxNetwork` is called like the module it replaces (N×3×H×W float
tensor in, same out), so callers need no second code path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from toonbridge.errors import ToonbridgeError

OPSET = 17


def onnx_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def export_onnx(network: torch.nn.Module, size: int, path: str | Path, any_size: bool = False) -> Path:
    """Write ``network`` (3×size×size images in and out; with ``any_size``, any height and width, for fully
    convolutional networks) as ONNX, atomically."""
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
                          dynamic_axes={name: {0: "batch", **({2: "height", 3: "width"} if any_size else {})} for name in ("image", "output")})
    partial.replace(path)
    return path


class OnnxNetwork:
    """An onnxruntime session with the calling convention of the PyTorch network it was exported from. ``finish``
    (inputs, outputs) -> outputs, on numpy arrays, runs after the session: the part of a network that runs faster
    outside the graph (see :func:`export_parts`)."""

    def __init__(self, path: str | Path, threads: int | None = None, finish=None):
        if not onnx_available():
            raise ToonbridgeError("onnxruntime is not installed: pip install 'toonbridge[onnx]'")
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.finish = finish
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # In numpy: a PyTorch copy kernel here wakes PyTorch's thread pool, which then spins against onnxruntime's
        # (+8 ms on a 47-ms int8 whitebox face, docs/benchmarks.md).
        tensor = images.detach().cpu()
        array = np.ascontiguousarray((tensor if tensor.dtype == torch.float32 else tensor.float()).numpy())
        outputs = self.session.run(None, {"image": array})[0]
        return torch.from_numpy(self.finish(array, outputs) if self.finish else outputs)


def export_parts(network: torch.nn.Module):
    """The module to export and the function to run on its session's output (None: nothing). A network that runs
    a step faster outside the graph says so with ``onnx_split()``; the rest export whole."""
    return network.onnx_split() if hasattr(network, "onnx_split") else (network, None)


def quantize_onnx(source: str | Path, target: str | Path, calibration: list[torch.Tensor]) -> Path:
    """Write an int8 copy of the ONNX model ``source`` to ``target``, atomically: static quantisation (QDQ, uint8
    activations, int8 weights per output channel), each activation's range the min and max it takes on the
    ``calibration`` images (1×3×H×W in [-1, 1]). onnxruntime runs the integer convolutions with AVX-512 VNNI where
    the CPU has it. Static rather than dynamic: dynamic quantisation leaves convolutions in float."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Images(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter({"image": image.detach().float().cpu().numpy()} for image in calibration)

        def get_next(self):
            return next(self.feeds, None)

    target = Path(target)
    prepared, partial = target.with_name(f".{target.name}.prepared"), target.with_name(f".{target.name}.partial")
    # The quantiser logs to the root logger (e.g. that a norm's 1-d scale has no channel axis): not the user's concern.
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Symbolic shape inference gives up on the any-size pads; ONNX's own inference is enough for QDQ.
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(partial), Images(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        partial.replace(target)
    finally:
        logging.disable(logging.NOTSET)
        prepared.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)  # only left when quantising failed: nothing half-written stays in the cache
    return target


def cached_onnx(network: torch.nn.Module, weights: str | Path, size: int, cache_dir: Path, variant: str = "",
                any_size: bool = False, calibration=None) -> Path:
    """The ONNX file for a safetensors network (``variant``: e.g. one group branch of it), exported once into
    ``cache_dir`` under a hash of its weights. ``calibration`` (a function returning images, called only when the
    file is made) asks for the int8 model, quantised with those images (:func:`quantize_onnx`)."""
    digest = hashlib.sha1(Path(weights).read_bytes()).hexdigest()[:16]
    stem = f"{Path(weights).stem}{'-' + variant if variant else ''}-{'any' if any_size else size}-{digest}"
    path = cache_dir / f"{stem}.onnx"
    if not path.is_file():
        export_onnx(network, size, path, any_size)
    if calibration is None:
        return path
    quantized = cache_dir / f"{stem}-int8.onnx"
    return quantized if quantized.is_file() else quantize_onnx(path, quantized, calibration())
