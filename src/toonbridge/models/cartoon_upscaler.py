"""A small ×2 super-resolution network for cartoons: the generators draw at 128 px, users see their faces larger.

Why: every style paints its cartoon at 128 px, and it reaches the user bigger: ``anime`` delivers 256-px crops
(selfie → anime KID×100 18.1 at 256 px against 15.5 at 128, docs/models.md), and a face in a phone photo is often
500-1,500 px wide, so the pasted cartoon was a bicubic enlargement 4-12× over, a blur of soft lines. Cartoons are
flat colours and lines, which a small network learns to enlarge crisply from cartoons shrunk by half (ESPCN's
sub-pixel convolution, EDSR's residual blocks without batch norm; it predicts the detail on top of a bicubic
enlargement, so an untrained or uncertain network still gives the bicubic image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toonbridge.models import register


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("cartoon_upscaler")
class CartoonUpscaler(nn.Module):
    """N×3×H×W in [-1, 1] -> N×3×2H×2W in [-1, 1]."""

    def __init__(self, width: int = 32, blocks: int = 6):
        super().__init__()
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Sequential(*[_Residual(width) for _ in range(blocks)])
        self.tail = nn.Sequential(nn.Conv2d(width, 3 * 4, 3, padding=1), nn.PixelShuffle(2))
        nn.init.zeros_(self.tail[0].weight)  # starts as the bicubic enlargement
        nn.init.zeros_(self.tail[0].bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.head(image)
        detail = self.tail(features + self.body(features))
        bicubic = F.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False)
        return (bicubic + detail).clamp(-1, 1)
