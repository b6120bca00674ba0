"""A reader for dlib's serialisation of its face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``).

dlib writes a network recursively (``dlib/dnn/core.h``): each layer wrapper writes its version, then the whole
network below it, then its own ``details`` (the layer's parameters, ``layers.h``) and some training state. So the
file begins with one version number per layer, from the loss down to the input layer, and the layers' parameters
follow from the input upwards. The primitives (``serialize.h``, ``tensor.h``):

- integers: a control byte (low 4 bits: how many bytes follow; bit 7: negative), then the magnitude little-endian;
- floats: a mantissa and an exponent, each such an integer (value = mantissa · 2^exponent);
- strings: a length, then the bytes; booleans: the character '0' or '1';
- tensors: version 2, four sizes (samples, channels, rows, columns), then raw little-endian float32;
  alias tensors (views into a layer's ``params``): version 1 and the four sizes.

The reader checks every layer against the architecture of ``dnn_face_recognition_ex.cpp``, so another network
(or a damaged file) is refused with a one-line reason instead of producing wrong weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toonbridge.errors import ToonbridgeError

# The residual stages of dlib's network, from the input: (channels, blocks, first block down-samples).
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


class DlibFormatError(ToonbridgeError):
    """The file is not (an intact copy of) dlib's face-recognition ResNet."""


@dataclass
class DlibLayer:
    kind: str  # "con", "affine", "relu", "add_prev", "avg_pool", "max_pool", "fc", "tag", "skip"
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    options: dict = field(default_factory=dict)


