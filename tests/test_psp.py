"""The pSp encoder ([psp]): its pretrained backbone, its training method, super-resolution inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from toonbridge.faces.features import face_network
from toonbridge.imageio import save_image
from toonbridge.models import build, load_network, save_network
from toonbridge.train import config_from_dict, train
from toonbridge.train.config import ConfigError
from toonbridge.train.export import export_run
from toonbridge.train.psp import downsample

TINY_GENERATOR = {"resolution": 16, "z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 128, "channel_max": 16}


def test_the_encoder_starts_from_the_face_network_and_starts_at_the_average_latent():
    encoder = build("psp_encoder", num_ws=12, w_dim=256)
    network = face_network()
    encoder.backbone_state_from(network)
    images = torch.rand(2, 3, 128, 128) * 2 - 1
    chips = F.interpolate(images, size=(150, 150), mode="bilinear", align_corners=False, antialias=True)
    expected = network.features(chips.add(1).mul(127.5), 3)
    found = encoder.stages(images)
    assert [f.shape[-1] for f in found] == [35, 17, 8]
    for a, b in zip(found, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)

    encoder.w_avg.normal_()
    for head in encoder.heads:
        torch.nn.init.zeros_(head.weight), torch.nn.init.zeros_(head.bias)
    styles = encoder(images)
    assert styles.shape == (2, 12, 256)
    assert torch.equal(styles, encoder.w_avg.expand(2, 12, -1))  # start_from_latent_avg


def test_downsampling_keeps_the_size_and_factor_one_is_the_identity():
    u = torch.linspace(0, 1, 32)
    pattern = sum(torch.sin(2 * torch.pi * k * u)[:, None] * torch.cos(2 * torch.pi * k * u)[None] for k in (1, 3, 6)) / 3
    images = pattern.expand(4, 3, 32, 32).clone()  # detail at several scales: each coarser copy loses more
    out = downsample(images, torch.tensor([1, 2, 4, 8]))
    assert out.shape == images.shape
    assert torch.equal(out[0], images[0])
    small = F.interpolate(images[3:], size=4, mode="area")
    torch.testing.assert_close(out[3:], F.interpolate(small, size=32, mode="bicubic", align_corners=False).clamp(-1, 1))
    # The coarser the copy, the more detail is gone.
    errors = [(out[i] - images[i]).abs().mean() for i in range(4)]
    assert errors[0] == 0 < errors[1] < errors[2] < errors[3]


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    for index in range(8):
        image = np.clip(rng.normal(120, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
        save_image(image, folder / f"{index:02d}.png")
    generator = build("stylegan2_generator", **TINY_GENERATOR)
    generator.w_avg.normal_()
    path = save_network(generator, "stylegan2_generator", TINY_GENERATOR, tmp_path / "generator.safetensors")
    return folder, path


def _config(tmp_path, folder, generator, run="run", **overrides) -> dict:
    raw = {"method": "psp", "run_dir": str(tmp_path / run), "steps": 4, "batch_size": 2, "threads": 1,
           "checkpoint_every": 2, "log_every": 1, "sample_every": 2,
           "data": {"domain": str(folder), "size": 16}, "model": {"generator": str(generator), "width": 16},
           "loss": {"downsample_factors": [1, 2, 4]}}
    raw.update(overrides)
    return raw


def test_training_moves_only_the_encoder_resumes_exactly_and_exports_it(tmp_path, setup):
    folder, generator_path = setup
    straight = train(config_from_dict(_config(tmp_path, folder, generator_path, "straight")), progress=False, log=lambda _: None)
    train(config_from_dict(_config(tmp_path, folder, generator_path, "killed", steps=2)), progress=False, log=lambda _: None)
    resumed = train(config_from_dict(_config(tmp_path, folder, generator_path, "killed")), resume=True, progress=False, log=lambda _: None)
    a, b = (load_file(str(r.checkpoint / "weights.safetensors")) for r in (straight, resumed))
    assert a.keys() == b.keys() and all(key.startswith("encoder.") for key in a)
    assert all(torch.equal(a[key], b[key]) for key in a)

    fresh = build("psp_encoder", num_ws=6, w_dim=16, width=16)
    fresh.backbone_state_from(face_network())
    assert not torch.equal(a["encoder.heads.0.weight"], fresh.heads[0].weight)  # the heads learnt
    generator = load_network(generator_path)
    assert torch.equal(a["encoder.w_avg"], generator.w_avg)  # styles start at the generator's average w

    (exported,) = export_run(straight.checkpoint, tmp_path / "export")
    encoder = load_network(exported)
    assert encoder.generator_name == str(generator_path)  # the file says which generator its styles are for
    assert encoder(torch.zeros(1, 3, 16, 16)).shape == (1, generator.num_ws, 16)


def test_the_data_size_must_be_the_generators(tmp_path, setup):
    folder, generator_path = setup
    raw = _config(tmp_path, folder, generator_path)
    raw["data"]["size"] = 32
    with pytest.raises(ConfigError, match="generator's 16 px"):
        train(config_from_dict(raw), progress=False, log=lambda _: None)
    raw = _config(tmp_path, folder, generator_path, loss={"downsample_factors": [0]})
    with pytest.raises(ConfigError, match="downsample_factors"):
        train(config_from_dict(raw), progress=False, log=lambda _: None)


@pytest.fixture(scope="module")
def cartoon():
    """A Bitmoji-style cartoon made from the bundled sample (no shared data needed)."""
    import toonbridge

    from conftest import SAMPLE

    return toonbridge.load("bitmoji", backend="torch").translate(SAMPLE, "cartoonize").faces[0].output


def test_the_psp_style_realizes_a_whole_cartoon_on_both_backends(cartoon):
    import toonbridge

    style = toonbridge.load("psp", backend="torch")
    assert style.info.directions == ["realize"] and style.has_variants
    assert style.network("to_photo").encoder.generator_name == "faces"  # the shipped generator
    result = style.translate(cartoon, "realize")
    assert result.image.shape == cartoon.shape and len(result.faces) == 1
    assert np.abs(result.image.astype(int) - cartoon).mean() > 5  # the face was replaced
    onnx = toonbridge.load("psp", backend="onnx").realize(result.faces[0].aligned, aligned=True)
    assert np.abs(onnx.astype(int) - style.realize(result.faces[0].aligned, aligned=True)).max() <= 2
    with pytest.raises(toonbridge.ToonbridgeError, match="no to_cartoon"):
        style.cartoonize(cartoon)


def test_variants_differ_from_each_other_and_repeat_for_a_seed(cartoon):
    import toonbridge

    style = toonbridge.load("psp", backend="torch")
    crop = style.translate(cartoon, "realize").faces[0].aligned
    first = style.variants(crop, 3, seed=4, aligned=True)
    again = style.variants(crop, 3, seed=4, aligned=True)
    other = style.variants(crop, 3, seed=5, aligned=True)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(np.abs(a.astype(int) - b).mean() > 1 for a, b in itertools.combinations(first, 2))
    assert np.abs(first[0].astype(int) - other[0]).mean() > 1
    whole = style.variants(cartoon, 2, seed=4)
    assert [w.shape for w in whole] == [cartoon.shape] * 2
    assert not toonbridge.load("bitmoji").has_variants
    with pytest.raises(toonbridge.ToonbridgeError, match="one face per cartoon"):
        toonbridge.load("bitmoji").variants(cartoon, 2)


def test_cli_realize_writes_variants_and_refuses_them_for_other_styles(cartoon, tmp_path):
    from typer.testing import CliRunner

    from toonbridge.cli import app

    path = save_image(cartoon, tmp_path / "toon.png")
    result = CliRunner().invoke(app, ["realize", str(path), "-o", str(tmp_path / "out"), "--style", "psp", "--variants", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["toon_v0.png", "toon_v1.png"]
    refused = CliRunner().invoke(app, ["realize", str(path), "-o", str(tmp_path / "out2"), "--style", "bitmoji", "--variants", "2"])
    assert refused.exit_code == 2 and "one face per cartoon" in refused.output
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


def test_refinement_brings_a_real_photos_inversion_closer_to_it_and_only_inverting_styles_take_it(tmp_path):
    import toonbridge

    from conftest import SAMPLE

    photo = toonbridge.load("bitmoji", backend="torch").translate(SAMPLE, "cartoonize").faces[0].aligned  # the aligned photo
    encoded = toonbridge.load("psp", backend="torch").realize(photo, aligned=True)
    refined = toonbridge.load("psp", refine_steps=6).realize(photo, aligned=True)
    from toonbridge.data.unpaired import image_to_tensor
    from toonbridge.losses.face_features import face_perceptual_loss

    distance = lambda image: float(face_perceptual_loss(image_to_tensor(image)[None], image_to_tensor(photo)[None]))  # noqa: E731
    assert distance(refined) < 0.95 * distance(encoded)  # what the steps optimise, with L2
    with pytest.raises(toonbridge.ToonbridgeError, match="not int8"):
        toonbridge.load("psp", precision="int8", refine_steps=4)
    from typer.testing import CliRunner

    from toonbridge.cli import app

    path = save_image(photo, tmp_path / "toon.png")
    refused = CliRunner().invoke(app, ["realize", str(path), "-o", str(tmp_path / "out"), "--style", "bitmoji", "--refine", "3"])
    assert refused.exit_code == 2 and "--refine needs psp" in refused.output


def test_psp_anime_moves_anime_framing_to_photo_framing_and_back(cartoon):
    import toonbridge
    from toonbridge.faces.align import apply_transform

    style = toonbridge.load("psp-anime", backend="torch")
    matrix = style._reframing("realize")
    anime, photo = style.cartoon_template.points_at(128), style.template.points_at(128)
    assert np.abs(apply_transform(matrix, anime) - photo).max() < 3  # the eyes and mouth land where a photo has them
    assert style._reframing("cartoonize") is None and toonbridge.load("psp")._reframing("realize") is None
    crop = np.full((256, 256, 3), 90, np.uint8)
    crop[96:160, 96:160] = 200
    back = style._from_model(style._to_model(crop, "realize"), "realize", crop.shape)
    assert back.shape == crop.shape and np.abs(back[100:156, 100:156].astype(int) - 200).mean() < 20
    result = style.translate(cartoon, "realize")
    assert result.image.shape == cartoon.shape and len(style.variants(cartoon, 2)) == 2


def test_upscale_turns_a_16_px_face_into_a_128_px_face_and_refuses_bad_weights(tmp_path):
    from typer.testing import CliRunner

    from conftest import SAMPLE
    from toonbridge.cli import app
    from toonbridge.faces import align_face, detect
    from toonbridge.imageio import load_image, resize_image

    face = align_face(load_image(SAMPLE), detect(load_image(SAMPLE))[0], "bitmoji").image
    save_image(resize_image(face, 16), tmp_path / "small.png")
    result = CliRunner().invoke(app, ["upscale", str(tmp_path / "small.png"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    big = load_image(tmp_path / "out" / "small.png")
    assert big.shape == (128, 128, 3)
    # Closer to the real face than to a flat grey square: the generator drew a face from the 16 pixels.
    assert np.abs(big.astype(int) - face).mean() < np.abs(128 - face.astype(int)).mean()
    bad = CliRunner().invoke(app, ["upscale", str(tmp_path / "small.png"), "-o", str(tmp_path / "no"), "--weights", str(tmp_path / "none.safetensors")])
    assert bad.exit_code == 2 and "no super-resolution encoder" in bad.output


def test_refined_upscale_matches_the_small_face_when_shrunk_back():
    """Refinement optimises the generator's face so that, shrunk to the input's 16 px, it is the input: closer
    there than the encoder's face, while staying a 128-px drawing of the generator."""
    from conftest import SAMPLE
    from toonbridge.api import upscale
    from toonbridge.faces import align_face, detect
    from toonbridge.imageio import load_image, resize_image

    small = resize_image(align_face(load_image(SAMPLE), detect(load_image(SAMPLE))[0], "bitmoji").image, 16)

    def error_at_16_px(big: np.ndarray) -> float:
        return float(np.abs(resize_image(big, 16).astype(int) - small).mean())

    plain, refined = upscale(small), upscale(small, refine_steps=10)
    assert refined.shape == (128, 128, 3)
    assert error_at_16_px(refined) < 0.9 * error_at_16_px(plain), (error_at_16_px(refined), error_at_16_px(plain))
    with pytest.raises(ValueError, match="refine_steps"):
        upscale(small, refine_steps=-1)
