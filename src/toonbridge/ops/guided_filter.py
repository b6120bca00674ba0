"""The guided filter (He, Sun & Tang 2013): edge-preserving smoothing, differentiable, for N×C×H×W tensors.

White-box cartoonization uses it twice: as the *surface* representation (each image guided by itself: flat regions
with their edges kept, what a cartoon's paint looks like) and, at inference, to clean the generator's output with
the input photo as guide (``guided_filter(photo, output, radius=1, eps=5e-3)``).
"""

from __future__ import annotations

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
