"""Low-light photos brought to a normal exposure before their faces are cut out ([in-the-wild]).

Every style learned from well-lit portraits. A dim photo's face came out as a dark-skinned, muddy cartoon: the
generators read darkness as skin colour, and the aligned crop mixes the dim face with padding at normal exposure
(docs/models.md, "Low light"). :func:`exposure_gain` is the one gain, for all pixels and channels, that brings a
dim photo's highlights to a normal white: a dark-skinned face in normal light (whose photo still has bright
highlights) is left as it is, and relative tones are kept. The gain multiplies sensor noise too, so the face crops
of a brightened photo are then denoised (:func:`denoise`) by as much noise as they show. In a video the gain is
smoothed over time (:class:`SteadyExposure`), so that the faces do not flicker between two exposures.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DIM_WHITE = 160  # a photo whose 99th-percentile luminance is under this is dim (a normal one reaches 200-255)
TARGET_WHITE = 230
MAX_GAIN = 4.0  # past this, a photo is mostly noise
NOISE_FLOOR = 2.0  # grey levels of noise below which denoising only blurs
STEADY_SECONDS = 1.0  # a video's gain follows a change of light over about this long
UNITY_BAND = 1.005  # a smoothed gain this close to 1 is 1 (under 1.3 grey levels), and no denoising to pay for


def exposure_gain(image: np.ndarray) -> float:
    """The gain that brings ``image``'s (RGB uint8) highlights to a normal white; 1 for a photo that is not dim."""
    step = max(1, max(image.shape[:2]) // 512)  # a percentile needs no more than ~512² pixels (a 12-MP photo: 0.3 s)
    luminance = image[::step, ::step].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    white = float(np.percentile(luminance, 99))
    return 1.0 if white >= DIM_WHITE else min(TARGET_WHITE / max(white, 1.0), MAX_GAIN)


class SteadyExposure:
    """A video's gain, one per frame, smoothed over time (an exponential moving average of its logarithm).

    Frame by frame, :func:`exposure_gain` jumps: between 1 and ~1.45 when a scene's highlights hover about
    ``DIM_WHITE``, and whenever a bright object enters or leaves the frame; the faces cut out of the brightened
    frames, and so their cartoons, would flicker with it. The first frame takes its own gain, so a dim video is
    brightened from its start.
    """

    def __init__(self, fps: float, seconds: float = STEADY_SECONDS):
        # A time constant of ``seconds``; 0 gives each frame its own gain (for comparison: benchmarks/video_jitter.py).
        self.weight = 1 - math.exp(-1 / (max(fps, 1e-3) * seconds)) if seconds > 0 else 1.0
        self.log_gain: float | None = None

    def __call__(self, frame: np.ndarray) -> float:
        wanted = math.log(exposure_gain(frame))
        self.log_gain = wanted if self.log_gain is None else self.log_gain + self.weight * (wanted - self.log_gain)
        gain = math.exp(self.log_gain)
        return 1.0 if gain < UNITY_BAND else gain


def noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise in grey levels, by Immerkær's fast estimate (1996): a Laplacian-difference kernel that
    cancels smooth image content, its mean absolute response scaled to a standard deviation."""
    grey = image.astype(np.float32).mean(axis=2)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(grey, -1, kernel)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def brighten(image: np.ndarray, gain: float) -> np.ndarray:
    return image if gain == 1.0 else np.clip(image.astype(np.float32) * gain, 0, 255).round().astype(np.uint8)


def denoise(image: np.ndarray) -> np.ndarray:
    """Non-local means at the strength of the noise ``image`` shows (itself when it shows hardly any). Meant for
    face crops: on a whole photo of several megapixels it takes seconds."""
    sigma = noise_sigma(image)
    if sigma < NOISE_FLOOR:
        return image
    strength = 1.2 * sigma
    return cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(image), None, strength, strength, 5, 15)
