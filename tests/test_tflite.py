"""The int8 LiteRT path: networks written as TFLite graphs give the PyTorch results, at any size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from toonbridge.errors import ToonbridgeError
from toonbridge.models.tflite import (TfliteGraph, TfliteNetwork, cached_tflite, float_tflite, quantize_tflite, quiet_litert,
                                      resized_tflite)
from toonbridge.models.whitebox import WhiteboxGenerator


def _run(model: bytes, image: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    with quiet_litert():
        interpreter = Interpreter(model_content=model, num_threads=1)
        interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def generator() -> WhiteboxGenerator:
    torch.manual_seed(0)
    return WhiteboxGenerator(channels=8, n_blocks=2).eval()


def test_the_float_graph_is_the_pytorch_network_at_its_size_and_resized(generator):
    """Stride-2 padding, ×2 bilinear upsampling, skips and residuals as PyTorch has them; rewritten for another
    (non-square) size, the same network still."""
    parts = generator.tflite_parts()
    model = float_tflite(parts, 48, 48)
    for height, width in ((32, 32), (40, 72)):
        images = torch.rand(1, 3, height, width) * 2 - 1
        prepared = parts.prepare(images.numpy()).transpose(0, 2, 3, 1)
        written = model if prepared.shape[1:3] == (48, 48) else resized_tflite(model, *prepared.shape[1:3])
        output = parts.finish(images.numpy(), np.ascontiguousarray(_run(written, np.ascontiguousarray(prepared)).transpose(0, 3, 1, 2)))
        with torch.no_grad():
            expected = generator(images).numpy()
        assert output.shape == expected.shape and np.abs(output - expected).max() < 1e-4, (height, width)


def test_layers_it_cannot_write_are_refused():
    graph = TfliteGraph()
    image = graph.tensor([1, 16, 16, 3])
    for layer in (nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.Conv2d(3, 3, 3, padding=1, groups=3), nn.ReLU()):
        with pytest.raises(ValueError, match="cannot write"):
            graph.layers(image, [layer])


def test_a_model_the_calibrator_cannot_read_is_a_one_line_error():
    with pytest.raises(ToonbridgeError, match="could not quantise"):
        quantize_tflite(b"not a TFLite model" * 4, [np.zeros((1, 8, 8, 3), np.float32)])


def test_the_int8_model_is_made_once_and_stays_close_at_any_size(generator, tmp_path):
    weights = tmp_path / "generator.safetensors"
    weights.write_bytes(b"stands for the weights: the cache is keyed by their hash")
    calls = []

    def calibration():
        calls.append(1)
        return [torch.rand(1, 3, 32, 32) * 2 - 1 for _ in range(4)]

    path = cached_tflite(generator, weights, tmp_path / "cache", calibration)
    assert cached_tflite(generator, weights, tmp_path / "cache", calibration) == path and len(calls) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]  # nothing partial left beside it
    network = TfliteNetwork(path, generator.tflite_parts(), threads=1)
    for height, width in ((32, 32), (24, 52), (32, 32)):
        images = torch.rand(2, 3, height, width) * 2 - 1
        with torch.no_grad():
            difference = (network(images) - generator(images)).abs().mul(127.5)
        assert difference.shape == (2, 3, height, width)
        assert 0 < float(difference.mean()) < 3, (height, width)  # quantised: close, and not the float network
