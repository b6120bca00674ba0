"""Differentiable crops of eyes, nose and mouth around 5-point landmarks, for the local discriminators.

Each part is a square around a landmark-derived centre whose side is a multiple of the inter-ocular distance, so
the crops follow the face's scale. The right eye is mirrored so that one eye discriminator sees both eyes the
same way round. Crops are resampled to ``patch`` pixels with ``grid_sample``, so gradients reach the generator.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# part -> side of the square crop in inter-ocular distances (measured on the 128-px Bitmoji template, where the
# eyes are ~31 px apart: eyes ~25 px, nose ~25 px, mouth ~37 px).
PART_SIDES = {"eyes": 0.8, "nose": 0.8, "mouth": 1.2}
PARTS = tuple(PART_SIDES)


def part_centres(points: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """points: N×5×2 pixels -> part -> list of N×2 centres (two for the eyes)."""
    return {
        "eyes": [points[:, 0], points[:, 1]],
        "nose": [points[:, 2]],
        "mouth": [(points[:, 3] + points[:, 4]) / 2],
    }


def crop_parts(images: torch.Tensor, points: torch.Tensor, patch: int = 32) -> dict[str, torch.Tensor]:
    """images N×C×S×S, points N×5×2 in pixels -> part -> crops (N·k)×C×patch×patch (k = 2 for the eyes)."""
    size = images.shape[-1]
    points = points.float()
    inter_ocular = (points[:, 0] - points[:, 1]).norm(dim=-1).clamp_min(4.0)
    crops = {}
    for part, centres in part_centres(points).items():
        side = PART_SIDES[part] * inter_ocular
        pieces = []
        for index, centre in enumerate(centres):
            mirror = part == "eyes" and index == 1
            pieces.append(_crop(images, centre, side, size, patch, mirror))
        crops[part] = torch.cat(pieces)
    return crops


def _crop(images: torch.Tensor, centre: torch.Tensor, side: torch.Tensor, size: int, patch: int, mirror: bool) -> torch.Tensor:
    # affine_grid works in [-1, 1] coordinates (align_corners=False: -1 and 1 are the outer pixel edges).
    scale = side / size
    theta = torch.zeros(images.shape[0], 2, 3, device=images.device, dtype=torch.float32)
    theta[:, 0, 0] = -scale if mirror else scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = (centre + 0.5) / size * 2 - 1
    grid = F.affine_grid(theta, [images.shape[0], images.shape[1], patch, patch], align_corners=False)
    return F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False).to(images.dtype)
