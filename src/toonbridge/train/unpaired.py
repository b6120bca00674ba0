"""What the unpaired translation methods share: data, learning-rate schedule, sample grids, shipped generators.

A subclass sets ``data_config`` (:class:`UnpairedData`), ``optim_config`` (with ``lr`` and ``decay_start``),
``to_cartoon``/``to_photo`` (built from ``generator_name`` and ``generator_options``) and, after each step,
``_last`` = (real photo, translated cartoon, real cartoon, translated photo).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from toonbridge.faces import get_template
from toonbridge.losses import face_identity_loss, face_perceptual_loss
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

    @functools.cached_property
    def template_points(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Each side's template 5 points (1×5×2, pixels at the training size), for faces without manifest landmarks;
        None for a side with no template. Read on first use, so exporting a run needs no data."""
        size = self.data_config.size
        found = []
        for side in self.data_config.domains():
            if side.template is None:
                found.append(None)
                continue
            template = get_template(side.template)
            points = torch.tensor(template.points5, dtype=torch.float32) * size / max(template.size)
            found.append(points[None].to(self.device))
        return found[0], found[1]

    def face_points(self, side: dict, photo_side: bool) -> torch.Tensor | None:
        """A batch's 5 points: the manifest's where known, else the side's template points (None if neither)."""
        template = self.template_points[0 if photo_side else 1]
        known = side["has_landmarks"].view(-1, 1, 1)
        if bool(known.all()):
            return side["landmarks"]
        return None if template is None else torch.where(known, side["landmarks"], template)

    def face_feature_terms(self, loss, pairs: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        """The face-network terms (``loss.face_identity``, ``loss.face_perceptual``; 0 turns one off) over
        (source, translation, source points, translation points) pairs: identity between each source and its
        translation, perceptual distance of the translation from its source (a content loss)."""
        terms = {}
        if loss.face_identity > 0:
            terms["face_identity"] = loss.face_identity * sum(face_identity_loss(s, o, sp, op) for s, o, sp, op in pairs)
        if loss.face_perceptual > 0:
            terms["face_perceptual"] = loss.face_perceptual * sum(face_perceptual_loss(o, s, op, sp) for s, o, sp, op in pairs)
        return terms

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
