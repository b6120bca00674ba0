"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random, differentiable transformations are applied to every image the discriminator sees, real and
generated, so it cannot overfit a small training set and the generator still gets gradients through them. Images
are in [-1, 1], batch-first. Random draws come from torch's global generator, which training checkpoints, so a
resumed run augments exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from toonbridge.errors import ToonbridgeError


def _brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def _saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean


def _contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (grey in [-1, 1])."""
    batch, _, height, width = x.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = torch.randint(-shift_y, shift_y + 1, (batch, 1, 1), device=x.device)
    tx = torch.randint(-shift_x, shift_x + 1, (batch, 1, 1), device=x.device)
    grid_y = torch.arange(height, device=x.device)[None, :, None].expand(batch, height, width)
    grid_x = torch.arange(width, device=x.device)[None, None, :].expand(batch, height, width)
    source_y = (grid_y - ty + 1).clamp(0, height + 1)
    source_x = (grid_x - tx + 1).clamp(0, width + 1)
    padded = F.pad(x, (1, 1, 1, 1))
    index = torch.arange(batch, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, source_y, source_x].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` × the size at a random place in each image."""
    batch, _, height, width = x.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = torch.randint(0, height + (1 - cut_h % 2), (batch, 1, 1), device=x.device)
    centre_x = torch.randint(0, width + (1 - cut_w % 2), (batch, 1, 1), device=x.device)
    grid_y = torch.arange(cut_h, device=x.device)[None, :, None] + centre_y - cut_h // 2
    grid_x = torch.arange(cut_w, device=x.device)[None, None, :] + centre_x - cut_w // 2
    mask = torch.ones(batch, height, width, device=x.device, dtype=x.dtype)
    index = torch.arange(batch, device=x.device)[:, None, None]
    mask[index, grid_y.clamp(0, height - 1), grid_x.clamp(0, width - 1)] = 0
    return x * mask[:, None]


POLICIES = {"color": (_brightness, _saturation, _contrast), "translation": (_translation,), "cutout": (_cutout,)}


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` → its parts, checked; ``""`` → none."""
    parts = [part.strip() for part in policy.split(",") if part.strip()]
    unknown = [part for part in parts if part not in POLICIES]
    if unknown:
        raise ToonbridgeError(f"unknown DiffAugment policy {', '.join(unknown)}; choose from {', '.join(POLICIES)}")
    return parts


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    for part in parse_policy(policy):
        for transform in POLICIES[part]:
            x = transform(x)
    return x.contiguous()
