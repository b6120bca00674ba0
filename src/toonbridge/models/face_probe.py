"""A linear classifier on our face network's 128-d descriptors, for aligned faces of one template.

Why not the small CNN of ``attribute_classifier`` for routing photos: it reads the whole aligned crop, so on photos
that fill the frame it sees the blurred padding alignment adds and routes men to the women's branch (2-41 % kept,
scripts/router_in_the_wild.py). The descriptor here is computed from dlib's 150-px chip cut by the template's 5
points (eyes to chin), never from the padding, by a network trained on ~3 M faces of every age; a linear layer on it
is enough for gender and age group. Only that layer (and the descriptors' mean and scale, fitted on the training
set) is stored: the face network itself comes from the installed dlib model (faces/features.py).
"""

from __future__ import annotations

import torch
from torch import nn

from toonbridge.models import register

DESCRIPTOR_SIZE = 128


@register("face_attribute_probe")
class FaceAttributeProbe(nn.Module):
    def __init__(self, classes: list[str] | tuple[str, ...] = ("female", "male"), template: str = "bitmoji"):
        super().__init__()
        from toonbridge.faces import get_template

        self.classes = list(classes)
        self.template = template
        chosen = get_template(template)
        self.register_buffer("points5", torch.tensor(chosen.points5, dtype=torch.float32), persistent=False)
        self.template_width = float(chosen.size[0])
        # Descriptor standardisation, set from the training set's descriptors before training (``fit_scaling``).
        self.register_buffer("mean", torch.zeros(DESCRIPTOR_SIZE))
        self.register_buffer("scale", torch.ones(DESCRIPTOR_SIZE))
        self.head = nn.Linear(DESCRIPTOR_SIZE, len(self.classes))

    @torch.no_grad()
    def descriptors(self, images: torch.Tensor) -> torch.Tensor:
        """Images aligned to the template (any size), in [-1, 1], N×3×H×W -> N×128 descriptors."""
        from toonbridge.faces.features import chips_from_aligned, face_network

        points = self.points5 * (images.shape[-1] / self.template_width)
        chips = chips_from_aligned(images.float(), points)
        with torch.autocast(images.device.type, enabled=False):  # the descriptor is dlib's only in float32
            return face_network(images.device)((chips + 1) * 127.5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head((self.descriptors(images) - self.mean) / self.scale)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[str]:
        return [self.classes[i] for i in self(images).argmax(dim=1).tolist()]

    @torch.no_grad()
    def fit_scaling(self, descriptors: torch.Tensor) -> None:
        self.mean.copy_(descriptors.mean(dim=0))
        self.scale.copy_(descriptors.std(dim=0).clamp_min(1e-4))
