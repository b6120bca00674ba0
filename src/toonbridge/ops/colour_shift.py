"""Random colour shift to grey: White-box cartoonization's *texture* representation.

Each call draws one weighting of the red, green and blue channels and applies it to every image given, so that the
generated and the real cartoons reach their discriminator through the same grey conversion: the discriminator then
judges strokes and texture, not colour, and the random weights keep it from keying on one channel. The ranges are
the authors' (around the usual luma weights 0.30, 0.59, 0.11).
"""

from __future__ import annotations

import torch

RED_RANGE = (0.199, 0.399)
GREEN_RANGE = (0.387, 0.587)
BLUE_RANGE = (0.014, 0.214)


def random_colour_shift(*images: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Each N×3×H×W image (RGB) as N×1×H×W grey, all with the same randomly drawn channel weights."""
    draws = torch.rand(3, generator=generator)
    weights = torch.tensor([low + (high - low) * float(u) for (low, high), u in zip((RED_RANGE, GREEN_RANGE, BLUE_RANGE), draws)])
    weights = weights / weights.sum()
    return [(image * weights.to(image.device, image.dtype).view(1, 3, 1, 1)).sum(dim=1, keepdim=True) for image in images]
