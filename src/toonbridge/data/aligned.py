"""A domain of unaligned photos (UTKFace chips, a user's folder) aligned to a template on demand, cached on disk.

Evaluation and few-shot training need faces framed exactly like a style's training images. The photos are
detected and aligned once (``toonbridge.data.prepare`` with its journal, so an interrupted run resumes) into
``<cache>/aligned/<domain>-<template>/``; the result keeps every sample's labels and carries the aligned
5 landmarks. Photos with no usable face are left out (``skipped.csv`` in that folder says why).

A domain whose faces already sit on a known template (anime faces, rendered avatars) is not searched at all: the
detector is for photos, and a cartoon's framing is known. It is *reframed*: each image is moved by the similarity
between its template's 5 points and the target's, padded as alignment pads photos where the new frame reaches past
it (blurred reflection: a model trained on both sides then sees the same padding on each; cached in
``<cache>/aligned/<domain>-<template>/``, written once).
"""

from __future__ import annotations

import os
from pathlib import Path

from toonbridge.cache import cache_root
from toonbridge.data.domains import Domain
from toonbridge.data.manifest import Sample, read_manifest
from toonbridge.data.prepare import PrepareOptions, prepare_folder
from toonbridge.errors import DatasetError
from toonbridge.faces import get_template


def aligned_domain(domain: Domain, template: str, *, cache_dir: str | Path | None = None,
                   show_progress: bool | None = None) -> Domain:
    """``domain``'s faces aligned to ``template`` (the largest face of each photo), in the same order."""
    if not domain.samples:
        raise DatasetError(f"{domain.name or 'domain'} has no images to align")
    if domain.template == template:
        return domain
    root = Path(os.path.commonpath([sample.path.parent for sample in domain.samples]))
    # A reframed set's folder names the template its faces are moved from too: a set may be read on another
    # template than its registered one (``load_aligned``'s ``framed``).
    moved_to = template if domain.template is None else f"{domain.template}-to-{template}"
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / "aligned" / _folder_name(domain.name, moved_to)
    if domain.template is not None:
        return _reframed_domain(domain, template, root, folder)
    # dlib, as every recorded recipe's data was aligned with (docs/models.md); BlazeFace came later ([in-the-wild]).
    prepare_folder(root, folder, PrepareOptions(template=template, faces="largest", detector="dlib"), show_progress=show_progress,
                   photos=[sample.path for sample in domain.samples], print_failures=False)
    by_source = {sample.labels["source"]: sample for sample in read_manifest(folder / "manifest.csv")}
    samples = []
    for sample in domain.samples:
        found = by_source.get(sample.path.relative_to(root).as_posix())
        if found is not None:
            samples.append(Sample(found.path, sample.name, dict(sample.labels), found.landmarks5))
    return Domain(samples, f"{domain.name}@{template}", max(get_template(template).size), template)


def load_aligned(spec: str, split: str, template: str | None, *, filters: list[str] | tuple = (),
                 framed: str | None = None, detect: bool = False) -> Domain:
    """A named set's split aligned (or reframed) to ``template`` (None: as stored). ``framed`` names the template
    its faces really sit on where the set's registered one is wrong for them (``anime-cartoon`` for
    selfie2anime's anime faces, which sit looser in their crops than its selfies). ``detect``: a set of photos
    is detected and aligned even where it is registered on a template, which gives each face its own 5 points
    (selfie2anime's selfies sit on the ``anime`` template only roughly and carry no points)."""
    from toonbridge.data import load_split

    domain = load_split(spec, split, list(filters))
    if framed:
        domain.template = get_template(framed).name  # an unknown name fails here, before any work
    if detect:
        domain.template = None
    return aligned_domain(domain, template) if template else domain


def _folder_name(domain_name: str, template: str) -> str:
    base = domain_name.split("[")[0].replace("/", "-") or "domain"
    return f"{base}-{template}"


def _reframed_domain(domain: Domain, template: str, root: Path, folder: Path) -> Domain:
    """``domain`` (its faces on ``domain.template``) moved onto ``template`` by the similarity of the two templates;
    each image is written once (atomically), so an interrupted run or another split only adds the missing ones."""
    import numpy as np

    from toonbridge.faces.align import similarity_transform, warp_padded
    from toonbridge.imageio import load_image, save_image

    source, target = get_template(domain.template), get_template(template)
    points = np.asarray(target.points5, np.float64)
    samples = []
    for sample in domain.samples:
        moved = folder / sample.path.relative_to(root).with_suffix(".png")
        if not moved.is_file():
            image = load_image(sample.path)
            scale = np.array(image.shape[1::-1], np.float64) / source.size  # stored at another size than the template's
            matrix = similarity_transform(np.asarray(source.points5) * scale, points)
            moved.parent.mkdir(parents=True, exist_ok=True)
            save_image(warp_padded(image, matrix, target.size, padding="blur"), moved)
        samples.append(Sample(moved, sample.name, dict(sample.labels), points))
    return Domain(samples, f"{domain.name}@{template}", max(target.size), template)
