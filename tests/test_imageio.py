import io

import numpy as np
import pytest
from PIL import Image

from toonbridge.errors import ImageTooLarge, InvalidImage
from toonbridge.imageio import load_image, save_image


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_rgb_roundtrip_from_path_bytes_pil_and_array(sample_rgb, tmp_path):
    path = save_image(sample_rgb, tmp_path / "x.png")
    for source in (path, str(path), path.read_bytes(), Image.open(path), sample_rgb):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == sample_rgb.shape
        assert np.array_equal(out, sample_rgb)


def test_rgba_transparent_pixels_become_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, but the left half is fully transparent
    rgba[:, 2:, 3] = 255
    out = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert (out[:, :2] == 255).all()
    assert (out[:, 2:] == [255, 0, 0]).all()


def test_grayscale_becomes_three_equal_channels():
    out = load_image(encode(Image.fromarray(np.array([[0, 128, 255]], np.uint8), "L")))
    assert out.shape == (1, 3, 3) and out[0, :, 0].tolist() == [0, 128, 255] and (out == out[..., :1]).all()


def test_la_and_palette_with_transparency():
    la = Image.fromarray(np.stack([np.full((3, 3), 10, np.uint8), np.full((3, 3), 255, np.uint8)], 2), "LA")
    assert (load_image(encode(la)) == 10).all()
    palette = Image.new("P", (2, 2), 0)
    palette.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    palette.info["transparency"] = 1
    assert (load_image(encode(palette, transparency=1)) == [0, 0, 255]).all()


def test_cmyk_jpeg_keeps_colours(sample_rgb):
    original = Image.fromarray(sample_rgb)
    out = load_image(encode(original.convert("CMYK"), "JPEG", quality=95))
    assert np.abs(out.astype(int) - sample_rgb.astype(int)).mean() < 8


def test_sixteen_bit_is_scaled_not_clipped(sample_rgb):
    gray8 = np.asarray(Image.fromarray(sample_rgb).convert("L"))
    gray16 = Image.fromarray(gray8.astype(np.uint16) * 257)
    assert gray16.mode.startswith("I")
    out = load_image(encode(gray16))
    assert np.abs(out[..., 0].astype(int) - gray8).max() <= 1
    assert out.mean() < 250  # clipping 16-bit values to 8 bits would give an all-white image


def test_float_and_bool_arrays():
    assert (load_image(np.full((2, 2), 0.5)) == 128).all()
    assert (load_image(np.ones((2, 2), bool)) == 255).all()
    # Signed integer images (PIL mode I) hold 8-bit, 16-bit or other data: judged by their values.
    assert load_image(np.array([[0, 65535]], np.int32))[0, :, 0].tolist() == [0, 255]
    assert load_image(np.array([[0, 100_000]], np.int32))[0, :, 0].tolist() == [0, 255]
    assert load_image(np.array([[0, 200]], np.int32))[0, :, 0].tolist() == [0, 200]  # already 8-bit values
    with pytest.raises(InvalidImage, match="array shape"):
        load_image(np.zeros((2, 2, 5)))


def test_exif_orientation_is_applied():
    tall = np.zeros((20, 10, 3), np.uint8)
    tall[:5] = 255  # white band at the top
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = load_image(encode(Image.fromarray(tall), "JPEG", exif=exif.tobytes()))
    assert out.shape[:2] == (10, 20)
    assert out[:, -5:].mean() > 200  # the top band is now on the right


def test_errors_are_typed_and_readable(tmp_path):
    with pytest.raises(InvalidImage, match="file not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InvalidImage, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(InvalidImage, match="empty file"):
        load_image(b"")
    with pytest.raises(InvalidImage, match="not an image"):
        load_image(b"hello")
    with pytest.raises(ImageTooLarge, match="over the limit of 1 MP"):
        load_image(encode(Image.new("RGB", (2000, 1000))), max_pixels=1_000_000)


def test_save_is_atomic_and_rejects_unknown_extension(sample_rgb, tmp_path):
    with pytest.raises(InvalidImage, match="unknown image extension"):
        save_image(sample_rgb, tmp_path / "x.notanimage")
    assert list(tmp_path.iterdir()) == []
    save_image(sample_rgb, tmp_path / "deep" / "x.png")
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["x.png"]  # no temporary file left behind
    (tmp_path / "plain.txt").write_text("")  # what open() gives under this umask
    assert (tmp_path / "deep" / "x.png").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777


def test_damaged_files_raise_only_invalid_image_and_print_nothing():
    """A small mutation fuzz over six formats: whatever the damage, the caller sees an image or InvalidImage."""
    import warnings

    rng = np.random.default_rng(0)
    small = Image.fromarray(np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8))
    seeds = [encode(small, fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for trial in range(900):
            data = bytearray(seeds[trial % len(seeds)])
            for _ in range(rng.integers(1, 8)):
                data[rng.integers(len(data))] = rng.integers(256)
            if rng.random() < 0.2:
                data = data[: rng.integers(1, len(data))]
            try:
                assert load_image(bytes(data)).dtype == np.uint8
            except InvalidImage:
                pass
    assert caught == []
