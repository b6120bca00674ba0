"""Landmark criteria: the landmark-consistency loss and the normalised mean error (NME) used to judge it.

Both take 5-point landmarks in the order of :data:`toonbridge.faces.landmarks.FIVE_POINT_NAMES`, so the eye
centres are points 0 and 1 and NME is normalised by the inter-ocular (eye-centre) distance.
"""

from __future__ import annotations

import torch


def landmark_consistency_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance between landmarks given as fractions of the image side (N×P×2 each).

    Wu et al. 2019: the target domain's regressor must find the source face's landmarks on the translated face.
    """
    return (predicted.float() - target.float()).abs().mean()


def normalised_mean_error(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-face mean point-to-point distance divided by the target's eye-centre distance (N values)."""
    predicted, target = predicted.float(), target.float()
    distance = (predicted - target).norm(dim=-1).mean(dim=-1)
    inter_ocular = (target[:, 0] - target[:, 1]).norm(dim=-1).clamp_min(1e-6)
    return distance / inter_ocular
