"""The unpaired two-domain dataset every translation model trains on."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from toonbridge.data.augment import AugmentConfig, augment
from toonbridge.data.domains import Domain
from toonbridge.data.manifest import Sample
from toonbridge.imageio import load_image


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 H×W×3 -> float32 3×H×W in [-1, 1], the range every generator uses."""
    return torch.from_numpy(np.require(image, requirements=['C', 'W'])).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`image_to_tensor` for one 3×H×W tensor."""
    array = tensor.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0)
    return array.cpu().numpy()


class DomainImages(Dataset):
    """One domain as tensors: ``{"image", "landmarks" (5×2, NaN if unknown), "has_landmarks", "name"}``."""

    def __init__(self, domain: Domain, size: int | None = None, augment_config: AugmentConfig | None = None, seed: int = 0):
        if len(domain) == 0:
            raise ValueError(f"domain {domain.name!r} is empty (check its filters and split)")
        self.domain = domain
        self.size = size or domain.image_size
        if self.size is None:
            raise ValueError(f"domain {domain.name!r} has no known image size; pass size=")
        self.augment_config = augment_config or AugmentConfig.none()
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.domain)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (augmentations, pairings) while keeping each (epoch, index) reproducible."""
        self.epoch = epoch

    def rng(self, index: int, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def item(self, sample: Sample, rng: np.random.Generator) -> dict:
        image = load_image(sample.path)
        image, landmarks = augment(image, sample.landmarks5, self.size, self.augment_config, rng, sample.labels.get("gender"))
        has_landmarks = landmarks is not None
        points = torch.from_numpy(landmarks).float() if has_landmarks else torch.full((5, 2), float("nan"))
        return {"image": image_to_tensor(image), "landmarks": points, "has_landmarks": has_landmarks, "name": sample.name}

    def __getitem__(self, index: int) -> dict:
        return self.item(self.domain[index], self.rng(index))


class UnpairedDataset(Dataset):
    """Item i pairs image i of domain A (cycling) with a random image of domain B: ``{"a": {...}, "b": {...}}``."""

    def __init__(self, domain_a: DomainImages, domain_b: DomainImages):
        self.domain_a = domain_a
        self.domain_b = domain_b

    def __len__(self) -> int:
        return max(len(self.domain_a), len(self.domain_b))

    def set_epoch(self, epoch: int) -> None:
        self.domain_a.set_epoch(epoch)
        self.domain_b.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        index_a = index % len(self.domain_a)
        rng_b = self.domain_b.rng(index, stream=1)
        index_b = int(rng_b.integers(len(self.domain_b)))
        return {
            "a": self.domain_a.item(self.domain_a.domain[index_a], self.domain_a.rng(index)),
            "b": self.domain_b.item(self.domain_b.domain[index_b], rng_b),
        }


GENDERS = ("female", "male")  # the datasets' gender labels, in the order of the gender classifiers' classes


class MultiDomainDataset(Dataset):
    """Item i holds one image of every domain: ``{name: {...}}``, the first domain's image i (cycling) and a random
    image of each other. Each item also says ``hair_known``: False for samples labelled ``hair: unknown``, and
    ``gender``: the index of its ``gender`` label in :data:`GENDERS`, -1 where it has none."""

    def __init__(self, domains: dict[str, DomainImages]):
        self.domains = domains

    def __len__(self) -> int:
        return max(len(images) for images in self.domains.values())

    def set_epoch(self, epoch: int) -> None:
        for images in self.domains.values():
            images.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        item = {}
        for stream, (name, images) in enumerate(self.domains.items()):
            rng = images.rng(index, stream=stream)
            chosen = images.domain[index % len(images) if stream == 0 else int(rng.integers(len(images)))]
            item[name] = {**images.item(chosen, rng), "hair_known": chosen.labels.get("hair") != "unknown",
                          "gender": GENDERS.index(chosen.labels["gender"]) if chosen.labels.get("gender") in GENDERS else -1}
        return item
