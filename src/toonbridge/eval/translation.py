"""Translate a whole domain with one generator (batched), for tests and scripts that need raw outputs.

The full measurement of a style (KID, NME, identity, attributes, groups) is :mod:`toonbridge.eval.style_eval`.
"""

from __future__ import annotations


import numpy as np
import torch

from toonbridge.data import DomainImages, tensor_to_image
from toonbridge.data.domains import Domain


@torch.no_grad()
def translate_domain(generator: torch.nn.Module, source: Domain, size: int, limit: int | None = None,
                     batch_size: int = 16) -> tuple[list[np.ndarray], torch.Tensor]:
    """Translate the first ``limit`` images of ``source``; returns the outputs and the inputs' landmarks (NaN if unknown)."""
    images = DomainImages(source, size)
    count = len(images) if limit is None else min(limit, len(images))
    outputs, landmarks = [], []
    for start in range(0, count, batch_size):
        items = [images[i] for i in range(start, min(start + batch_size, count))]
        translated = generator(torch.stack([item["image"] for item in items]))
        outputs += [tensor_to_image(t) for t in translated]
        landmarks += [item["landmarks"] for item in items]
    return outputs, torch.stack(landmarks)
