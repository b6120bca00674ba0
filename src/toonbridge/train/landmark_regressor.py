"""Training the 5-point landmark regressor of one domain (photo or cartoon) on its manifest's landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toonbridge.data import AugmentConfig, DomainImages
from toonbridge.data.augment import colour_jitter
from toonbridge.models.landmark_regressor import to_fractions
from toonbridge.train.method import register_method
from toonbridge.train.supervised import SupervisedTraining


@dataclass
class RegressorModel:
    width: int = 32


@register_method("landmark_regressor")
class LandmarkRegressorTraining(SupervisedTraining):
    role, builder = "regressor", "landmark_regressor"
    sections = {**SupervisedTraining.sections, "model": RegressorModel}

    def network_options(self) -> dict:
        return {"width": self.model_config.width, "input_size": self.data_config.size}

    def dataset(self) -> DomainImages:
        domain = self.data_config.load("train")
        if len(domain) and not any(sample.landmarks5 is not None for sample in domain):  # empty: DomainImages says so
            raise ValueError(f"{self.data_config.domain} has no 5-point landmarks to learn from")
        augment = AugmentConfig(**self.data_config.augment)
        return DomainImages(domain, self.data_config.size, augment, self.config.seed)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.network.train()
        known = batch["has_landmarks"]
        images = colour_jitter(batch["image"][known], self.data_config.colour_jitter)
        target = to_fractions(batch["landmarks"][known], self.data_config.size)
        with self.autocast():
            predicted = self.network(images)
        loss = torch.nn.functional.smooth_l1_loss(predicted.float(), target, beta=0.01)
        self.optimise(loss)
        return {"landmark_l1": loss.detach()}
