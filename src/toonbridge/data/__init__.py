"""Unpaired two-domain face datasets: manifests, folders, named layouts, label filters, splits, augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toonbridge.data.augment import AugmentConfig, augment
from toonbridge.data.domains import (
    NAMED_DATASETS,
    NAMED_DOMAINS,
    Domain,
    DomainSpec,
    default_data_root,
    load_domain,
    register_domain,
    split_fraction,
)
from toonbridge.data.manifest import Sample, read_manifest, write_manifest
from toonbridge.data.unpaired import DomainImages, MultiDomainDataset, UnpairedDataset, image_to_tensor, tensor_to_image


def load_split(spec: str | Path, split: str = "train", filters: Sequence[str] = (), data_root=None, val_fraction: float = 0.1) -> Domain:
    """A domain by name or path, filtered by ``key=value`` labels, then split."""
    return load_domain(spec, data_root).where(*filters).split(split, val_fraction)


def unpaired_dataset(
    domain_a: str | Path,
    domain_b: str | Path | None = None,
    *,
    split: str = "train",
    filters_a: Sequence[str] = (),
    filters_b: Sequence[str] = (),
    size: int | None = None,
    augment_config: AugmentConfig | None = None,
    seed: int = 0,
    data_root=None,
) -> UnpairedDataset:
    """``unpaired_dataset("celeba2bitmoji")`` or ``unpaired_dataset("utkface/faces", "celeba2bitmoji/cartoon", ...)``."""
    if domain_b is None:
        if str(domain_a) not in NAMED_DATASETS:
            raise ValueError(f"give two domains, or one of the named datasets: {', '.join(NAMED_DATASETS)}")
        domain_a, domain_b = NAMED_DATASETS[str(domain_a)]
    side_a = load_split(domain_a, split, filters_a, data_root)
    side_b = load_split(domain_b, split, filters_b, data_root)
    return UnpairedDataset(
        DomainImages(side_a, size, augment_config, seed),
        DomainImages(side_b, size, augment_config, seed + 1),
    )


__all__ = [
    "NAMED_DATASETS",
    "NAMED_DOMAINS",
    "AugmentConfig",
    "Domain",
    "DomainImages",
    "MultiDomainDataset",
    "DomainSpec",
    "Sample",
    "UnpairedDataset",
    "augment",
    "default_data_root",
    "image_to_tensor",
    "load_domain",
    "load_split",
    "read_manifest",
    "register_domain",
    "split_fraction",
    "tensor_to_image",
    "unpaired_dataset",
    "write_manifest",
]
