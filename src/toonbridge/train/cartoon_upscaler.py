"""Training the ×2 cartoon upscaler (models/cartoon_upscaler.py) on cartoons shrunk by half.

Each step cuts random patches from the cartoon sets at their native size (data/patches.py), shrinks each by area
averaging, which is how a 128-px cartoon relates to the larger one it stands for, and scores the network's ×2
enlargement against the patch by L1 (sharper than L2 on flat colours and lines)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from toonbridge.data import load_split
from toonbridge.data.patches import RandomPatches
from toonbridge.train.config import ConfigError
from toonbridge.train.method import register_method
from toonbridge.train.supervised import SupervisedTraining
from toonbridge.train.schedules import AdamWCosine


@dataclass
class UpscalerData:
    domains: list[str] = field(default_factory=lambda: ["celeba2bitmoji/cartoon", "selfie2anime/anime"])
    patch: int = 96  # high-resolution side; the network sees half of it


@dataclass
class UpscalerModel:
    width: int = 32
    blocks: int = 6


@register_method("cartoon_upscaler")
class CartoonUpscalerTraining(SupervisedTraining):
    role, builder = "upscaler", "cartoon_upscaler"
    sections = {"data": UpscalerData, "model": UpscalerModel, "optim": AdamWCosine}

    @classmethod
    def check_sections(cls, data: UpscalerData, **_parsed) -> None:
        if data.patch < 8 or data.patch % 2:
            raise ConfigError(f"data.patch must be an even number of pixels, at least 8, not {data.patch}")
        if not data.domains:
            raise ConfigError("data.domains: name at least one cartoon set")

    def network_options(self) -> dict:
        return {"width": self.model_config.width, "blocks": self.model_config.blocks}

    def dataset(self) -> RandomPatches:
        return RandomPatches([load_split(name, "train") for name in self.data_config.domains], self.data_config.patch, self.config.seed)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.network.train()
        sharp = batch["image"]
        small = F.interpolate(sharp, scale_factor=0.5, mode="area")
        with self.autocast():
            enlarged = self.network(small)
        loss = F.l1_loss(enlarged.float(), sharp)
        with torch.no_grad():
            bicubic = F.l1_loss(F.interpolate(small, scale_factor=2, mode="bicubic", align_corners=False).clamp(-1, 1), sharp)
        self.optimise(loss)
        return {"upscale_l1": loss.detach(), "bicubic_l1": bicubic}
