"""The ×2 cartoon upscaler (models/cartoon_upscaler.py): its training, and cartoons shown larger than drawn."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from conftest import write_synthetic_domain
from toonbridge.api import Style, load
from toonbridge.errors import ToonbridgeError
from toonbridge.models import build, load_network, save_network
from toonbridge.style_files import find_style, read_style
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: larger for crisper edges."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64), cv2.CV_64F).var())


def test_an_untrained_upscaler_is_the_bicubic_enlargement():
    """The detail branch starts at zero, so a fresh network (or one that has learned nothing) costs nothing."""
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    bicubic = torch.nn.functional.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False).clamp(-1, 1)
    assert torch.allclose(build("cartoon_upscaler", width=4, blocks=1)(image), bicubic)


def test_the_upscaler_trains_on_patches_and_exports(tmp_path):
    rng = np.random.default_rng(0)
    domain = write_synthetic_domain(tmp_path / "cartoons", 120, rng)
    raw = {"method": "cartoon_upscaler", "run_dir": str(tmp_path / "run"), "steps": 3, "threads": 1, "batch_size": 2,
           "checkpoint_every": 3, "log_every": 1, "precision": "fp32",
           "data": {"domains": [domain], "patch": 16}, "model": {"width": 4, "blocks": 1}}
    assert train(config_from_dict(raw), progress=False, log=lambda _: None).step == 3
    (path,) = export_run(tmp_path / "run", tmp_path / "shipped")
    assert load_network(path)(torch.zeros(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    raw.update(run_dir=str(tmp_path / "too-big"), data={"domains": [domain], "patch": 64})
    with pytest.raises(ValueError, match="smaller than the 64-px patch"):
        train(config_from_dict(raw), progress=False, log=lambda _: None)


@pytest.fixture
def bitmoji_with_fresh_upscaler(tmp_path) -> Style:
    """The bitmoji style with an untrained upscaler, so the test does not depend on what the shipped one learned."""
    folder = tmp_path / "style"
    shutil.copytree(find_style("bitmoji").folder, folder)
    raw = json.loads((folder / "style.json").read_text())
    for role, file in raw["networks"].items():
        if file.startswith(".."):
            raw["networks"][role] = str((find_style("bitmoji").folder / file).resolve())
    save_network(build("cartoon_upscaler", width=4, blocks=1), "cartoon_upscaler", {"width": 4, "blocks": 1}, folder / "up.safetensors")
    raw["networks"]["upscale_cartoon"] = "up.safetensors"
    (folder / "style.json").write_text(json.dumps(raw))
    return Style(read_style(folder), backend="torch")


@pytest.mark.parametrize("shown, side", [(100, 128), (191, 128), (192, 256), (383, 256), (384, 512), (4000, 512)])
def test_a_cartoon_is_upscaled_while_it_is_shown_at_least_one_and_a_half_times_its_size(bitmoji_with_fresh_upscaler, shown, side):
    cartoon = np.zeros((128, 128, 3), np.uint8)
    assert bitmoji_with_fresh_upscaler.enlarged(cartoon, shown).shape == (side, side, 3)
    bitmoji_with_fresh_upscaler.upscale = False
    assert bitmoji_with_fresh_upscaler.enlarged(cartoon, shown).shape == (128, 128, 3)


def test_a_style_without_an_upscaler_returns_the_cartoon_as_it_is():
    cartoon = np.zeros((128, 128, 3), np.uint8)
    assert load("whitebox-bitmoji", backend="torch").enlarged(cartoon, 1000) is cartoon


def test_a_large_face_is_pasted_from_a_crisper_cartoon_with_the_upscaler(sample_rgb):
    """The sample enlarged 3×, as a phone photo shows a face: the pasted head has crisper lines with the shipped
    upscaler than enlarged bicubically."""
    photo = cv2.resize(sample_rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    style = load("bitmoji", backend="torch")
    crisp = style.translate(photo, "cartoonize")
    style.upscale = False
    soft = style.translate(photo, "cartoonize")
    x0, y0, x1, y1 = (int(round(v)) for v in crisp.faces[0].box)
    assert _sharpness(crisp.image[y0:y1, x0:x1]) > 1.3 * _sharpness(soft.image[y0:y1, x0:x1])
    assert np.array_equal(crisp.faces[0].output, soft.faces[0].output)  # the aligned cartoon stays at its crop's size


def test_anime_delivers_its_256_px_crop_through_the_upscaler(sample_rgb):
    style = load("anime", backend="torch")
    crisp = style.translate(sample_rgb, "cartoonize").faces[0].output
    style.upscale = False
    soft = style.translate(sample_rgb, "cartoonize").faces[0].output
    assert crisp.shape == soft.shape == (256, 256, 3)
    assert _sharpness(crisp) > 1.2 * _sharpness(soft)


def test_a_bad_upscaler_file_fails_with_a_clear_error(bitmoji_with_fresh_upscaler):
    (bitmoji_with_fresh_upscaler.info.folder / "up.safetensors").write_bytes(b"not a network")
    with pytest.raises(ToonbridgeError, match="cannot load network weights"):
        bitmoji_with_fresh_upscaler.enlarged(np.zeros((128, 128, 3), np.uint8), 1000)


@pytest.mark.shared_data
def test_the_shipped_upscaler_restores_validation_cartoons_better_than_bicubic(shared_data):
    """Validation cartoons (never trained on) shrunk by half and enlarged again: closer to the originals."""
    from toonbridge.data import load_split
    from toonbridge.imageio import load_image, resize_image

    network = load_network(find_style("bitmoji").folder.parent / "upscaler" / "cartoon_x2.safetensors")
    for name in ("celeba2bitmoji/cartoon", "selfie2anime/anime"):
        gains = []
        for sample in load_split(name, "val").samples[:12]:
            sharp = load_image(sample.path)
            small = resize_image(sharp, sharp.shape[0] // 2)
            with torch.no_grad():
                enlarged = network(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 127.5 - 1)[0]
            enlarged = ((enlarged.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255)
            error = lambda image: float(np.mean((image - sharp.astype(np.float64)) ** 2))  # noqa: E731
            gains.append(10 * np.log10(error(resize_image(small, sharp.shape[0]).astype(np.float64)) / error(enlarged)))
        assert np.mean(gains) > 1.0, (name, gains)
