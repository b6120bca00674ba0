"""Pixel reconstruction: the cycle and identity terms of CycleGAN."""

from __future__ import annotations

import torch


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output.float() - target.float()).abs().mean()
