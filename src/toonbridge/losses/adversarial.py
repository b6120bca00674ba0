"""Least-squares GAN losses (Mao et al. 2017), as CycleGAN uses them. Scores are compared in float32."""

from __future__ import annotations

import torch


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator wants the discriminator to score its images as real (1)."""
    return (fake_scores.float() - 1).pow(2).mean()


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Real -> 1, fake -> 0, halved as in CycleGAN so the discriminator learns at half the generator's rate."""
    return 0.5 * ((real_scores.float() - 1).pow(2).mean() + fake_scores.float().pow(2).mean())
