"""A small CNN that predicts the 5 alignment landmarks of an aligned face, one per domain.

The landmark-assisted CycleGAN uses these regressors in two places: the landmark-consistency loss (the target
domain's regressor must find the source landmarks on the translated face) and the crops for the local eye/nose/
mouth discriminators on generated faces. Coordinates are predicted relative to the image side (0..1) so one model
serves any input size; :meth:`LandmarkRegressor.points` converts to pixels.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register


def _conv(in_channels: int, out_channels: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


@register("landmark_regressor")
class LandmarkRegressor(nn.Module):
    def __init__(self, width: int = 32, input_size: int = 128, n_points: int = 5):
        super().__init__()
        self.input_size = input_size
        self.n_points = n_points
        w = width
        self.features = nn.Sequential(
            *_conv(3, w, 2), *_conv(w, w, 1),  # 64
            *_conv(w, 2 * w, 2), *_conv(2 * w, 2 * w, 1),  # 32
            *_conv(2 * w, 4 * w, 2), *_conv(4 * w, 4 * w, 1),  # 16
            *_conv(4 * w, 8 * w, 2), *_conv(8 * w, 8 * w, 1),  # 8
            *_conv(8 * w, 8 * w, 2),  # 4
            nn.AdaptiveAvgPool2d(4),  # the identity at 128 px; lets smaller inputs through
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * w * 16, 256), nn.ReLU(inplace=True), nn.Linear(256, 2 * n_points))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.constant_(self.head[-1].bias, 0.5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], N×3×H×W -> landmarks N×P×2 as fractions of the image side (x, y)."""
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True)
        return self.head(self.features(images)).view(-1, self.n_points, 2)

    def points(self, images: torch.Tensor) -> torch.Tensor:
        """Landmarks in pixels of the input images (pixel-centre convention, as in the manifests)."""
        return to_pixels(self(images), images.shape[-1])


def to_fractions(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates (pixel i has its centre at i) -> fractions of the side, where 0 and 1 are the outer edges."""
    return (points + 0.5) / size


def to_pixels(fractions: torch.Tensor, size: int) -> torch.Tensor:
    return fractions * size - 0.5
