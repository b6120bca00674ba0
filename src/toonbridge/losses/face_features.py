"""Criteria on our pretrained face network (dlib's face ResNet, :mod:`toonbridge.faces.features`).

- :func:`face_identity_loss`: 1 − cosine similarity between the descriptors of each source face and its
  translation: photo2cartoon's Face-ID loss and pSp's ID loss, with dlib's network in place of theirs
  (MobileFaceNet, ArcFace). The source side is a fixed target (no gradient), as in pSp.
- :func:`face_perceptual_loss`: an LPIPS-like distance: the feature maps of the first residual stages (35, 17 and
  8 px on the 150-px chip), each unit-normalised across channels at every position, compared by L1 summed over
  channels and averaged over positions, with fixed stage weights. It stands in for the ImageNet VGG content loss,
  whose weights do not exist here.

Both read faces as dlib's 150-px chips cut inside the graph from aligned crops and their 5 points; with no points,
the whole crop is resized to 150 px instead (for inputs that are not faces with known landmarks). The network is
frozen; gradients reach the images.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from toonbridge.faces.features import CHIP_SIZE, chips_from_aligned, face_network
from toonbridge.models.face_resnet import STAGES

# Equal weights on the stages at 35, 17 and 8 px (LPIPS learns its weights; we have no human judgements to learn
# them from). The deeper stages carry identity, the first colour and texture.
PERCEPTUAL_STAGE_WEIGHTS = (1.0, 1.0, 1.0)
DESCRIPTOR_STAGES = len(STAGES)  # the stages a descriptor is read from: all of them


def face_chips(images: torch.Tensor, points5: torch.Tensor | None) -> torch.Tensor:
    """B×3×150×150 in [-1, 1]: dlib chips from aligned crops with 5 points, or the whole crops resized."""
    if points5 is None:
        # In fp32: antialiased resizing has no bf16 kernel on the CPU.
        return F.interpolate(images.float(), size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear", align_corners=False, antialias=True)
    return chips_from_aligned(images, points5)


def face_identity_loss(source: torch.Tensor, output: torch.Tensor, source_points: torch.Tensor | None = None,
                       output_points: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of 1 − cos(descriptor(source), descriptor(output)); ``output_points`` default to the source's."""
    network = face_network(source.device)
    with torch.no_grad():
        target = network.embed(face_chips(source, source_points)).float()
    produced = network.embed(face_chips(output, source_points if output_points is None else output_points)).float()
    return descriptor_distance(produced, target)


def descriptor_from_features(features: list[torch.Tensor]) -> torch.Tensor:
    """The descriptor from :func:`face_perceptual_features` taken through every stage: one pass of the network then
    serves both the perceptual and the identity criteria."""
    if len(features) != DESCRIPTOR_STAGES:
        raise ValueError(f"a descriptor needs all {DESCRIPTOR_STAGES} stages, got {len(features)}")
    return face_network(features[-1].device).fc(features[-1].mean(dim=(2, 3))).float()


def descriptor_distance(found: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 − cos between two batches of descriptors (pSp's ID loss)."""
    return (1 - F.cosine_similarity(found.float(), wanted.float(), dim=1)).mean()


def _unit(features: torch.Tensor) -> torch.Tensor:
    features = features.float()
    return features * torch.rsqrt(features.square().sum(dim=1, keepdim=True) + 1e-10)


def face_perceptual_features(images: torch.Tensor, points: torch.Tensor | None,
                             stages: int = len(PERCEPTUAL_STAGE_WEIGHTS)) -> list[torch.Tensor]:
    """The face network's stage features of ``images`` (as :func:`face_perceptual_loss` compares them): compute
    them once when one image is compared with several targets."""
    network = face_network(images.device)
    return network.features(face_chips(images, points).add(1).mul(127.5), stages)  # dlib's 0..255 pixels


def perceptual_distance(found: list[torch.Tensor], wanted: list[torch.Tensor],
                        stage_weights: tuple[float, ...] = PERCEPTUAL_STAGE_WEIGHTS) -> torch.Tensor:
    """The weighted distance between two images' unit-normalised stage features (0 when equal)."""
    total = sum(weight * (_unit(a) - _unit(b)).abs().sum(dim=1).mean() for weight, a, b in zip(stage_weights, found, wanted))
    return total / sum(stage_weights)


def face_perceptual_loss(output: torch.Tensor, target: torch.Tensor, output_points: torch.Tensor | None = None,
                         target_points: torch.Tensor | None = None,
                         stage_weights: tuple[float, ...] = PERCEPTUAL_STAGE_WEIGHTS) -> torch.Tensor:
    """The weighted distance between ``output``'s and ``target``'s normalised stage features (0 when equal)."""
    stages = len(stage_weights)
    with torch.no_grad():
        wanted = face_perceptual_features(target, target_points if target_points is not None else output_points, stages)
    return perceptual_distance(face_perceptual_features(output, output_points, stages), wanted, stage_weights)
