"""Superpixel images: White-box cartoonization's *structure* representation.

An image is cut into SLIC superpixels (Achanta et al. 2012; scikit-image) and each region painted one colour, with
the authors' "adaptive colouring": a flat region takes its mean, a textured one its median (or the average of the
two), which keeps contrast that plain means wash out. The result looks like a cel-shaded version of the image, and
the structure loss asks the generator's features to match it. Runs in numpy on the CPU: about 15 ms for a 128-px
face (docs/models.md); the training step calls it once per generated batch.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

# Standard deviations (0-255 scale) below which a region is flat (mean colour) and above which it is textured
# (median colour); in between the two are averaged. The authors' thresholds.
FLAT_STD = 20.0
TEXTURED_STD = 40.0


def superpixel_colours(image: np.ndarray, segments: int = 200, compactness: float = 10.0) -> np.ndarray:
    """An H×W×3 uint8 image painted one adaptive colour per SLIC superpixel (same shape and dtype)."""
    from skimage.segmentation import slic

    labels = slic(image, n_segments=segments, compactness=compactness, start_label=0, convert2lab=True)
    count = int(labels.max()) + 1
    index = np.arange(count)
    painted = np.empty(image.shape, np.float32)
    for channel in range(3):
        values = image[..., channel].astype(np.float32)
        mean = ndimage.mean(values, labels, index)
        std = ndimage.standard_deviation(values, labels, index)
        median = ndimage.median(values, labels, index)
        colour = np.where(std < FLAT_STD, mean, np.where(std < TEXTURED_STD, 0.5 * (mean + median), median))
        painted[..., channel] = colour[labels]
    return np.clip(painted.round(), 0, 255).astype(np.uint8)


def superpixel_batch(images: torch.Tensor, segments: int = 200) -> torch.Tensor:
    """:func:`superpixel_colours` of each N×3×H×W image in [-1, 1], as a tensor of the same shape (no gradient)."""
    arrays = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    painted = np.stack([superpixel_colours(array, segments) for array in arrays])
    return torch.from_numpy(painted).to(images.device).permute(0, 3, 1, 2).float().div(127.5).sub(1)
