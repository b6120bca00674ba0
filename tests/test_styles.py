"""The shipped Bitmoji style through the Python API and the CLI (cartoonize, realize, styles)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import toonbridge
from conftest import HOSTILE, SAMPLE
from toonbridge.cli import app
from toonbridge.errors import NoFaceFound, UnknownName
from toonbridge.style_files import read_style

runner = CliRunner()


@pytest.fixture(scope="module")
def bitmoji():
    return toonbridge.load("bitmoji")


@pytest.fixture(scope="module")
def cartoonized(bitmoji):
    return bitmoji.translate(SAMPLE, "cartoonize")


def test_bitmoji_is_shipped_with_both_directions_and_small_files():
    (info,) = [s for s in toonbridge.styles() if s.name == "bitmoji"]
    assert info.directions == ["cartoonize", "realize"] and info.size == 128 and info.template == "bitmoji"
    for file in info.networks.values():
        assert (info.folder / file).stat().st_size < 10 * 2**20


def test_cartoonize_replaces_the_face_and_keeps_the_rest(cartoonized, sample_rgb):
    assert cartoonized.image.shape == sample_rgb.shape
    (face,) = cartoonized.faces
    assert face.output.shape == (128, 128, 3) and face.aligned.shape == (128, 128, 3)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    inside = np.abs(cartoonized.image[y0:y1, x0:x1].astype(int) - sample_rgb[y0:y1, x0:x1]).mean()
    assert inside > 10  # the face changed
    outside = np.ones(sample_rgb.shape[:2], bool)
    outside[max(y0 - 2, 0):y1 + 3, max(x0 - 2, 0):x1 + 3] = False
    assert outside.sum() > 1000 and np.array_equal(cartoonized.image[outside], sample_rgb[outside])  # nothing else moved


def test_the_bitmoji_backdrop_is_keyed_out_when_pasting(cartoonized, bitmoji, sample_rgb):
    # Bitmoji sit on white: cartoonize lets the photo show where the crop is backdrop, not a pale square.
    assert bitmoji.keys_background("cartoonize") and not bitmoji.keys_background("realize")
    from toonbridge.faces import paste_back
    from toonbridge.faces.paste import light_background

    (face,) = cartoonized.faces
    assert 0.05 < light_background(face.output).mean() < 0.8
    (aligned,), _ = bitmoji._find_faces(sample_rgb, "cartoonize")
    unkeyed = paste_back(sample_rgb, [(aligned, face.output)])
    # Keying only ever brings the photo back: the keyed result is closer to the photo than the unkeyed paste
    # (0.905× on the sample, where the head mask already keeps most of the backdrop out).
    keyed_change, unkeyed_change = (np.abs(image.astype(int) - sample_rgb).sum() for image in (cartoonized.image, unkeyed))
    assert keyed_change < 0.95 * unkeyed_change


def test_the_cartoon_is_a_translation_not_a_copy(cartoonized, bitmoji):
    (face,) = cartoonized.faces
    assert np.abs(face.output.astype(int) - face.aligned).mean() > 10
    # Geometry survives: the cartoon regressor finds the face where the photo's landmarks are, carried into the
    # Bitmoji frame (Bitmoji faces sit ~6 px lower in their crops; the landmark loss and the evaluation use the
    # same frame change, the similarity between the style's two templates).
    from toonbridge.data import image_to_tensor
    from toonbridge.faces.align import apply_transform, similarity_transform
    from toonbridge.losses import normalised_mean_error

    found = bitmoji.network("landmarks_cartoon").points(image_to_tensor(face.output)[None])
    photo_points, cartoon_points = bitmoji.template.points5, bitmoji.cartoon_template.points5
    carried = apply_transform(similarity_transform(photo_points, cartoon_points), photo_points)
    expected = torch.tensor(carried, dtype=torch.float32)[None]
    assert float(normalised_mean_error(found.detach(), expected)) < 0.1


def test_aligned_input_keeps_its_size(bitmoji, cartoonized):
    crop = cartoonized.faces[0].aligned
    assert bitmoji.cartoonize(crop, aligned=True).shape == (128, 128, 3)
    big = np.asarray(Image.fromarray(crop).resize((200, 200)))
    assert bitmoji.realize(big, aligned=True).shape == (200, 200, 3)


def test_realize_finds_a_cartoon_face_in_a_whole_image(bitmoji, cartoonized):
    # A cartoon face off-centre in a larger canvas: the regressor must locate it, not just take the middle.
    cartoon = cartoonized.faces[0].output
    canvas = np.full((200, 260, 3), 255, np.uint8)
    canvas[40:168, 90:218] = cartoon
    result = bitmoji.translate(canvas, "realize")
    (face,) = result.faces
    x0, y0, x1, y1 = face.box
    assert abs((x0 + x1) / 2 - 154) < 12 and abs((y0 + y1) / 2 - 104) < 12
    assert result.image.shape == canvas.shape


def test_photo_without_a_face_is_a_clear_error(bitmoji):
    with pytest.raises(NoFaceFound):
        bitmoji.cartoonize(HOSTILE / "no_face.png")


def test_unknown_style_names_the_known_ones():
    with pytest.raises(UnknownName, match="known: .*bitmoji"):
        toonbridge.load("vangogh")


def test_a_style_folder_loads_by_path(tmp_path):
    (info,) = [s for s in toonbridge.styles() if s.name == "bitmoji"]
    assert toonbridge.load(info.folder).name == "bitmoji"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "style.json").write_text(json.dumps({"name": "x", "template": "bitmoji", "size": 128, "networks": {"to_cartoon": "g.safetensors"}}))
    with pytest.raises(toonbridge.ToonbridgeError, match="missing g.safetensors"):
        read_style(broken)


def test_cli_cartoonize_writes_whole_and_aligned_results_and_reports_bad_files(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), str(HOSTILE / "truncated.jpg"), str(HOSTILE / "no_face.png"), "-o", str(out)])
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "astronaut_0.png"]
    assert "truncated.jpg:" in result.stderr and "no_face.png: no face found" in result.stderr
    assert "2 of 3 input(s) failed" in result.stderr
    assert Image.open(out / "astronaut.png").size == Image.open(SAMPLE).size


def test_cli_aligned_round_trip(tmp_path, cartoonized):
    Image.fromarray(cartoonized.faces[0].aligned).save(tmp_path / "face.png")
    result = runner.invoke(app, ["cartoonize", str(tmp_path / "face.png"), "--aligned", "-o", str(tmp_path / "toon")])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["realize", str(tmp_path / "toon" / "face.png"), "--aligned", "-o", str(tmp_path / "back")])
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "back").iterdir()] == ["face.png"]
    assert Image.open(tmp_path / "back" / "face.png").size == (128, 128)


def test_cli_styles_and_unknown_style(tmp_path):
    listed = runner.invoke(app, ["styles"])
    assert listed.exit_code == 0 and "bitmoji" in listed.stdout and "cartoonize, realize" in listed.stdout
    unknown = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path), "--style", "vangogh"])
    assert unknown.exit_code == 2 and "unknown style 'vangogh'" in unknown.stderr


def test_bf16_inference_stays_close_to_fp32(cartoonized):
    crop = cartoonized.faces[0].aligned
    exact = toonbridge.load("bitmoji").cartoonize(crop, aligned=True).astype(int)
    fast = toonbridge.load("bitmoji", precision="bf16").cartoonize(crop, aligned=True).astype(int)
    assert np.abs(fast - exact).mean() < 6
    with pytest.raises(ValueError, match="precision"):
        toonbridge.load("bitmoji", precision="int4")


def test_strength_blends_from_the_input_to_the_full_style(bitmoji, cartoonized):
    """[polish]: a style-strength control, as AnimeGAN/DCT-Net demos have."""
    full = cartoonized.faces[0]
    none = bitmoji.translate(SAMPLE, "cartoonize", strength=0.0).faces[0]
    half = bitmoji.translate(SAMPLE, "cartoonize", strength=0.5).faces[0]
    assert np.array_equal(none.output, none.aligned)
    expected = (full.aligned.astype(float) + full.output) / 2
    assert np.abs(half.output - expected).max() <= 1
    with pytest.raises(ValueError, match="strength"):
        bitmoji.translate(SAMPLE, "cartoonize", strength=1.5)


def test_largest_face_only(bitmoji, sample_rgb):
    small = np.asarray(Image.fromarray(sample_rgb).resize((sample_rgb.shape[1] * 4 // 5, sample_rgb.shape[0] * 4 // 5)))
    canvas = np.zeros((sample_rgb.shape[0], sample_rgb.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, :sample_rgb.shape[1]] = sample_rgb
    canvas[:small.shape[0], sample_rgb.shape[1]:] = small
    assert len(bitmoji.translate(canvas, "cartoonize").faces) == 2
    (only,) = bitmoji.translate(canvas, "cartoonize", largest_face=True).faces
    assert only.box[0] < sample_rgb.shape[1]  # the big face on the left


def test_cli_output_format_quality_strength_and_device(tmp_path):
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "jpg"), "--format", "jpg", "--quality", "70",
                                 "--strength", "0.8", "--largest"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "jpg").iterdir()) == ["astronaut.jpg", "astronaut_0.jpg"]
    assert Image.open(tmp_path / "jpg" / "astronaut.jpg").format == "JPEG"
    assert runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "x"), "--format", "gif"]).exit_code == 2
    assert runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "x"), "--strength", "2"]).exit_code == 2
    if not torch.cuda.is_available():
        no_gpu = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "x"), "--device", "cuda"])
        assert no_gpu.exit_code == 2 and "no CUDA device" in no_gpu.stderr


def test_cutout_avatar_is_transparent_outside_the_head(bitmoji, cartoonized, tmp_path):
    """[polish]: a transparent cut-out avatar next to the pasted photo."""
    rgba = bitmoji.cutout(cartoonized.faces[0], "cartoonize")
    assert rgba.shape == (512, 512, 4)  # a profile picture's size, through the style's cartoon upscaler
    from toonbridge.faces.paste import light_backdrop

    avatar = bitmoji.enlarged(cartoonized.faces[0].output, 512)
    head = light_backdrop(avatar) == 0  # the keyed backdrop takes the head's edge colours
    assert np.array_equal(rgba[..., :3][head], avatar[head]) and not head.all()
    alpha = rgba[..., 3]
    assert alpha[256, 256] == 255 and alpha[:24, :24].max() == 0 and alpha[-24:, -24:].max() == 0
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path), "--cutout", "--format", "jpg"])
    assert result.exit_code == 0, result.output
    written = Image.open(tmp_path / "astronaut_0_cutout.png")
    assert written.mode == "RGBA" and np.array_equal(np.asarray(written), rgba)
