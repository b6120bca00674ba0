"""Measure a translation direction on aligned validation faces: KID against the target domain, landmark NME.

Inputs are the source domain's validation images (already aligned to the style's template); outputs are compared
with the target domain's validation images (KID) and, through the target domain's landmark regressor, with the
source's ground-truth landmarks (NME: how well face geometry survives the translation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toonbridge.data import DomainImages, tensor_to_image
from toonbridge.data.domains import Domain
from toonbridge.data.manifest import Sample
from toonbridge.eval.distribution import kid
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.losses import normalised_mean_error


@dataclass
class DirectionResult:
    kid: float
    kid_std: float
    landmark_nme: float | None
    n_inputs: int
    n_reference: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


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


@torch.no_grad()
def evaluate_direction(generator: torch.nn.Module, source: Domain, target: Sequence[Sample], size: int, *,
                       target_regressor: torch.nn.Module | None = None, limit: int | None = None,
                       frame: np.ndarray | None = None, save_to: str | Path | None = None) -> DirectionResult:
    """``frame``: a 2×3 transform carrying source landmarks into the target domain's frame before NME (see
    ``loss.landmark_frame`` of the landmark CycleGAN); without it the source landmarks are compared as they are."""
    outputs, source_points = translate_domain(generator, source, size, limit)
    if save_to is not None:
        from toonbridge.imageio import save_image

        for sample, output in zip(source, outputs):
            save_image(output, Path(save_to) / f"{Path(sample.name).stem}.png")
    reference = cached_path_features([sample.path for sample in target])
    distance = kid(features(outputs), reference)
    nme = None
    known = ~torch.isnan(source_points).any(dim=(1, 2))
    if target_regressor is not None and bool(known.any()):
        from toonbridge.data import image_to_tensor

        found = torch.cat([target_regressor.points(torch.stack([image_to_tensor(o) for o in outputs[i:i + 64]]))
                           for i in range(0, len(outputs), 64)])
        expected = source_points[known].double()
        if frame is not None:
            frame_tensor = torch.as_tensor(frame, dtype=torch.float64)
            expected = expected @ frame_tensor[:, :2].T + frame_tensor[:, 2]
        nme = float(normalised_mean_error(found[known], expected).mean())
    return DirectionResult(distance.mean, distance.std, nme, len(outputs), len(reference))
