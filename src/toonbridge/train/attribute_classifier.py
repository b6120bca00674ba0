"""Training a face attribute classifier (e.g. gender) on one domain's labels, for the evaluation metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from toonbridge.data import AugmentConfig, DomainImages, load_split
from toonbridge.data.augment import colour_jitter
from toonbridge.models import build
from toonbridge.train.config import SupervisedData, TrainConfig, section
from toonbridge.train.method import TrainingMethod, register_method
from toonbridge.train.schedules import AdamWCosine, set_learning_rate, warmup_cosine


@dataclass
class ClassifierData(SupervisedData):
    label: str = "gender"
    classes: list[str] = field(default_factory=lambda: ["female", "male"])


@dataclass
class ClassifierModel:
    width: int = 16


class LabelledImages(DomainImages):
    """A domain's images with the class index of one label (samples without a known class are left out)."""

    def __init__(self, domain, label: str, classes: list[str], *args, **kwargs):
        super().__init__(domain.where(**{label: classes}), *args, **kwargs)
        self.label, self.classes = label, classes

    def item(self, sample, rng) -> dict:
        item = super().item(sample, rng)
        item["class"] = self.classes.index(sample.labels[self.label])
        return item


@register_method("attribute_classifier")
class AttributeClassifierTraining(TrainingMethod):
    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.data_config = section(ClassifierData, config.data, "data")
        self.model_config = section(ClassifierModel, config.model, "model")
        self.optim_config = section(AdamWCosine, config.optim, "optim")
        self.options = {"classes": self.data_config.classes, "width": self.model_config.width, "input_size": self.data_config.size}
        self.classifier = build("attribute_classifier", **self.options).to(device)
        self.networks = {"classifier": self.classifier}
        self.optimizers = {"classifier": torch.optim.AdamW(self.classifier.parameters(), lr=self.optim_config.lr,
                                                           weight_decay=self.optim_config.weight_decay)}

    def dataset(self) -> LabelledImages:
        d = self.data_config
        # An empty result (no sample with one of the classes) fails in DomainImages, naming the filters.
        return LabelledImages(load_split(d.domain, "train", d.filters), d.label, d.classes, d.size, AugmentConfig(**d.augment), self.config.seed)

    def set_learning_rate_for(self, step: int) -> None:
        scale = warmup_cosine(step, self.config.steps, self.optim_config.warmup_steps)
        set_learning_rate(self.optimizers.values(), self.optim_config.lr, scale)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.classifier.train()
        images = colour_jitter(batch["image"], self.data_config.colour_jitter)
        with self.autocast():
            logits = self.classifier(images)
        loss = F.cross_entropy(logits.float(), batch["class"])
        optimizer = self.optimizers["classifier"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        accuracy = (logits.argmax(dim=1) == batch["class"]).float().mean()
        return {"cross_entropy": loss.detach(), "accuracy": accuracy.detach()}

    def shipped(self) -> dict[str, tuple[torch.nn.Module, str, dict]]:
        return {"classifier": (self.classifier, "attribute_classifier", self.options)}
