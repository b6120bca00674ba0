"""Training a face attribute classifier (e.g. gender) on one domain's labels, for the evaluation metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from toonbridge.data import AugmentConfig, DomainImages
from toonbridge.data.augment import colour_jitter
from toonbridge.train.config import SupervisedData
from toonbridge.train.method import register_method
from toonbridge.train.supervised import SupervisedTraining


@dataclass
class ClassifierData(SupervisedData):
    label: str = "gender"
    classes: list[str] = field(default_factory=lambda: ["female", "male"])
    merge: dict[str, str] = field(default_factory=dict)  # label values that count as a class, e.g. {kid: other}


@dataclass
class ClassifierModel:
    width: int = 16
    centre_crop: float = 1.0  # the central share of the aligned face it looks at (1: all of it)


class LabelledImages(DomainImages):
    """A domain's images with the class index of one label (samples without a known class are left out).
    ``merge`` maps label values onto classes (several age groups onto one "other" class, say)."""

    def __init__(self, domain, label: str, classes: list[str], *args, merge: dict[str, str] | None = None, **kwargs):
        self.label, self.classes, self.merge = label, classes, merge or {}
        values = sorted({*classes, *(value for value, merged in self.merge.items() if merged in classes)})
        super().__init__(domain.where(**{label: values}), *args, **kwargs)

    def _class(self, sample) -> str | None:
        value = sample.labels.get(self.label)
        return self.merge.get(value, value)

    def item(self, sample, rng) -> dict:
        item = super().item(sample, rng)
        item["class"] = self.classes.index(self._class(sample))
        return item


@register_method("attribute_classifier")
class AttributeClassifierTraining(SupervisedTraining):
    role, builder = "classifier", "attribute_classifier"
    sections = {**SupervisedTraining.sections, "data": ClassifierData, "model": ClassifierModel}

    def network_options(self) -> dict:
        return {"classes": self.data_config.classes, "width": self.model_config.width, "input_size": self.data_config.size,
                "centre_crop": self.model_config.centre_crop}

    def dataset(self) -> LabelledImages:
        d = self.data_config
        # An empty result (no sample with one of the classes) fails in DomainImages, naming the filters.
        return LabelledImages(d.load("train"), d.label, d.classes, d.size, AugmentConfig(**d.augment), self.config.seed, merge=d.merge)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.network.train()
        images = colour_jitter(batch["image"], self.data_config.colour_jitter)
        with self.autocast():
            logits = self.network(images)
        loss = F.cross_entropy(logits.float(), batch["class"])
        self.optimise(loss)
        accuracy = (logits.argmax(dim=1) == batch["class"]).float().mean()
        return {"cross_entropy": loss.detach(), "accuracy": accuracy.detach()}
