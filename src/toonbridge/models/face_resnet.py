"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in PyTorch: our pretrained face network.

The architecture of dlib's ``dnn_face_recognition_ex.cpp`` (29 convolutions, 5.6 M parameters, trained by Davis King
on ~3 M faces with a metric loss; 99.38 % on LFW). From a 150×150 RGB chip, normalised as dlib's
``input_rgb_image_sized`` does ((value − channel mean) / 256):

- 7×7 conv 32 stride 2, affine, ReLU, 3×3 max-pool stride 2 (72 → 35 px);
- residual stages of 32 (3 blocks), 64 (4), 128 (3), 256 (3) and 256 (1) channels; a block is conv 3×3, affine,
  ReLU, conv 3×3, affine, added to its input, ReLU. The first block of each stage after the first down-samples: its
  first convolution has stride 2 and no padding, the shortcut is a 2×2 average pool, and dlib adds tensors of
  different sizes by zero-padding both to the larger one at the end of each axis (channels, rows, columns);
- global average pool, 128-d linear layer without bias. Descriptors are compared by Euclidean distance; dlib calls
  two faces the same person below 0.6.

"affine" is dlib's frozen batch norm: a per-channel scale and shift. Weights come from dlib's own file
(:mod:`toonbridge.faces.dlib_format`); :func:`toonbridge.faces.features.face_network` converts and caches them.
``features(chip)`` also returns the output of each stage, for perceptual losses.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register

STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
CHIP_SIZE = 150
# dlib's input_rgb_image_sized: (pixel - mean) / 256, RGB, pixels in 0..255.
CHANNEL_MEAN = (122.782, 117.001, 104.298)


class Affine(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.to(x.dtype)[:, None, None] + self.beta.to(x.dtype)[:, None, None]


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum of two maps, each zero-padded at the end of every axis to the larger size."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.affine1 = Affine(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.affine2 = Affine(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2) if self.down else x
        return F.relu(add_padded(y, shortcut))


@register("dlib_face_resnet")
class DlibFaceResNet(nn.Module):
    """150×150 RGB chips in [0, 255] → 128-d face descriptors (use :meth:`embed` for images in [-1, 1])."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        self.stem_affine = Affine(32)
        blocks, channels = [], 32
        self.stage_ends: list[int] = []  # index of each stage's last block
        for width, count, down in STAGES:
            for index in range(count):
                blocks.append(ResidualBlock(channels, width, down and index == 0))
                channels = width
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        self.register_buffer("mean", torch.tensor(CHANNEL_MEAN)[:, None, None], persistent=False)

    def features(self, pixels: torch.Tensor, stages: int = len(STAGES)) -> list[torch.Tensor]:
        """The outputs of the first ``stages`` residual stages (35, 17, 8, 4, 2 px for a 150-px chip)."""
        x = (pixels - self.mean.to(pixels.dtype)) / 256
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem(x))), 3, stride=2)
        found = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.stage_ends:
                found.append(x)
                if len(found) == stages:
                    break
        return found

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """B×3×150×150, RGB in [0, 255] → B×128 descriptors (dlib's, unnormalised)."""
        return self.fc(self.features(pixels)[-1].mean(dim=(2, 3)))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Chips in [-1, 1] (the range every generator uses) → descriptors."""
        return self(images.add(1).mul(127.5))
