"""Random square patches of images at their native size: pairs for a super-resolution network.

Each domain is read at its own resolution (Bitmoji 128 px, anime 256 px), never resized, so the patch shows the
detail the set really has; the low-resolution half is made from it in the training step."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from toonbridge.data.domains import Domain
from toonbridge.data.unpaired import image_to_tensor
from toonbridge.imageio import load_image


class RandomPatches(Dataset):
    """``{"image": 3×patch×patch in [-1, 1]}``: a random patch of each image of ``domains`` (flipped half the time),
    reproducible per (seed, epoch, index)."""

    def __init__(self, domains: list[Domain], patch: int, seed: int = 0):
        self.samples = [sample for domain in domains for sample in domain]
        if not self.samples:
            raise ValueError("no images to cut patches from (check the domains and their split)")
        self.patch = patch
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image = load_image(self.samples[index].path)
        height, width = image.shape[:2]
        if min(height, width) < self.patch:
            raise ValueError(f"{self.samples[index].path}: {width}×{height} is smaller than the {self.patch}-px patch")
        top, left = int(rng.integers(height - self.patch + 1)), int(rng.integers(width - self.patch + 1))
        patch = image[top:top + self.patch, left:left + self.patch]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return {"image": image_to_tensor(np.ascontiguousarray(patch))}
