"""What the unpaired translation methods share: data, learning-rate schedule, sample grids, shipped generators.

A subclass sets ``data_config`` (:class:`UnpairedData`), ``optim_config`` (with ``lr`` and ``decay_start``),
``to_cartoon``/``to_photo`` (built from ``generator_name`` and ``generator_options``) and, after each step,
``_last`` = (real photo, translated cartoon, real cartoon, translated photo).
"""

from __future__ import annotations

import torch
from torch import nn

from toonbridge.train.method import TrainingMethod
from toonbridge.train.schedules import constant_then_linear, set_learning_rate


class UnpairedTranslation(TrainingMethod):
    generator_name: str
    generator_options: dict
    to_cartoon: nn.Module
    to_photo: nn.Module

    def dataset(self):
        return self.data_config.dataset(self.config.seed)

    def set_learning_rate_for(self, step: int) -> None:
        scale = constant_then_linear(step, self.config.steps, self.optim_config.decay_start)
        set_learning_rate(self.optimizers.values(), self.optim_config.lr, scale)

    def samples(self, batch: dict) -> torch.Tensor:
        """Rows: photo | cartoon | back, cartoon | photo | back (first item of the batch)."""
        real_photo, fake_cartoon, real_cartoon, fake_photo = (t[:1] for t in self._last)
        with torch.no_grad(), self.autocast():
            rows = [torch.cat([real_photo, fake_cartoon, self.to_photo(fake_cartoon)], dim=3),
                    torch.cat([real_cartoon, fake_photo, self.to_cartoon(fake_photo)], dim=3)]
        return torch.cat(rows, dim=2)[0].float().add(1).div(2).clamp(0, 1).cpu()

    def shipped(self) -> dict[str, tuple[nn.Module, str, dict]]:
        return {"to_cartoon": (self.to_cartoon, self.generator_name, self.generator_options),
                "to_photo": (self.to_photo, self.generator_name, self.generator_options)}