class _Stream:
    def __init__(self, data: bytes):
        self.data = data
        self.position = 0

    def take(self, count: int) -> bytes:
        if self.position + count > len(self.data):
            raise DlibFormatError(f"the file ends early (needed {count} bytes at offset {self.position}): truncated?")
        chunk = self.data[self.position:self.position + count]
        self.position += count
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at offset {self.position - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(np.ldexp(float(mantissa), exponent))

    def string(self) -> str:
        length = self.integer()
        if not 0 <= length <= 256:
            raise DlibFormatError(f"implausible string length {length} at offset {self.position}")
        return self.take(length).decode("latin-1")

    def peek_string(self) -> str | None:
        start = self.position
        try:
            return self.string()
        except DlibFormatError:
            return None
        finally:
            self.position = start

    def boolean(self) -> bool:
        value = self.take(1)
        if value not in (b"0", b"1"):
            raise DlibFormatError(f"bad boolean {value!r} at offset {self.position - 1}")
        return value == b"1"

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise DlibFormatError(f"unexpected tensor version {version} at offset {self.position}")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        if count < 0 or count > len(self.data):
            raise DlibFormatError(f"implausible tensor shape {shape} at offset {self.position}")
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        if self.integer() != 1:
            raise DlibFormatError(f"unexpected alias-tensor version at offset {self.position}")
        return tuple(self.integer() for _ in range(4))


def expected_layers() -> list[str]:
    """The layer kinds of dlib's network from the input upwards (what its ``anet_type`` spells out)."""
    kinds = ["con", "affine", "relu", "max_pool"]
    block = ["con", "affine", "relu", "con", "affine"]
    for channels, blocks, down in STAGES:
        for index in range(blocks):
            if index == 0 and down:  # residual_down: tag1, block, tag2, skip1, avg_pool, add_prev2, relu
                kinds += ["tag", *block, "tag", "skip", "avg_pool", "add_prev", "relu"]
            else:  # residual: tag1, block, add_prev1, relu
                kinds += ["tag", *block, "add_prev", "relu"]
    return kinds + ["avg_pool", "fc"]


def read_dlib_face_resnet(path: str | Path) -> list[DlibLayer]:
    """The layers with parameters, input first, as numpy arrays; ``DlibFormatError`` for anything unexpected."""
    try:
        stream = _Stream(Path(path).read_bytes())
    except OSError as error:
        raise DlibFormatError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return _read_network(stream)
    except DlibFormatError as error:
        raise DlibFormatError(f"{path} is not dlib's face-recognition ResNet: {error}") from None


def _read_network(stream: _Stream) -> list[DlibLayer]:
    stream.integer()  # the loss layer's version
    loss = stream.string()
    if not loss.startswith("loss_metric_"):
        raise DlibFormatError(f"its loss is {loss!r}, not loss_metric (a metric-learning network)")
    if loss == "loss_metric_2":
        stream.real(), stream.real()  # margin and distance threshold, used only in training
    versions = []
    while stream.peek_string() != "input_rgb_image_sized":
        versions.append(stream.integer())
        if len(versions) > 1000:
            raise DlibFormatError("no input layer found")
    expected = expected_layers()
    if len(versions) != len(expected):
        raise DlibFormatError(f"it has {len(versions)} layers, dlib's face ResNet has {len(expected)}")
    versions.reverse()  # now input first, like ``expected``
    _read_input(stream)
    layers = []
    for index, (kind, version) in enumerate(zip(expected, versions)):
        if kind in ("tag", "skip"):
            if version != 1:
                raise DlibFormatError(f"layer {index} should be a {kind} layer")
            continue
        layer = _read_details(stream, kind)
        _skip_training_state(stream, input_layer=index == 0, version=version)
        layers.append(layer)
    if stream.position != len(stream.data):
        raise DlibFormatError(f"{len(stream.data) - stream.position} unexpected bytes after the last layer")
    return layers


def _read_input(stream: _Stream) -> None:
    stream.string()
    mean = [stream.real() for _ in range(3)]
    size = (stream.integer(), stream.integer())
    if size != (150, 150) or not np.allclose(mean, (122.782, 117.001, 104.298), atol=1e-3):
        raise DlibFormatError(f"its input is {size[0]}×{size[1]} with mean {mean}, not 150×150 with dlib's RGB mean")


def _skip_training_state(stream: _Stream, input_layer: bool, version: int) -> None:
    """The flags and cached tensors each wrapper writes after its layer; none of them matter for inference."""
    for _ in range(3):
        stream.boolean()
    stream.tensor(), stream.tensor()  # x_grad, cached_output
    if input_layer or version >= 2:
        stream.tensor()  # grad_final (input layer) or params_grad
    if input_layer and version >= 3:
        stream.integer()  # sample expansion factor


def _read_details(stream: _Stream, kind: str) -> DlibLayer:
    name = stream.string()
    if not name.startswith(kind + "_") and not (kind == "affine" and name == "bn_con2"):
        raise DlibFormatError(f"found a {name!r} layer where dlib's face ResNet has {kind}")
    if kind == "con":
        return _read_con(stream, name)
    if kind == "affine":
        return _read_affine(stream, name)
    if kind == "fc":
        return _read_fc(stream, name)
    if kind in ("avg_pool", "max_pool"):
        rows, columns, stride_y, stride_x = (stream.integer() for _ in range(4))
        padding = (stream.integer(), stream.integer()) if name.endswith("_2") else (0, 0)
        return DlibLayer(kind, options={"size": (rows, columns), "stride": (stride_y, stride_x), "padding": padding})
    if kind == "relu" and name == "relu_2":
        stream.boolean()  # disabled
    return DlibLayer(kind)


def _read_con(stream: _Stream, name: str) -> DlibLayer:
    params = stream.tensor().ravel()
    filters, rows, columns, stride_y, stride_x, padding_y, padding_x = (stream.integer() for _ in range(7))
    weight_shape, bias_shape = stream.alias(), stream.alias()
    for _ in range(4):
        stream.real()  # learning-rate and weight-decay multipliers
    use_bias = stream.boolean() if name in ("con_5", "con_6") else True
    if name == "con_6":
        stream.boolean()  # use_relu (a fused ReLU; this network has separate relu layers)
    weight_count = int(np.prod(weight_shape))
    weight = params[:weight_count].reshape(filters, -1, rows, columns)
    bias = params[weight_count:weight_count + int(np.prod(bias_shape))] if use_bias else np.zeros(filters, np.float32)
    if bias.size != filters:
        raise DlibFormatError(f"a convolution holds {params.size} parameters, not the {weight_count} + {filters} its shape needs")
    return DlibLayer("con", {"weight": weight, "bias": bias},
                     {"stride": (stride_y, stride_x), "padding": (padding_y, padding_x)})


def _read_affine(stream: _Stream, name: str) -> DlibLayer:
    """``affine_``: γ and β per channel; a ``bn_con2`` (batch norm) is folded into them as dlib itself does."""
    if name == "bn_con2":
        params = stream.tensor().ravel()
        stream.alias(), stream.alias()
        stream.tensor(), stream.tensor()  # the last batch's statistics
        running_mean, running_variance = stream.tensor().ravel(), stream.tensor().ravel()
        stream.integer(), stream.real()
        for _ in range(4):
            stream.real()
        eps = stream.real()
        channels = params.size // 2
        gamma = params[:channels] / np.sqrt(running_variance + eps)
        return DlibLayer("affine", {"gamma": gamma, "beta": params[channels:] - gamma * running_mean})
    params = stream.tensor().ravel()
    gamma_shape, beta_shape = stream.alias(), stream.alias()
    stream.integer()  # mode: CONV_MODE (per channel)
    if name == "affine_2":
        stream.boolean()
    channels = int(np.prod(gamma_shape))
    if params.size != channels + int(np.prod(beta_shape)):
        raise DlibFormatError(f"an affine layer holds {params.size} parameters, not 2 × {channels}")
    return DlibLayer("affine", {"gamma": params[:channels].copy(), "beta": params[channels:].copy()})


def _read_fc(stream: _Stream, name: str) -> DlibLayer:
    outputs, inputs = stream.integer(), stream.integer()
    params = stream.tensor().ravel()
    stream.alias(), stream.alias()
    bias_mode = stream.integer()
    for _ in range(4):
        stream.real()
    if name == "fc_3":
        stream.boolean()
    if params.size < inputs * outputs:
        raise DlibFormatError(f"the fc layer holds {params.size} parameters, not {inputs} × {outputs}")
    # dlib computes input · W with W stored inputs × outputs; a torch Linear holds W transposed.
    weight = params[:inputs * outputs].reshape(inputs, outputs).T.copy()
    return DlibLayer("fc", {"weight": weight}, {"has_bias": bias_mode == 0})
