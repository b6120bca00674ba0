"""The guided filter (He, Sun & Tang 2013): edge-preserving smoothing, differentiable, for N×C×H×W tensors.

White-box cartoonization uses it twice: as the *surface* representation (each image guided by itself: flat regions
with their edges kept, what a cartoon's paint looks like) and, at inference, to clean the generator's output with
the input photo as guide (``guided_filter(photo, output, radius=1, eps=5e-3)``). :func:`guided_filter_image` is the
same filter on numpy arrays (N×C×H×W or H×W) with OpenCV's box filters, for the ONNX fast path (~3 ms at 256 px,
where the filter as ONNX ops took ~10; docs/benchmarks.md).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.nn import functional as F


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """The mean over each (2r+1)² window; windows cut by the border average only the pixels inside."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def guided_filter(guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """``source`` smoothed where ``guide`` is flat and kept where ``guide`` has edges. ``guide`` has 1 channel or
    as many as ``source``; ``eps`` (in the units of the images squared, here [-1, 1]) sets what counts as an edge."""
    guide, source = guide.float(), source.float()
    mean_guide = box_mean(guide, radius)
    mean_source = box_mean(source, radius)
    covariance = box_mean(guide * source, radius) - mean_guide * mean_source
    variance = box_mean(guide * guide, radius) - mean_guide * mean_guide
    slope = covariance / (variance + eps)
    offset = mean_source - slope * mean_guide
    return box_mean(slope, radius) * guide + box_mean(offset, radius)


def guided_filter_image(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """:func:`guided_filter` on float arrays of one shape whose last two axes are height and width (N×C×H×W as a
    network's input and output, or H×W), channel by channel, with OpenCV's box filters (the same border rule:
    windows cut by the border average the pixels inside). Numpy and OpenCV only: after an onnxruntime call,
    PyTorch kernels would wake its thread pool against onnxruntime's, still spinning, and cost more than the
    filter."""
    size = (2 * radius + 1, 2 * radius + 1)
    inside = cv2.boxFilter(np.ones(guide.shape[-2:], np.float32), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)

    def mean(plane: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(plane, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT) / inside

    guide, source = np.asarray(guide, np.float32), np.asarray(source, np.float32)
    if guide.shape != source.shape:
        raise ValueError(f"guide {guide.shape} and source {source.shape} differ in shape")
    filtered = np.empty_like(source)
    for index in np.ndindex(source.shape[:-2]):
        g, x = guide[index], source[index]
        mean_guide, mean_source = mean(g), mean(x)
        slope = (mean(g * x) - mean_guide * mean_source) / (mean(g * g) - mean_guide * mean_guide + eps)
        filtered[index] = mean(slope) * g + mean(mean_source - slope * mean_guide)
    return filtered
