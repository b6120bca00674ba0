"""Smoothness criteria: total variation."""

from __future__ import annotations

import torch


def total_variation_loss(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, across and down (N×C×H×W; 0 for a flat image).

    White-box cartoonization weights it 1e4 on a sum normalised by H·W·C at 256 px, which is about 0.05 on this
    mean; it flattens the generator's high-frequency noise into cartoon-like flat regions."""
    images = images.float()
    across = (images[..., :, 1:] - images[..., :, :-1]).square().mean()
    down = (images[..., 1:, :] - images[..., :-1, :]).square().mean()
    return across + down
