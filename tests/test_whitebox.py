"""White-box cartoonization ([whitebox]): its image operators, generator, training method, styles and data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import write_synthetic_domain
from toonbridge.cli import app
from toonbridge.imageio import load_image, save_image
from toonbridge.models import build, load_network, save_network
from toonbridge.ops.colour_shift import random_colour_shift
from toonbridge.ops.guided_filter import box_mean, guided_filter, guided_filter_image
from toonbridge.ops.superpixels import superpixel_batch, superpixel_colours
from toonbridge.ops.tiles import run_tiled
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run

SIZE = 32


def _step_image(size: int = 32) -> torch.Tensor:
    """A dark left half and a light right half, with noise: one strong edge."""
    image = torch.full((1, 3, size, size), -0.6)
    image[..., size // 2:] = 0.6
    return image + 0.1 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))


def test_the_guided_filter_smooths_flat_regions_and_keeps_the_edge_a_box_blur_smears():
    image = _step_image()
    filtered = guided_filter(image, image, radius=3, eps=0.05)  # noise variance 0.01, edge 0.36
    box = box_mean(image, 3)
    flat = (slice(None), slice(None), slice(4, 28), slice(2, 12))
    assert filtered[flat].std() < 0.5 * image[flat].std()  # noise flattened
    edge_contrast = lambda x: float(x[..., 15:17].diff(dim=-1).abs().mean())  # noqa: E731
    assert edge_contrast(filtered) > 2 * edge_contrast(box)  # the edge stays sharp
    constant = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(guided_filter(constant, constant, 2, 0.1), constant)


def test_the_colour_shift_gives_one_grey_conversion_to_every_image_of_a_call():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    grey_a, grey_b = random_colour_shift(a, b, generator=torch.Generator().manual_seed(1))
    assert grey_a.shape == (2, 1, 8, 8)
    (again,) = random_colour_shift(b, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(grey_b, again)  # the same draw for the second image
    grey = torch.full((1, 3, 4, 4), 0.25)
    torch.testing.assert_close(random_colour_shift(grey)[0], torch.full((1, 1, 4, 4), 0.25))  # weights sum to 1
    (other,) = random_colour_shift(a, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(other, grey_a)  # another draw, another conversion


def test_superpixels_paint_few_colours_and_leave_a_flat_image_as_it_is():
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(128, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
    painted = superpixel_colours(image, segments=20)
    assert painted.shape == image.shape and painted.dtype == np.uint8
    assert len(np.unique(painted.reshape(-1, 3), axis=0)) <= 40 < len(np.unique(image.reshape(-1, 3), axis=0))
    flat = np.full((32, 32, 3), 90, np.uint8)
    assert np.array_equal(superpixel_colours(flat, segments=10), flat)
    batch = superpixel_batch(torch.zeros(2, 3, 16, 16), segments=4)
    assert batch.shape == (2, 3, 16, 16) and float(batch.abs().max()) < 0.01


def test_the_generator_is_the_authors_size_runs_on_any_size_and_filters_only_in_eval_mode():
    generator = build("whitebox_generator")
    assert abs(sum(p.numel() for p in generator.parameters()) - 1.47e6) < 0.01e6
    x = torch.rand(1, 3, 37, 50) * 2 - 1
    raw = generator.train()(x)
    shipped = generator.eval()(x)
    assert raw.shape == shipped.shape == x.shape
    torch.testing.assert_close(shipped, guided_filter(x, raw, 1, 5e-3).clamp(-1, 1), rtol=1e-4, atol=1e-4)
    # The ONNX fast path exports the U-Net alone and filters its output in OpenCV: the same result.
    exported, finish = generator.onnx_split()
    with torch.no_grad():
        np.testing.assert_allclose(finish(x.numpy(), exported(x).numpy()), shipped.numpy(), atol=1e-4)
    image, other = torch.rand(2, 3, 20, 24) * 2 - 1, torch.rand(2, 3, 20, 24) * 2 - 1
    np.testing.assert_allclose(guided_filter_image(image.numpy(), other.numpy(), 2, 0.01), guided_filter(image, other, 2, 0.01).numpy(), atol=1e-5)


def test_tiles_give_what_one_pass_gives():
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    image = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        whole, tiled = conv(image), run_tiled(conv, image, tile=32, overlap=8)
        torch.testing.assert_close(run_tiled(lambda x: 2 * x, image, tile=32, overlap=8), 2 * image)
    # A tile's edge pixels, which saw its padding, count for almost nothing where another tile covers them.
    torch.testing.assert_close(tiled, whole, rtol=1e-3, atol=1e-3)


@pytest.fixture
def whitebox_config(tmp_path):
    rng = np.random.default_rng(0)
    regressor = tmp_path / "regressor.safetensors"
    save_network(build("landmark_regressor", width=4, input_size=SIZE), "landmark_regressor", {"width": 4, "input_size": SIZE}, regressor)
    photos, cartoons = write_synthetic_domain(tmp_path / "photos", 90, rng, 12), write_synthetic_domain(tmp_path / "cartoons", 170, rng, 12)

    def make(run: str, **loss) -> dict:
        return {"method": "whitebox", "run_dir": str(tmp_path / run), "steps": 4, "threads": 1, "batch_size": 2,
                "checkpoint_every": 2, "log_every": 1, "sample_every": 2,
                "data": {"domain_a": photos, "domain_b": cartoons, "size": SIZE},
                "model": {"channels": 8, "n_blocks": 1, "ndf": 8, "landmark_regressor": str(regressor)},
                "loss": {"superpixel_segments": 16, **loss}}

    return make


def test_whitebox_pretrains_then_styles_from_it_and_resumes_exactly(whitebox_config, tmp_path):
    pretrain = whitebox_config("pretrain", reconstruction=1.0, surface=0, texture=0, structure=0, content=0, tv=0, landmark=0)
    first = train(config_from_dict(pretrain), progress=False, log=lambda _: None)
    assert first.step == 4
    style = whitebox_config("style", judge_region=[2, 4, 30, 32])  # the discriminators see a 28×28 window
    style["init_from"] = str(tmp_path / "pretrain")
    interrupted = dict(style, run_dir=str(tmp_path / "style-resumed"))
    whole = train(config_from_dict(style), progress=False, log=lambda _: None)
    train(config_from_dict(dict(interrupted, steps=2)), progress=False, log=lambda _: None)
    train(config_from_dict(interrupted), resume=True, progress=False, log=lambda _: None)
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    (path_a,), (path_b,) = export_run(whole.checkpoint, out_a), export_run(tmp_path / "style-resumed", out_b)
    from safetensors.torch import load_file

    for key, value in load_file(path_a).items():
        torch.testing.assert_close(load_file(path_b)[key], value, msg=key)  # the colour-shift draws resume too
    assert path_a.name == "to_cartoon.safetensors"


def test_the_identity_term_is_zero_for_the_photo_and_pulls_a_changed_face_back(whitebox_config, aligned_sample):
    from toonbridge.train.method import build_method

    method = build_method(config_from_dict(whitebox_config("identity", face_identity=1.0)), torch.device("cpu"))
    crop, points = aligned_sample
    same = method._face_network_terms(crop, crop, points)
    assert set(same) == {"content", "structure", "face_identity"}
    assert float(same["face_identity"]) < 1e-5 and float(same["content"]) < 1e-5
    changed = crop.flip(2).requires_grad_(True)  # upside down: another face to the network
    terms = method._face_network_terms(crop, changed, points)
    terms["face_identity"].backward()
    assert float(terms["face_identity"].detach()) > 0.05 and float(changed.grad.abs().sum()) > 0
    without = build_method(config_from_dict(whitebox_config("no-identity")), torch.device("cpu"))
    assert "face_identity" not in without._face_network_terms(crop, changed.detach(), points)


def test_a_config_with_every_weight_zero_is_refused(whitebox_config):
    from toonbridge.train.config import ConfigError

    zero = whitebox_config("zero", reconstruction=0, surface=0, texture=0, structure=0, content=0, tv=0, landmark=0)
    with pytest.raises(ConfigError, match="every weight is 0"):
        train(config_from_dict(zero), progress=False, log=lambda _: None)


def _style_folder(tmp_path, whole_photo: bool = True):
    folder = tmp_path / "style"
    folder.mkdir()
    save_network(build("whitebox_generator", channels=8, n_blocks=1), "whitebox_generator", {"channels": 8, "n_blocks": 1},
                 folder / "to_cartoon.safetensors")
    (folder / "style.json").write_text(json.dumps({"name": "tiny-whitebox", "template": "bitmoji", "size": 128,
                                                   "whole_photo": whole_photo, "networks": {"to_cartoon": "to_cartoon.safetensors"}}))
    return folder


def test_a_whole_photo_is_cartoonized_at_its_size_and_strength_zero_is_the_photo(tmp_path, sample_rgb):
    from toonbridge.api import load

    style = load(_style_folder(tmp_path), backend="torch")
    whole = style.cartoonize_whole(sample_rgb)
    assert whole.shape == sample_rgb.shape and not np.array_equal(whole, sample_rgb)
    assert np.array_equal(style.cartoonize_whole(sample_rgb, strength=0.0), sample_rgb)
    small = style.cartoonize_whole(sample_rgb, max_side=100)  # run smaller, returned at the photo's size
    assert small.shape == sample_rgb.shape


def test_cli_whole_photo_writes_the_picture_and_refuses_a_faces_only_style(tmp_path):
    from conftest import SAMPLE

    result = CliRunner().invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "out"), "--style", str(_style_folder(tmp_path)),
                                      "--whole-photo"])
    assert result.exit_code == 0, result.output
    assert "the whole photo" in result.output
    assert load_image(tmp_path / "out" / "astronaut.png").shape == load_image(SAMPLE).shape
    refused = CliRunner().invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "no"), "--style", "bitmoji", "--whole-photo"])
    assert refused.exit_code == 2 and "translates faces only" in refused.output
    assert not (tmp_path / "no").exists()


def test_a_domain_on_a_known_template_is_reframed_not_searched(tmp_path, monkeypatch):
    from toonbridge.data.aligned import aligned_domain
    from toonbridge.data.domains import Domain
    from toonbridge.data.manifest import Sample
    from toonbridge.faces import get_template

    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    anime = get_template("anime")
    image = np.full((256, 256, 3), 200, np.uint8)
    for x, y in anime.points5:  # a dark dot on each of the template's 5 points
        image[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 0
    (tmp_path / "src").mkdir()
    save_image(image, tmp_path / "src" / "a.png")
    domain = Domain([Sample(tmp_path / "src" / "a.png", "a.png")], "toy", 256, "anime")
    moved = aligned_domain(domain, "bitmoji")
    assert moved.template == "bitmoji" and len(moved) == 1
    out = load_image(moved.samples[0].path)
    assert out.shape == (128, 128, 3)
    for x, y in get_template("bitmoji").points5:  # the dots now sit on the bitmoji template's points
        assert out[int(round(y)), int(round(x))].mean() < 100
    np.testing.assert_allclose(moved.samples[0].landmarks5, get_template("bitmoji").points5)


def test_a_set_read_on_another_template_is_reframed_from_there_and_cached_apart(tmp_path, monkeypatch):
    """selfie2anime's anime faces sit looser than its selfies (``anime-cartoon``): reframed by the selfies' template
    they came out three quarters of a photo face's size. A set read on another template is moved from that one, and
    its cache is not the one of the same set on its own template."""
    from toonbridge.data.aligned import aligned_domain
    from toonbridge.data.domains import Domain
    from toonbridge.data.manifest import Sample
    from toonbridge.faces import get_template
    from toonbridge.train.config import ConfigError, UnpairedData

    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    image = np.full((256, 256, 3), 200, np.uint8)
    for x, y in get_template("anime-cartoon").points5:  # dots where an anime face's 5 points really are
        image[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 0
    (tmp_path / "src").mkdir()
    save_image(image, tmp_path / "src" / "a.png")
    bitmoji_points = get_template("bitmoji").points5

    def dots_on_bitmoji_points(template: str) -> bool:
        moved = aligned_domain(Domain([Sample(tmp_path / "src" / "a.png", "a.png")], "toy", 256, template), "bitmoji")
        out = load_image(moved.samples[0].path)
        return all(out[int(round(y)), int(round(x))].mean() < 100 for x, y in bitmoji_points)

    assert not dots_on_bitmoji_points("anime")  # the registered template misplaces them
    assert dots_on_bitmoji_points("anime-cartoon")  # not the first call's cached images
    with pytest.raises(ConfigError, match="framed_b"):
        UnpairedData(domain_b="selfie2anime/anime", align_b="bitmoji", framed_b="no-such-template")


def test_dicebear_avatars_render_once_with_their_labels(tmp_path, monkeypatch):
    from toonbridge.data.procedural import dicebear_domain

    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    domain = dicebear_domain("avataaars", count=4)
    assert len(domain) == 4 and domain.template == "dicebear-avataaars"
    assert {"skinColor", "topVariant"} <= set(domain.samples[0].labels)
    first = load_image(domain.samples[0].path)
    assert first.shape == (256, 256, 3)
    assert not np.array_equal(first, load_image(domain.samples[1].path))  # each seed its own avatar
    again = dicebear_domain("avataaars", count=4)
    assert [s.labels for s in again.samples] == [s.labels for s in domain.samples]


def test_new_style_trains_from_a_folder_of_cartoons_and_installs_a_style(tmp_path, monkeypatch):
    from toonbridge.train import custom_style

    rng = np.random.default_rng(0)
    cartoons = tmp_path / "mine"
    cartoons.mkdir()
    for index in range(3):
        save_image(np.clip(rng.normal(170, 30, (90, 120, 3)), 0, 255).astype(np.uint8), cartoons / f"{index}.png")
    (cartoons / "notes.png").write_text("not an image")
    pretrained = tmp_path / "base"
    pretrained.mkdir()
    save_network(build("whitebox_generator", channels=8, n_blocks=1), "whitebox_generator", {"channels": 8, "n_blocks": 1},
                 pretrained / "to_cartoon.safetensors")
    monkeypatch.setattr(custom_style, "PRETRAINED", pretrained)
    photos = tmp_path / "photos"
    photos.mkdir()
    from conftest import SAMPLE

    save_image(load_image(SAMPLE), photos / "astronaut.png")
    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    args = ["new-style", str(cartoons), "--name", "mine", "-o", str(tmp_path / "styles" / "mine"), "--minutes", "1",
            "--photos", str(photos), "--run-dir", str(tmp_path / "run"), "--threads", "1"]
    small = {"steps": 2, "max_wall_minutes": None, "model": {"channels": 8, "n_blocks": 1, "ndf": 8}, "loss": {"superpixel_segments": 16}}
    original = custom_style.style_config
    monkeypatch.setattr(custom_style, "style_config", lambda *a: {**original(*a), **small})
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 cartoons: 0 faces aligned, 3 used as they are, 1 unreadable skipped" in result.output
    assert "written to" in result.output
    from toonbridge.api import load

    style = load(tmp_path / "styles" / "mine", backend="torch")
    assert style.info.whole_photo and style.info.directions == ["cartoonize"]
    assert style.cartoonize(SAMPLE).shape == load_image(SAMPLE).shape
    # Run again with --blend: nothing left to train, the style is reinstalled half-way from the pre-training (here
    # another random network, so that the two ends lie far apart after two training steps).
    trained = load_network(tmp_path / "styles" / "mine" / "to_cartoon.safetensors").state_dict()
    torch.manual_seed(1)
    save_network(build("whitebox_generator", channels=8, n_blocks=1), "whitebox_generator", {"channels": 8, "n_blocks": 1},
                 pretrained / "to_cartoon.safetensors")
    result = CliRunner().invoke(app, args + ["--blend", "0.5"])
    assert result.exit_code == 0, result.output
    assert "blended 0.5 of the way from the pre-training" in result.output
    blended = load_network(tmp_path / "styles" / "mine" / "to_cartoon.safetensors").state_dict()
    base = load_network(pretrained / "to_cartoon.safetensors").state_dict()
    for key, value in base.items():
        assert (value - trained[key]).abs().max() > 0.01  # the two ends differ
        torch.testing.assert_close(blended[key], (value + trained[key]) / 2, atol=2e-3, rtol=2e-3)


def test_blending_two_generators_lands_between_them_and_refuses_two_architectures(tmp_path):
    """`export blend` (network interpolation, how whitebox-bitmoji was made from two checkpoints of one run): weight
    0 and 1 give the two files back, 0.3 every weight 30 % of the way, and two different networks are refused."""
    torch.manual_seed(0)
    first, second = build("whitebox_generator", channels=8), build("whitebox_generator", channels=8)
    paths = [save_network(net, "whitebox_generator", {"channels": 8}, tmp_path / f"{name}.safetensors")
             for net, name in ((first, "a"), (second, "b"))]
    runner = CliRunner()
    for weight in (0.0, 0.3, 1.0):
        out = tmp_path / f"blend-{weight}.safetensors"
        result = runner.invoke(app, ["export", "blend", *map(str, paths), "-o", str(out), "--weight", str(weight)])
        assert result.exit_code == 0, result.output
        blended = load_network(out).state_dict()
        for key, value in first.state_dict().items():
            torch.testing.assert_close(blended[key], value + weight * (second.state_dict()[key] - value))
    save_network(build("whitebox_generator", channels=4), "whitebox_generator", {"channels": 4}, tmp_path / "small.safetensors")
    result = runner.invoke(app, ["export", "blend", str(paths[0]), str(tmp_path / "small.safetensors"), "-o", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 2 and "not the same architecture" in result.output
    assert not (tmp_path / "x.safetensors").exists()
