"""The ONNX fast path: exported generators give the PyTorch results (max abs diff <= 1e-4) on real faces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import toonbridge
from conftest import REPO, SAMPLE
from toonbridge.data import image_to_tensor, load_split
from toonbridge.imageio import load_image

pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test extra")


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _max_difference(style_torch, style_onnx, direction: str, faces: list[np.ndarray]) -> float:
    x = torch.stack([image_to_tensor(face) for face in faces])
    with torch.no_grad():
        expected = style_torch.generator(direction)(x)
    return float((style_onnx.generator(direction)(x) - expected).abs().max())


def test_onnx_generators_match_pytorch_on_the_sample_face(private_cache):
    eager, fast = toonbridge.load("bitmoji", backend="torch"), toonbridge.load("bitmoji", backend="onnx")
    face = eager.translate(SAMPLE, "cartoonize").faces[0]
    assert _max_difference(eager, fast, "cartoonize", [face.aligned]) <= 1e-4
    assert _max_difference(eager, fast, "realize", [face.output]) <= 1e-4
    assert len(list(private_cache.glob("onnx/*.onnx"))) == 2  # exported once per generator into the cache
    # The whole pipeline agrees too (uint8 images; rounding may move a pixel by one level).
    difference = np.abs(fast.cartoonize(SAMPLE).astype(int) - eager.cartoonize(SAMPLE).astype(int))
    assert difference.max() <= 1


@pytest.mark.shared_data
def test_onnx_generators_match_pytorch_on_validation_faces(private_cache, shared_data):
    eager, fast = toonbridge.load("bitmoji", backend="torch"), toonbridge.load("bitmoji", backend="onnx")
    for direction, side in (("cartoonize", "photo"), ("realize", "cartoon")):
        faces = [load_image(s.path) for s in load_split(f"celeba2bitmoji/{side}", "val", data_root=shared_data).samples[:8]]
        assert _max_difference(eager, fast, direction, faces) <= 1e-4, direction


def test_auto_backend_picks_onnx_for_fp32_and_torch_for_bf16():
    assert toonbridge.load("bitmoji").backend == "onnx"
    assert toonbridge.load("bitmoji", precision="bf16").backend == "torch"
    with pytest.raises(ValueError, match="fp32 or int8 on the CPU"):
        toonbridge.load("bitmoji", precision="bf16", backend="onnx")
    assert toonbridge.load("bitmoji", precision="int8").backend == "onnx"
    with pytest.raises(ValueError, match="int8 runs on the ONNX backend"):
        toonbridge.load("bitmoji", precision="int8", backend="torch")
    with pytest.raises(toonbridge.ToonbridgeError, match="PyTorch only"):  # many-domain views read hair in numpy
        toonbridge.load("twingan-bitmoji", precision="int8")


def _onnx_ops(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def _tflite_tensor_types(path) -> set[str]:
    from ai_edge_litert import schema_py_generated as schema

    names = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    return {names[tensor.type] for tensor in model.subgraphs[0].tensors}


def test_int8_generators_are_quantised_once_and_stay_close_to_fp32(private_cache):
    """int8: integer convolutions calibrated on the bundled sample, a face within a few grey levels of fp32 in both
    directions, and the whole-photo mode on a photo of another size. The whitebox generator runs on LiteRT (one
    model for every size), the others on onnxruntime."""
    exact, quantised = toonbridge.load("whitebox-bitmoji", backend="torch"), toonbridge.load("whitebox-bitmoji", precision="int8")
    face = exact.translate(SAMPLE, "cartoonize").faces[0]
    x = image_to_tensor(face.aligned)[None]
    with torch.no_grad():
        difference = (quantised.generator("cartoonize")(x) - exact.generator("cartoonize")(x)).abs().mul(127.5)
    assert float(difference.mean()) < 3 and float(difference.mean()) > 0  # quantised: close, and not the fp32 model
    photo = load_image(SAMPLE)[:300, :400]
    whole = np.abs(quantised.cartoonize_whole(photo).astype(float) - exact.cartoonize_whole(photo).astype(float))
    assert whole.shape[:2] == (300, 400) and whole.mean() < 3
    int8_files = list(private_cache.glob("litert/*-int8.tflite"))
    assert len(int8_files) == 1 and {"INT8", "INT32", "FLOAT32"} == _tflite_tensor_types(int8_files[0])
    cartoon = toonbridge.load("bitmoji", precision="int8").realize(SAMPLE)  # realize is calibrated on the style's own cartoons
    assert cartoon.shape == load_image(SAMPLE).shape
    int8_files = list(private_cache.glob("onnx/*-int8.onnx"))
    assert len(int8_files) == 1 and {"QuantizeLinear", "DequantizeLinear"} <= _onnx_ops(int8_files[0])


def test_export_onnx_command_writes_both_generators(tmp_path):
    done = subprocess.run([sys.executable, "-m", "toonbridge.cli", "export", "onnx", "--style", "bitmoji", "-o", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["to_cartoon.onnx", "to_photo.onnx"]
    import onnx

    model = onnx.load(str(tmp_path / "to_cartoon.onnx"))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17


def test_export_onnx_writes_every_branch_of_a_group_style_or_the_one_asked_for(tmp_path):
    """[polish] bug: `export onnx --style bitmoji-groups` silently exported only the women branch."""
    from typer.testing import CliRunner

    from toonbridge.cli import app
    from toonbridge.models.onnx import OnnxNetwork

    runner = CliRunner()
    result = runner.invoke(app, ["export", "onnx", "--style", "bitmoji-groups", "--group", "men", "-o", str(tmp_path / "men")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "men").glob("*.onnx")) == ["to_cartoon.men.onnx", "to_photo.men.onnx"]
    style = toonbridge.load("bitmoji-groups", backend="torch")
    from toonbridge.faces import align_face, detect

    photo = load_image(SAMPLE)
    face = image_to_tensor(align_face(photo, detect(photo)[0], "bitmoji").image)[None]
    exported = OnnxNetwork(tmp_path / "men" / "to_cartoon.men.onnx")(face)
    with torch.no_grad():
        assert torch.allclose(exported, style.generator("cartoonize", "men")(face), atol=1e-4)
        assert not torch.allclose(exported, style.generator("cartoonize", "women")(face), atol=1e-3)
    result = runner.invoke(app, ["export", "onnx", "--style", "bitmoji-groups", "--group", "kids", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "kids" in result.stderr
    result = runner.invoke(app, ["export", "onnx", "--style", "bitmoji", "--group", "men", "-o", str(tmp_path / "y")])
    assert result.exit_code == 2
    # Without --group, every branch of every direction is written and listed.
    result = runner.invoke(app, ["export", "onnx", "--style", "bitmoji-groups", "-o", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "all").glob("*.onnx"))
    assert names == sorted(f"{role}.{group}.onnx" for role in ("to_cartoon", "to_photo") for group in style.groups)
    assert all(name in result.stdout for name in names)


def test_cartoonize_int8_writes_the_cartoon_and_refuses_bf16_with_it(tmp_path, private_cache):
    command = [sys.executable, "-m", "toonbridge.cli", "cartoonize", str(SAMPLE), "-o", str(tmp_path / "out"), "--style", "whitebox-bitmoji", "--int8"]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    assert (tmp_path / "out" / "astronaut.png").is_file()
    both = subprocess.run([*command, "--bf16"], capture_output=True, text=True)
    assert both.returncode != 0 and both.stderr.strip() == "error: choose one of --bf16 and --int8"
