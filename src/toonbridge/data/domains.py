"""A domain is a list of face images (one side of an unpaired dataset) with labels and optional landmarks.

Domains come from a manifest CSV, a plain folder, or a registered name such as ``celeba2bitmoji/photo``. They can
be filtered by label (``gender=male``, ``group=elderly,middle``) and split into train/val deterministically by a hash
of each file's name, so the split never changes when files are added or the folder moves.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from toonbridge.data.manifest import Sample, read_manifest
from toonbridge.errors import DatasetError, UnknownName
from toonbridge.imageio import is_image_path

Split = str  # "train", "val" or "all"


@dataclass(frozen=True)
class DomainSpec:
    """Where a named domain lives under the data root, and what its images look like."""

    path: str  # manifest CSV or folder, relative to the data root
    image_size: int
    template: str | None = None  # the alignment template its faces match, if any
    description: str = ""
    landmarks_from: str | None = None  # another manifest (same root) holding these files' landmarks


# The layouts of ../shared/data (see its README.md).
NAMED_DOMAINS: dict[str, DomainSpec] = {
    "celeba2bitmoji/photo": DomainSpec("celeba2bitmoji/photo.csv", 128, "bitmoji", "CelebAMask-HQ photos, gender"),
    "celeba2bitmoji/cartoon": DomainSpec("celeba2bitmoji/cartoon.csv", 128, "bitmoji", "Bitmoji faces, noisy gender"),
    "celeba2bitmoji/fewshot": DomainSpec("celeba2bitmoji/fewshot.csv", 128, "bitmoji", "20 men + 20 elderly Bitmoji",
                                         landmarks_from="celeba2bitmoji/cartoon.csv"),
    "selfie2anime/selfie": DomainSpec("selfie2anime/selfie", 256, "anime", "selfies of women, no labels"),
    "selfie2anime/anime": DomainSpec("selfie2anime/anime", 256, "anime", "anime faces, no labels"),
    "utkface/faces": DomainSpec("utkface/labels.csv", 200, None, "UTKFace chips: age, gender, race, group"),
    # Photos in the wild (several faces, any size up to 640 px); align them before training on them.
    "helen/images": DomainSpec("helen/images", 640, None, "HELEN training photos, unaligned"),
    "helen_test/images": DomainSpec("helen_test/images", 640, None, "HELEN test photos, unaligned"),
}
# Procedural avatars, rendered into the user cache on first use (toonbridge.data.procedural): dicebear/<style>.
PROCEDURAL_PREFIX = "dicebear/"
# A dataset name alone means its two unpaired domains, photo side first.
NAMED_DATASETS: dict[str, tuple[str, str]] = {
    "celeba2bitmoji": ("celeba2bitmoji/photo", "celeba2bitmoji/cartoon"),
    "selfie2anime": ("selfie2anime/selfie", "selfie2anime/anime"),
}


def default_data_root() -> Path:
    """``$TOONBRIDGE_DATA`` if set, else ``../shared/data`` next to the current directory."""
    return Path(os.environ.get("TOONBRIDGE_DATA", Path.cwd().parent / "shared" / "data"))


def register_domain(name: str, spec: DomainSpec) -> None:
    NAMED_DOMAINS[name] = spec


class Domain(Sequence[Sample]):
    def __init__(self, samples: Iterable[Sample], name: str = "", image_size: int | None = None, template: str | None = None):
        self.samples = list(samples)
        self.name = name
        self.image_size = image_size
        self.template = template

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]

    def __repr__(self) -> str:
        return f"Domain({self.name!r}, {len(self)} images)"

    def _derive(self, samples: Iterable[Sample], suffix: str) -> "Domain":
        return Domain(samples, f"{self.name}{suffix}", self.image_size, self.template)

    @property
    def label_names(self) -> set[str]:
        return set().union(*(sample.labels for sample in self.samples)) if self.samples else set()

    def mean_landmarks(self):
        """The mean 5-point shape (5×2, pixels) over samples with landmarks; None if none has them."""
        import numpy as np

        points = [sample.landmarks5 for sample in self.samples if sample.landmarks5 is not None]
        return np.mean(points, axis=0) if points else None

    def where(self, *conditions: str, **labels: str | Iterable[str]) -> "Domain":
        """Keep samples whose labels match: ``where("gender=male")``, ``where(group=["kid", "teen"])``."""
        wanted = dict(labels)
        for condition in conditions:
            wanted.update(parse_condition(condition))
        result = self
        for key, values in wanted.items():
            if key not in self.label_names:
                known = ", ".join(sorted(self.label_names)) or "none"
                raise DatasetError(f"{self.name or 'domain'} has no label {key!r} (labels: {known})")
            allowed = {values} if isinstance(values, str) else set(values)
            result = result._derive((s for s in result.samples if s.labels.get(key) in allowed), f"[{key}={','.join(sorted(allowed))}]")
        return result

    def split(self, split: Split, val_fraction: float = 0.1) -> "Domain":
        if split == "all":
            return self
        if split not in ("train", "val"):
            raise DatasetError(f"unknown split {split!r}; use train, val or all")
        keep_val = split == "val"
        return self._derive((s for s in self.samples if (split_fraction(s.name) < val_fraction) == keep_val), f"[{split}]")


def parse_condition(condition: str) -> dict[str, list[str]]:
    """``"gender=male"`` -> ``{"gender": ["male"]}``; several values with commas: ``"group=kid,teen"``."""
    key, sep, value = condition.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise DatasetError(f"bad label filter {condition!r}; expected key=value, e.g. gender=male")
    return {key.strip(): [v.strip() for v in value.split(",") if v.strip()]}


def split_fraction(name: str) -> float:
    """A stable number in [0, 1) from a file name: the deterministic train/val split."""
    digest = hashlib.sha1(Path(name).name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def domain_from_folder(folder: str | Path, name: str | None = None, **kwargs) -> Domain:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    if not files:
        raise DatasetError(f"no images in {folder}")
    samples = [Sample(path=p, name=p.relative_to(folder).as_posix()) for p in files]
    return Domain(samples, name or folder.name, **kwargs)


def load_domain(spec: str | Path, data_root: str | Path | None = None) -> Domain:
    """A registered name (``celeba2bitmoji/photo``, or ``utkface`` for a dataset with one domain), a procedural set
    (``dicebear/avataaars``), a manifest CSV or a folder of images. Registered names win over paths: write ``./utkface`` for a local folder of that name."""
    spec_text = str(spec)
    if spec_text.startswith(PROCEDURAL_PREFIX):  # rendered offline on first use, not read from the data root
        from toonbridge.data.procedural import dicebear_domain

        return dicebear_domain(spec_text[len(PROCEDURAL_PREFIX):])
    single = [name for name in NAMED_DOMAINS if name.split("/")[0] == spec_text]
    if len(single) == 1 and spec_text not in NAMED_DATASETS:  # "utkface" is its only domain, "utkface/faces"
        spec_text = single[0]
    if spec_text in NAMED_DOMAINS:
        named = NAMED_DOMAINS[spec_text]
        root = Path(data_root) if data_root is not None else default_data_root()
        location = root / named.path
        if not location.exists():
            raise DatasetError(f"dataset {spec_text!r} not found at {location}: set TOONBRIDGE_DATA to the folder that "
                               f"holds {named.path.split('/')[0]}/ (the research sets, see docs/evaluation.md), or run "
                               f"next to ../shared/data")
        domain = _domain_at(location, spec_text)
        domain.image_size, domain.template = named.image_size, named.template
        if named.landmarks_from:
            domain.samples = _with_landmarks(domain.samples, read_manifest(root / named.landmarks_from))
        return domain
    location = Path(spec)
    if location.exists():
        return _domain_at(location, location.stem if location.is_file() else location.name)
    if "/" not in spec_text and spec_text in NAMED_DATASETS:
        raise UnknownName(f"{spec_text!r} names a dataset with two domains: use {' or '.join(NAMED_DATASETS[spec_text])}")
    raise UnknownName(f"no domain {spec_text!r}: not a registered name ({', '.join(sorted(NAMED_DOMAINS))}) nor an existing path")


def _with_landmarks(samples: list[Sample], source: list[Sample]) -> list[Sample]:
    """``samples`` with the landmarks ``source`` has for the same image files (others unchanged)."""
    points = {sample.path.resolve(): sample.landmarks5 for sample in source if sample.landmarks5 is not None}
    return [Sample(s.path, s.name, s.labels, points.get(s.path.resolve(), s.landmarks5)) for s in samples]


def _domain_at(location: Path, name: str) -> Domain:
    if location.is_dir():
        return domain_from_folder(location, name)
    if location.suffix.lower() == ".csv":
        return Domain(read_manifest(location), name)
    raise DatasetError(f"{location}: expected a folder of images or a manifest .csv")
