"""int8 networks on LiteRT (XNNPack): a network writes itself as a TFLite graph, LiteRT's own calibrator quantises it.

Why a second runtime beside onnxruntime: on these AVX-512 VNNI cores XNNPack's int8 convolutions ran the whitebox
U-Net at 512 px in 106 ms against onnxruntime's 184 (docs/benchmarks.md). There is no PyTorch → TFLite converter
without TensorFlow, but a small convolutional network is easy to write directly: :class:`TfliteGraph` writes
float32 TFLite flatbuffers with the schema classes that ship in ``ai-edge-litert`` (a network opts in with a
``tflite_parts()`` method), and :func:`quantize_tflite` makes it full-integer (int8 activations, per-channel int8
weights, float input and output) with the calibrator the TensorFlow converter uses, from the same wheel. Weights
still come only from safetensors: the .tflite file is derived on first use and cached under a hash of them.

A graph is written at one input size; :class:`TfliteNetwork` runs any size by rewriting the input shape and the
constant sizes of its bilinear upsamplings (each a fixed fraction of the input) and keeps one interpreter per size.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from toonbridge.errors import ToonbridgeError

INTERPRETERS_PER_THREAD = 4  # sizes kept ready: a face size and the whole-photo tiles, with room to spare


def packaged_model(package: str, relative: str, install_hint: str, error: type[ToonbridgeError]) -> Path:
    """A ``.tflite`` file shipped inside an installed wheel (MediaPipe's models), found with
    ``importlib.util.find_spec``, which does not execute the package (its ``__init__`` imports TensorFlow or jax,
    which we never install); ``error`` names ``install_hint`` when the wheel or the file is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise error(f"{Path(relative).name} needs the {package} package ({install_hint})")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise error(f"{relative} is missing from the {package} package at {path.parent} ({install_hint})")
    return path


def can_run(model_path: Callable[[], Path]) -> bool:
    """Whether a packaged model (``model_path`` raises when it is missing) and LiteRT are both installed."""
    try:
        model_path()
    except ToonbridgeError:
        return False
    return importlib.util.find_spec("ai_edge_litert") is not None


@contextlib.contextmanager
def quiet_litert():
    """Silence LiteRT's C++ log lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") on stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _as_bytes(array: np.ndarray) -> np.ndarray:
    return np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)


class TfliteGraph:
    """A float32 TFLite graph in NHWC, written op by op from PyTorch layers; tensors are integer ids."""

    def __init__(self):
        self.schema = _schema()
        self.tensors, self.operators = [], []
        self.buffers = [self.schema.BufferT()]  # buffer 0: the empty buffer of every non-constant tensor
        self.opcodes: dict[int, int] = {}

    def tensor(self, shape: list[int], data: np.ndarray | None = None, int32: bool = False) -> int:
        tensor = self.schema.TensorT()
        tensor.shape, tensor.name = list(shape), f"t{len(self.tensors)}"
        tensor.type = self.schema.TensorType.INT32 if int32 else self.schema.TensorType.FLOAT32
        if data is not None:
            buffer = self.schema.BufferT()
            buffer.data = _as_bytes(data.astype(np.int32 if int32 else np.float32))
            self.buffers.append(buffer)
            tensor.buffer = len(self.buffers) - 1
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def shape(self, tensor: int) -> list[int]:
        return self.tensors[tensor].shape

    def _operator(self, name: str, inputs: list[int], output_shape: list[int], options=None) -> int:
        code = getattr(self.schema.BuiltinOperator, name)
        self.opcodes.setdefault(code, len(self.opcodes))
        output = self.tensor(output_shape)
        operator = self.schema.OperatorT()
        operator.opcodeIndex, operator.inputs, operator.outputs = self.opcodes[code], inputs, [output]
        if options is not None:
            operator.builtinOptionsType = getattr(self.schema.BuiltinOptions, type(options).__name__[:-1])
            operator.builtinOptions = options
        self.operators.append(operator)
        return output

    def conv(self, x: int, conv: nn.Conv2d) -> int:
        """A PyTorch convolution (zero padding, odd kernel, no groups or dilation). Stride 1 with ``kernel // 2``
        padding is TFLite's SAME; any other padding is an explicit PAD first, because SAME at stride 2 pads only
        the bottom and right where PyTorch pads every side."""
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"cannot write {conv} as TFLite")
        (kernel, _), (stride, _), (padding, _) = conv.kernel_size, conv.stride, conv.padding
        schema = self.schema
        same = stride == 1 and padding == kernel // 2
        if not same and padding:
            n, h, w, c = self.shape(x)
            pads = self.tensor([4, 2], np.array([[0, 0], [padding, padding], [padding, padding], [0, 0]]), int32=True)
            x = self._operator("PAD", [x, pads], [n, h + 2 * padding, w + 2 * padding, c], schema.PadOptionsT())
        n, h, w, _ = self.shape(x)
        weight = conv.weight.detach().float().numpy().transpose(0, 2, 3, 1)  # OIHW -> OHWI
        bias = conv.bias.detach().float().numpy() if conv.bias is not None else np.zeros(weight.shape[0], np.float32)
        options = schema.Conv2DOptionsT()
        options.padding = schema.Padding.SAME if same else schema.Padding.VALID
        options.strideH = options.strideW = stride
        size = (h, w) if same else ((h - kernel) // stride + 1, (w - kernel) // stride + 1)
        inputs = [x, self.tensor(weight.shape, weight), self.tensor(bias.shape, bias)]
        return self._operator("CONV_2D", inputs, [n, *size, weight.shape[0]], options)

    def leaky_relu(self, x: int, slope: float) -> int:
        options = self.schema.LeakyReluOptionsT()
        options.alpha = slope
        return self._operator("LEAKY_RELU", [x], self.shape(x), options)

    def layers(self, x: int, modules) -> int:
        """A ``nn.Sequential`` of convolutions and LeakyReLUs."""
        for module in modules:
            if isinstance(module, nn.Conv2d):
                x = self.conv(x, module)
            elif isinstance(module, nn.LeakyReLU):
                x = self.leaky_relu(x, module.negative_slope)
            else:
                raise ValueError(f"cannot write {module} as TFLite")
        return x

    def add(self, a: int, b: int) -> int:
        return self._operator("ADD", [a, b], self.shape(a), self.schema.AddOptionsT())

    def upsample(self, x: int) -> int:
        """×2 bilinear, as ``F.interpolate(..., mode="bilinear", align_corners=False)`` (half-pixel centres)."""
        n, h, w, c = self.shape(x)
        options = self.schema.ResizeBilinearOptionsT()
        options.halfPixelCenters = True
        size = self.tensor([2], np.array([2 * h, 2 * w]), int32=True)
        return self._operator("RESIZE_BILINEAR", [x, size], [n, 2 * h, 2 * w, c], options)

    def to_bytes(self, inputs: list[int], outputs: list[int]) -> bytes:
        schema = self.schema
        subgraph = schema.SubGraphT()
        subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = self.tensors, self.operators, inputs, outputs
        model = schema.ModelT()
        model.version, model.subgraphs, model.buffers, model.description = 3, [subgraph], self.buffers, "toonbridge"
        model.operatorCodes = []
        for code in sorted(self.opcodes, key=self.opcodes.get):
            opcode = schema.OperatorCodeT()
            opcode.builtinCode, opcode.deprecatedBuiltinCode = code, min(code, 127)  # 127: "see builtinCode"
            model.operatorCodes.append(opcode)
        return _pack(model)


@dataclass
class TfliteParts:
    """What a network gives the LiteRT path. ``write(graph, image)`` writes the network into ``graph`` for the
    NHWC input tensor ``image`` and returns its output tensor; ``prepare`` (N×3×H×W numpy) makes that input
    from images (e.g. a reflected border); ``finish(images, outputs)`` (both N×3×H×W numpy) runs after the
    interpreter (e.g. crops the border, filters)."""

    write: Callable[[TfliteGraph, int], int]
    prepare: Callable[[np.ndarray], np.ndarray]
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray]


def float_tflite(parts: TfliteParts, height: int, width: int) -> bytes:
    """The network as a float32 TFLite model for prepared inputs of ``height`` × ``width``."""
    graph = TfliteGraph()
    image = graph.tensor([1, height, width, 3])
    return graph.to_bytes([image], [parts.write(graph, image)])


def quantize_tflite(model: bytes, calibration: list[np.ndarray]) -> bytes:
    """Full-integer quantisation with LiteRT's calibrator: int8 activations whose ranges are the min and max they
    take on the ``calibration`` inputs (1×H×W×3 float32, the size the graph was written for), per-channel int8
    weights, int32 biases; the input and output stay float32 (the model quantises and dequantises them)."""
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as calibration_wrapper

    try:
        with quiet_litert():
            calibrator = calibration_wrapper.CalibrationWrapper(model, [], [])
            for image in calibration:
                calibrator.Prepare([list(image.shape)])
                calibrator.FeedTensor([np.ascontiguousarray(image, np.float32)])
            float32, int8, int32 = (np.dtype(kind).num for kind in (np.float32, np.int8, np.int32))
            # (input type, output type, allow float ops, activation type, bias type, no per-channel, no per-channel
            # for dense layers): the arguments the TensorFlow converter passes for full-integer quantisation.
            return bytes(calibrator.QuantizeModel(float32, float32, False, int8, int32, False, False))
    except (RuntimeError, ValueError) as error:  # what the calibrator raises for a graph it cannot read or run
        raise ToonbridgeError(f"LiteRT could not quantise the model to int8: {error}") from None


def cached_tflite(network: nn.Module, weights: str | Path, cache_dir: Path, calibration: Callable[[], list[torch.Tensor]],
                  variant: str = "") -> Path:
    """The int8 TFLite file of a safetensors network that has ``tflite_parts()``, made once into ``cache_dir`` under
    a hash of its weights, at the size of the ``calibration`` images (1×3×H×W in [-1, 1]; called only then)."""
    digest = hashlib.sha1(Path(weights).read_bytes()).hexdigest()[:16]
    path = cache_dir / f"{Path(weights).stem}{'-' + variant if variant else ''}-{digest}-int8.tflite"
    if path.is_file():
        return path
    parts = network.tflite_parts()
    inputs = [parts.prepare(image.detach().float().cpu().numpy()).transpose(0, 2, 3, 1) for image in calibration()]
    quantized = quantize_tflite(float_tflite(parts, *inputs[0].shape[1:3]), inputs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(quantized)
    partial.replace(path)  # atomically: a half-written model never sits in the cache
    return path


def resized_tflite(model: bytes, height: int, width: int) -> bytes:
    """``model`` for inputs of ``height`` × ``width``: the input shape and each bilinear upsampling's constant size
    (a fixed fraction of the input, as written) rewritten; LiteRT infers every other shape when it allocates."""
    schema = _schema()
    resized = schema.ModelT.InitFromPackedBuf(model, 0)
    graph = resized.subgraphs[0]
    old_height, old_width = graph.tensors[graph.inputs[0]].shape[1:3]
    graph.tensors[graph.inputs[0]].shape = [1, height, width, 3]
    resize = [i for i, code in enumerate(resized.operatorCodes) if code.builtinCode == schema.BuiltinOperator.RESIZE_BILINEAR]
    for operator in graph.operators:
        if operator.opcodeIndex in resize:
            buffer = resized.buffers[graph.tensors[operator.inputs[1]].buffer]
            size_height, size_width = np.frombuffer(bytes(buffer.data), np.int32)
            # The graph was written with sizes that divide the input exactly (the networks pad to a multiple).
            buffer.data = _as_bytes(np.array([height * size_height // old_height, width * size_width // old_width], np.int32))
    return _pack(resized)


class TfliteNetwork:
    """An int8 TFLite model with the calling convention of the PyTorch network it was written from (N×3×H×W float
    tensor in, same out, any H and W). Interpreters are not re-entrant: each thread keeps its own, one per size."""

    def __init__(self, path: str | Path, parts: TfliteParts, threads: int | None = None):
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            raise ToonbridgeError("int8 whitebox generators run on LiteRT: pip install ai-edge-litert") from None
        self.path = Path(path)
        self.model = self.path.read_bytes()
        self.parts = parts
        self.threads = threads or torch.get_num_threads()
        self.local = threading.local()

    def _interpreter(self, height: int, width: int):
        ready = self.local.__dict__.setdefault("interpreters", {})
        if (height, width) not in ready:
            from ai_edge_litert.interpreter import Interpreter

            if len(ready) >= INTERPRETERS_PER_THREAD:
                ready.pop(next(iter(ready)))
            with quiet_litert():
                interpreter = Interpreter(model_content=resized_tflite(self.model, height, width), num_threads=self.threads)
                interpreter.allocate_tensors()
            ready[(height, width)] = (interpreter, interpreter.get_input_details()[0]["index"],
                                      interpreter.get_output_details()[0]["index"])
        return ready[(height, width)]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # numpy throughout: a PyTorch kernel here would wake PyTorch's thread pool against LiteRT's (as for ONNX).
        tensor = images.detach().cpu()
        array = np.ascontiguousarray((tensor if tensor.dtype == torch.float32 else tensor.float()).numpy())
        prepared = np.ascontiguousarray(self.parts.prepare(array).transpose(0, 2, 3, 1))
        interpreter, input_index, output_index = self._interpreter(*prepared.shape[1:3])
        outputs = []
        for image in prepared:  # the graph has batch 1
            interpreter.set_tensor(input_index, image[None])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(output_index)[0])
        output = np.ascontiguousarray(np.stack(outputs).transpose(0, 3, 1, 2))
        return torch.from_numpy(self.parts.finish(array, output))
