"""Differentiable warps of image batches: a least-squares similarity from point sets, and an affine resampling.

Pixel coordinates follow the rest of toonbridge: pixel centres at integers, (0, 0) the centre of the top-left pixel.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def similarity_matrices(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """B×2×3 matrices of the least-squares similarities (rotation, uniform scale, shift; never a reflection) that
    map each ``source`` point set (B×N×2) onto ``target`` (N×2 or B×N×2). In complex numbers the fit is
    ``t = a·s + b`` with ``a = Σ (t − t̄) conj(s − s̄) / Σ |s − s̄|²``."""
    source = source.double()
    target = target.double().expand_as(source)
    s = torch.complex(source[..., 0], source[..., 1])
    t = torch.complex(target[..., 0], target[..., 1])
    s_centred = s - s.mean(dim=1, keepdim=True)
    t_centred = t - t.mean(dim=1, keepdim=True)
    a = (t_centred * s_centred.conj()).sum(dim=1) / s_centred.abs().square().sum(dim=1).clamp_min(1e-12)
    b = t.mean(dim=1) - a * s.mean(dim=1)
    rows = [torch.stack([a.real, -a.imag, b.real], dim=1), torch.stack([a.imag, a.real, b.imag], dim=1)]
    return torch.stack(rows, dim=1).float()


def invert_affine(matrices: torch.Tensor) -> torch.Tensor:
    linear = torch.linalg.inv(matrices[:, :, :2].double())
    shift = -(linear @ matrices[:, :, 2:].double())
    return torch.cat([linear, shift], dim=2).to(matrices.dtype)


def warp_affine(images: torch.Tensor, output_to_input: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample ``images`` (B×C×H×W) into B×C×``size`` (height, width): output pixel (x, y) takes the bilinear value
    of input pixel ``output_to_input @ (x, y, 1)``; outside the input it is 0. Gradients reach ``images``."""
    height, width = size
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=images.device),
                            torch.arange(width, dtype=torch.float32, device=images.device), indexing="ij")
    pixels = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, -1, 3)
    source = pixels @ output_to_input.float().transpose(1, 2)  # B × (H·W) × 2, input pixel coordinates
    in_height, in_width = images.shape[-2:]
    # grid_sample's normalised coordinates with align_corners=False: -1 and 1 are the outer edges of the image.
    grid = torch.stack([(2 * source[..., 0] + 1) / in_width - 1, (2 * source[..., 1] + 1) / in_height - 1], dim=-1)
    grid = grid.reshape(-1, height, width, 2).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
