"""A small CNN that classifies an aligned face by one label (gender, age group, ...), for evaluation.

Evaluation uses one per domain to ask whether an attribute survives translation: the photo classifier reads the
input, the cartoon classifier the output (or the other way round).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


@register("attribute_classifier")
class AttributeClassifier(nn.Module):
    def __init__(self, classes: list[str] | tuple[str, ...] = ("female", "male"), width: int = 16, input_size: int = 128,
                 centre_crop: float = 1.0):
        super().__init__()
        if not 0 < centre_crop <= 1:
            raise ValueError("centre_crop must be in (0, 1]")
        self.classes = list(classes)
        self.input_size = input_size
        # Looking only at the centre of the aligned face: tightly cropped training chips (UTKFace) are padded at the
        # edges of their aligned crops, and a classifier that sees the padding learns it instead of the face.
        self.centre_crop = centre_crop
        w = width
        self.features = nn.Sequential(*_block(3, w), *_block(w, 2 * w), *_block(2 * w, 4 * w), *_block(4 * w, 8 * w),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, len(self.classes)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], N×3×H×W -> class logits N×C."""
        if self.centre_crop < 1:
            height, width = images.shape[-2:]
            keep_h, keep_w = round(height * self.centre_crop), round(width * self.centre_crop)
            top, left = (height - keep_h) // 2, (width - keep_w) // 2
            images = images[..., top:top + keep_h, left:left + keep_w]
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True)
        return self.head(self.features(images))

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[str]:
        return [self.classes[i] for i in self(images).argmax(dim=1).tolist()]
