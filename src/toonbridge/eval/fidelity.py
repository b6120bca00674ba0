"""Pixel fidelity to a reference image: PSNR and SSIM (Wang et al. 2004), as super-resolution papers report them.

SSIM here is the standard one: an 11×11 Gaussian window (σ 1.5), constants K1 0.01 and K2 0.03 on 0..255, on the
luma channel (ITU-R BT.601), averaged over the valid part of the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _luma(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float64)
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114 if image.ndim == 3 else image


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all channels (inf for identical images)."""
    error = np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0 ** 2 / error))


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity of the two images' luma, 1 for identical images."""
    x, y = _luma(image), _luma(reference)
    blur = lambda a: ndimage.gaussian_filter(a, 1.5, truncate=3.5)  # noqa: E731 (an 11×11 window)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(index[5:-5, 5:-5].mean())
