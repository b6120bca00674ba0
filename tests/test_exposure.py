"""[in-the-wild] Low light: a dim photo's faces are cut out at a normal exposure; a photo in normal light is untouched."""

from __future__ import annotations

import numpy as np

import toonbridge
from conftest import SAMPLE
from toonbridge.imageio import load_image
from toonbridge.ops.exposure import SteadyExposure, brighten, denoise, exposure_gain, noise_sigma


def _dim(image: np.ndarray, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(image * 0.35 + rng.normal(0, noise, image.shape), 0, 255).round().astype(np.uint8)


def test_only_a_dim_photo_gets_a_gain_and_it_restores_the_highlights():
    photo = load_image(SAMPLE)
    assert exposure_gain(photo) == 1.0 and brighten(photo, 1.0) is photo
    gain = exposure_gain(_dim(photo))
    assert 2.3 < gain < 3.2  # back to about where the photo was (1 / 0.35 = 2.86)
    # A dark face in normal light: most of the picture dark, but its highlights bright. Left as it is.
    dark_skin = np.full((100, 100, 3), 60, np.uint8)
    dark_skin[:5] = 240
    assert exposure_gain(dark_skin) == 1.0


def test_the_noise_estimate_and_denoising():
    flat = np.full((96, 96, 3), 120.0)
    for sigma in (6.0, 12.0):
        noisy = np.clip(flat + np.random.default_rng(1).normal(0, sigma, flat.shape), 0, 255).astype(np.uint8)
        assert abs(noise_sigma(noisy) - sigma / np.sqrt(3)) < 0.1 * sigma  # grey: the mean of 3 noisy channels
        assert noise_sigma(denoise(noisy)) < 0.5 * noise_sigma(noisy)
    faint = np.clip(flat + np.random.default_rng(2).normal(0, 2.0, flat.shape), 0, 255).astype(np.uint8)
    assert denoise(faint) is faint  # under the noise floor: nothing to gain, detail to lose


def test_a_dim_photos_face_is_cut_out_brightened_and_pasted_into_the_dim_photo():
    style = toonbridge.load("bitmoji", backend="torch")
    photo = load_image(SAMPLE)
    normal = style.translate(photo, "cartoonize").faces[0]
    dim_photo = _dim(photo, noise=4.0)
    dim = style.translate(dim_photo, "cartoonize")
    face_area = (slice(44, 108), slice(36, 92))  # brows to chin of the 128-px crop (the backdrop around it is keyed white)
    assert abs(dim.faces[0].aligned[face_area].mean() - normal.aligned[face_area].mean()) < 20
    # The rest of the photo stays as dim as it was (the bottom corner, far from the face).
    assert np.array_equal(dim.image[-80:, -80:], dim_photo[-80:, -80:])
    style.brighten_dim_photos = False
    kept = style.translate(dim_photo, "cartoonize").faces[0]
    assert normal.aligned[face_area].mean() - kept.aligned[face_area].mean() > 60


def test_a_videos_gain_is_steady_where_each_frames_own_gain_jumps():
    """Highlights that hover about the dim threshold: each frame's own gain jumps between 1 and ~1.5; the steady
    gain moves by a few per cent a frame, starts at the first frame's own gain, and follows a lasting change."""
    frame = lambda white: np.full((64, 64, 3), white, np.uint8)  # noqa: E731
    hovering = [frame(150 if i % 2 else 170) for i in range(50)]
    own = [exposure_gain(f) for f in hovering]
    assert own[0] == 1.0 and own[1] > 1.4
    steady = SteadyExposure(fps=25)
    gains = [steady(f) for f in hovering]
    assert gains[0] == 1.0 and max(abs(a / b - 1) for a, b in zip(gains[1:], gains)) < 0.03
    assert 1.1 < gains[-1] < 1.35  # between the two, on a log scale
    dark = SteadyExposure(fps=25)
    assert dark(frame(60)) == exposure_gain(frame(60)) > 3  # a dim video is brightened from its first frame
    gains = [dark(frame(200)) for _ in range(150)]  # the lights go on
    assert gains[75] < 1.1 and gains[-1] == 1.0  # nearly back at 1 in three seconds, exactly 1 in six
