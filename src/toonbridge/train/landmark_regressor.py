"""Training the 5-point landmark regressor of one domain (photo or cartoon) on its manifest's landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toonbridge.data import AugmentConfig, DomainImages, load_split
from toonbridge.data.augment import colour_jitter
from toonbridge.models import build
from toonbridge.models.landmark_regressor import to_fractions
from toonbridge.train.config import SupervisedData, TrainConfig, section
from toonbridge.train.method import TrainingMethod, register_method
from toonbridge.train.schedules import AdamWCosine, set_learning_rate, warmup_cosine


@dataclass
class RegressorModel:
    width: int = 32


@register_method("landmark_regressor")
class LandmarkRegressorTraining(TrainingMethod):
    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.data_config = section(SupervisedData, config.data, "data")
        self.model_config = section(RegressorModel, config.model, "model")
        self.optim_config = section(AdamWCosine, config.optim, "optim")
        self.regressor = build("landmark_regressor", width=self.model_config.width, input_size=self.data_config.size).to(device)
        self.networks = {"regressor": self.regressor}
        self.optimizers = {"regressor": torch.optim.AdamW(self.regressor.parameters(), lr=self.optim_config.lr,
                                                          weight_decay=self.optim_config.weight_decay)}

    def dataset(self) -> DomainImages:
        domain = load_split(self.data_config.domain, "train", self.data_config.filters)
        if not any(sample.landmarks5 is not None for sample in domain):
            raise ValueError(f"{self.data_config.domain} has no 5-point landmarks to learn from")
        augment = AugmentConfig(**self.data_config.augment)
        return DomainImages(domain, self.data_config.size, augment, self.config.seed)

    def set_learning_rate_for(self, step: int) -> None:
        scale = warmup_cosine(step, self.config.steps, self.optim_config.warmup_steps)
        set_learning_rate(self.optimizers.values(), self.optim_config.lr, scale)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.regressor.train()
        known = batch["has_landmarks"]
        images = colour_jitter(batch["image"][known], self.data_config.colour_jitter)
        target = to_fractions(batch["landmarks"][known], self.data_config.size)
        with self.autocast():
            predicted = self.regressor(images)
        loss = torch.nn.functional.smooth_l1_loss(predicted.float(), target, beta=0.01)
        optimizer = self.optimizers["regressor"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"landmark_l1": loss.detach()}

    def shipped(self) -> dict[str, tuple[torch.nn.Module, str, dict]]:
        return {"regressor": (self.regressor, "landmark_regressor", {"width": self.model_config.width, "input_size": self.data_config.size})}
