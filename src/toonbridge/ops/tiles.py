"""Running a fully convolutional network on an image too large for one pass: overlapping tiles, blended.

Each tile's result is weighted by a ramp that rises over the overlap from its inner edges, so seams fade instead of
showing; memory is bounded by the tile size, whatever the photo's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _ramp(length: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    """1 inside; at a tile edge inside the photo, rising from ~0 over the overlap (the edge pixels, which saw the
    tile's padding instead of their neighbours, count for almost nothing); flat at the photo's own border."""
    position = torch.arange(length, dtype=torch.float32)
    rising = (position / overlap).clamp(1e-3, 1)
    ramp = torch.ones(length)
    if not first:
        ramp = torch.minimum(ramp, rising)
    if not last:
        ramp = torch.minimum(ramp, rising.flip(0))
    return ramp


# 544 = (1024 + 64) / 2: a photo at the whole-photo mode's largest side (1024 px) runs as 2×2 tiles, 13 % more
# pixels than the photo; 512-px tiles took 3×3 (2.25× the photo's pixels) for the same memory bound.
TILE = 544


def run_tiled(network: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, tile: int = TILE,
              overlap: int = 64) -> torch.Tensor:
    """``network`` (same-size output) over a 1×C×H×W ``image`` in tiles of at most ``tile`` pixels a side."""
    height, width = image.shape[-2:]
    if height <= tile and width <= tile:
        return network(image).float()
    if overlap * 2 >= tile:
        raise ValueError("overlap must be under half the tile size")
    total = None
    weights = torch.zeros(1, 1, height, width, device=image.device)
    for top in _starts(height, tile, tile - overlap):
        for left in _starts(width, tile, tile - overlap):
            window = image[..., top:top + tile, left:left + tile]
            result = network(window).float()
            rows = _ramp(window.shape[-2], overlap, top == 0, top + window.shape[-2] == height)
            columns = _ramp(window.shape[-1], overlap, left == 0, left + window.shape[-1] == width)
            weight = (rows[:, None] * columns[None, :]).to(image.device)
            if total is None:
                total = torch.zeros(1, result.shape[1], height, width, device=image.device)
            total[..., top:top + tile, left:left + tile] += result * weight
            weights[..., top:top + tile, left:left + tile] += weight
    return total / weights
