"""Training a linear probe on our face network's descriptors (``models/face_probe.py``): a photo router that does
not look at the framing. The data, augmentation and loss are the attribute classifier's; only the network differs
(frozen face network, one linear layer), and the descriptors' mean and scale are fitted first."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toonbridge.train.attribute_classifier import AttributeClassifierTraining, LabelledImages
from toonbridge.train.method import register_method

SCALING_SAMPLES = 512  # training images (unaugmented, the first of the data order) the standardisation is fitted on


@dataclass
class ProbeModel:
    template: str = "bitmoji"  # the template the aligned inputs follow (where the probe finds the 5 points)


@register_method("face_attribute_probe")
class FaceProbeTraining(AttributeClassifierTraining):
    role, builder = "classifier", "face_attribute_probe"
    sections = {**AttributeClassifierTraining.sections, "model": ProbeModel}

    def __init__(self, config, device: torch.device):
        super().__init__(config, device)
        self._fit_scaling()  # a resumed run then restores the same buffers from its checkpoint

    def network_options(self) -> dict:
        return {"classes": self.data_config.classes, "template": self.model_config.template}

    def _fit_scaling(self) -> None:
        from toonbridge.data import AugmentConfig

        d = self.data_config
        plain = LabelledImages(d.load("train"), d.label, d.classes, d.size, AugmentConfig.none(), self.config.seed, merge=d.merge)
        count = min(SCALING_SAMPLES, len(plain))
        order = torch.randperm(len(plain), generator=torch.Generator().manual_seed(self.config.seed))[:count].tolist()
        images = torch.stack([plain[i]["image"] for i in order]).to(self.device)
        found = torch.cat([self.network.descriptors(images[start:start + 64]) for start in range(0, count, 64)])
        self.network.fit_scaling(found)
