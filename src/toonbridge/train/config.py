"""Training configs: one YAML file per run, read into typed dataclasses; the checkpoint stores the whole file.

The generic part (:class:`TrainConfig`) is what every method shares: steps, seed, precision, checkpointing and
logging. Each method reads its own sections (``data``, ``model``, ``loss``, ``optim``) into its own dataclasses
with :func:`section`, which rejects unknown keys so a typo fails at start-up, not after an hour of training.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from toonbridge.errors import ToonbridgeError

if typing.TYPE_CHECKING:
    from toonbridge.data import AugmentConfig  # for annotations; the methods import data/ where they use it


class ConfigError(ToonbridgeError, ValueError):
    """A training config that cannot be used, with the key at fault."""


@dataclass
class TrainConfig:
    method: str
    run_dir: str  # checkpoints, TensorBoard logs and samples go here (keep it outside git)
    steps: int
    seed: int = 0
    batch_size: int = 1
    precision: str = "bf16"  # "bf16" autocast (CPU and CUDA; fp32 on a CPU that would emulate bf16) or "fp32"
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    max_wall_minutes: float | None = None  # stop (with a checkpoint) once this much training time has accumulated
    # Warm start: a checkpoint (or run folder: its latest) whose network weights this run starts from; optimisers,
    # step and learning-rate schedule start fresh. For a changed recipe that should not pay for the early steps again.
    init_from: str | None = None
    # For the first steps only the critics (discriminators, judges) learn. A warm start from a shipped style brings
    # only the networks it ships; fresh critics' first verdicts are noise, which the warm networks would follow.
    critics_first_steps: int = 0
    # Ship an exponential moving average of the shipped networks' weights (as StyleGAN and StarGAN v2 do), with
    # this half-life in steps (0: off; shorter early on). A GAN's weights wander around the point it has reached;
    # the average sits nearer that point. Checkpoints keep both; `export weights --live` ships the trained ones.
    ema_half_life: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 25
    sample_every: int = 1000
    data: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    optim: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.precision not in ("bf16", "fp32"):
            raise ConfigError(f"precision must be 'bf16' or 'fp32', not {self.precision!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "sample_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.ema_half_life < 0:
            raise ConfigError("ema_half_life must be 0 (off) or a number of steps")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class SupervisedData:
    """The ``data`` section of the small supervised models (regressors, classifiers): one domain, augmented."""

    domain: str  # e.g. celeba2bitmoji/cartoon
    size: int = 128
    filters: list[str] = field(default_factory=list)
    # Stronger jitter than GAN training: these models must also read generated faces, which are less tidy.
    augment: dict = field(default_factory=lambda: {"flip_probability": 0.5, "max_scale": 0.1, "max_rotation_degrees": 10.0, "max_shift": 0.06})
    colour_jitter: float = 0.2
    align: str | None = None  # a template to align an unaligned domain to first (e.g. UTKFace chips; cached)
    # More domains to train on, each {domain, filters, align, labels: {name: value}, limit}: their samples (the first
    # `limit` of the split, or all) get those labels (e.g. CelebA photos as "not elderly" for an age classifier).
    also: list[dict] = field(default_factory=list)

    def load(self, split: str = "train"):
        return _load_with_extras(self.domain, split, self.filters, self.align, self.also, "data.also")


_EXTRA_KEYS = {"domain", "filters", "align", "labels", "limit"}


def _check_template(where: str, name: str | None) -> None:
    """A ``framed`` template must exist: fail at config time, not after minutes of loading."""
    if name is None:
        return
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name one template, e.g. anime-cartoon, not {name!r}")
    from toonbridge.errors import UnknownName
    from toonbridge.faces import get_template

    try:
        get_template(name)
    except UnknownName as error:
        raise ConfigError(f"{where}: {error}") from None


def _load_with_extras(spec: str, split: str, filters: list[str], align: str | None, extras: list[dict], where: str,
                      framed: str | None = None, detect: bool = False):
    """One domain (its faces on template ``framed`` if given, not the set's registered one; detected and aligned
    anew with ``detect``) plus ``extras``, each {domain, filters, align, labels, limit}: its first ``limit``
    samples of ``split`` (all without a limit), with ``labels`` added to each."""
    from toonbridge.data import Domain
    from toonbridge.data.aligned import load_aligned
    from toonbridge.data.manifest import Sample

    parts = [load_aligned(spec, split, align, filters=filters, framed=framed, detect=detect)]
    for extra in extras:
        unknown = set(extra) - _EXTRA_KEYS
        if unknown or "domain" not in extra:
            raise ConfigError(f"{where} entries take {', '.join(sorted(_EXTRA_KEYS))} (domain required), not {', '.join(sorted(unknown)) or 'nothing'}")
        limit = extra.get("limit")
        if limit is not None and (type(limit) is not int or limit < 1):
            raise ConfigError(f"{where}: limit must be a whole number of at least 1, not {limit!r}")
        part = load_aligned(extra["domain"], split, extra.get("align"), filters=extra.get("filters", []))
        samples = part.samples[:limit] if limit is not None else part.samples
        parts.append(Domain([Sample(s.path, s.name, {**s.labels, **extra.get("labels", {})}, s.landmarks5) for s in samples],
                            part.name, part.image_size, part.template))
    if len(parts) == 1:
        return parts[0]
    return Domain([s for part in parts for s in part], " + ".join(part.name for part in parts), parts[0].image_size, parts[0].template)


@dataclass
class UnpairedData:
    """The ``data`` section of the unpaired translation methods: domain A (photos) and B (cartoons).

    ``align_a``/``align_b`` name a template to align that side's photos to first (for unaligned sets such as the
    UTKFace chips; detected once and cached, see :mod:`toonbridge.data.aligned`). ``split_b: all`` trains on every
    image of a tiny few-shot set instead of holding a tenth out.
    """

    domain_a: str = "celeba2bitmoji/photo"
    domain_b: str = "celeba2bitmoji/cartoon"
    size: int = 128
    filters_a: list[str] = field(default_factory=list)
    filters_b: list[str] = field(default_factory=list)
    align_a: str | None = None
    align_b: str | None = None
    # Detect and align domain A's photos to align_a even where the set is registered on that template: each face
    # gets its own 5 points, which tight framing cuts by (selfie2anime's selfies sit on `anime` only roughly).
    detect_a: bool = False
    # The template domain B's faces really sit on, where the set's registered one is wrong for them: selfie2anime's
    # anime faces sit looser in their crops than its selfies (``anime-cartoon``). Used when align_b reframes them.
    framed_b: str | None = None
    split_a: str = "train"
    split_b: str = "train"
    # More domains on either side, as in SupervisedData.also (e.g. normally framed photos next to a group's tightly
    # cropped ones, so that a group branch learns the framing users' photos have).
    also_a: list[dict] = field(default_factory=list)
    also_b: list[dict] = field(default_factory=list)
    augment: dict = field(default_factory=lambda: {"flip_probability": 0.5, "max_scale": 0.03, "max_rotation_degrees": 3.0, "max_shift": 0.02})
    # [in-the-wild] Photo side only: how often a photo is cut to its face and re-padded as alignment pads a
    # frame-filling photo, and how often each casual-photo damage is applied (data/augment.py).
    tight_framing_a: float = 0.0
    tight_framing_padding: str = "blur"  # the padding the style will use at inference ("white", "portrait": white-backdrop styles)
    degrade_a: float = 0.0

    def __post_init__(self):
        _check_photo_augment("data", {"tight_framing_a": self.tight_framing_a, "degrade_a": self.degrade_a}, "tight_framing_padding",
                             self.tight_framing_padding)
        _check_template("data.framed_b", self.framed_b)
        if self.detect_a and not self.align_a:
            raise ConfigError("data.detect_a needs data.align_a: the template to align the detected faces to")

    def domains(self):
        return [_load_with_extras(self.domain_a, self.split_a, self.filters_a, self.align_a, self.also_a, "data.also_a",
                                  detect=self.detect_a),
                _load_with_extras(self.domain_b, self.split_b, self.filters_b, self.align_b, self.also_b, "data.also_b",
                                  framed=self.framed_b)]

    def dataset(self, seed: int):
        from toonbridge.data import AugmentConfig, DomainImages, UnpairedDataset

        side_a, side_b = self.domains()
        _check_points_to_cut_by(side_a, self.tight_framing_a, "data.tight_framing_a", "set data.align_a and data.detect_a")
        augment = AugmentConfig(**self.augment)
        augment_a = dataclasses.replace(augment, tight_framing=self.tight_framing_a, tight_framing_padding=self.tight_framing_padding,
                                        degrade=self.degrade_a)
        return UnpairedDataset(DomainImages(side_a, self.size, augment_a, seed), DomainImages(side_b, self.size, augment, seed + 1))


def _check_points_to_cut_by(domain, tight_framing: float, where: str, remedy: str) -> None:
    """Tight framing cuts a photo by its face's 5 points: photos without them would silently stay uncut."""
    missing = sum(sample.landmarks5 is None for sample in domain.samples)
    if tight_framing and missing:
        raise ConfigError(f"{where}: {missing} of {len(domain.samples)} photos of {domain.name} have no face points to cut "
                          f"them by; {remedy}")


_DOMAIN_KEYS = {"domain", "filters", "align", "framed", "split", "also"}
# [in-the-wild] Per-domain augmentation of a many-domain config, as UnpairedData's *_a keys for the photo side.
_DOMAIN_AUGMENT_KEYS = {"tight_framing", "tight_framing_padding", "degrade"}


@dataclass
class MultiDomainData:
    """The ``data`` section of the one-network-many-domains method (TwinGAN): named domains, each
    ``{domain, filters, align, framed, split, also}`` as one side of :class:`UnpairedData` (``framed`` as its
    ``framed_b``; ``also`` entries may carry ``labels: {hair: unknown}`` for faces whose hair band holds padding, e.g.
    UTKFace chips), and optionally that domain's ``tight_framing``, ``tight_framing_padding`` and ``degrade``
    (:class:`AugmentConfig`; photos)."""

    domains: dict = field(default_factory=dict)
    size: int = 128
    augment: dict = field(default_factory=lambda: {"flip_probability": 0.5, "max_scale": 0.03, "max_rotation_degrees": 3.0, "max_shift": 0.02})

    def __post_init__(self):
        if len(self.domains) < 2:
            raise ConfigError("data.domains: name at least two domains")
        for name, spec in self.domains.items():
            if not isinstance(spec, dict) or "domain" not in spec or set(spec) - _DOMAIN_KEYS - _DOMAIN_AUGMENT_KEYS:
                keys = ", ".join(sorted(_DOMAIN_KEYS | _DOMAIN_AUGMENT_KEYS))
                raise ConfigError(f"data.domains.{name} takes {keys} (domain required)")
            _check_photo_augment(f"data.domains.{name}", {key: spec.get(key, 0.0) for key in ("tight_framing", "degrade")},
                                 "tight_framing_padding", spec.get("tight_framing_padding", "blur"))
            _check_template(f"data.domains.{name}.framed", spec.get("framed"))

    @property
    def names(self) -> list[str]:
        return list(self.domains)

    def load(self, name: str, split: str | None = None):
        spec = self.domains[name]
        return _load_with_extras(spec["domain"], split or spec.get("split", "train"), spec.get("filters", []), spec.get("align"),
                                 spec.get("also", []), f"data.domains.{name}.also", framed=spec.get("framed"))

    def dataset(self, seed: int):
        from toonbridge.data import AugmentConfig, DomainImages, MultiDomainDataset

        augment = AugmentConfig(**self.augment)
        images = {}
        for k, name in enumerate(self.names):
            domain, own = self.load(name), self._augment_of(name, augment)
            _check_points_to_cut_by(domain, own.tight_framing, f"data.domains.{name}.tight_framing", "align them to a template (align)")
            images[name] = DomainImages(domain, self.size, own, seed + k)
        return MultiDomainDataset(images)

    def _augment_of(self, name: str, shared: AugmentConfig) -> AugmentConfig:
        own = {key: value for key, value in self.domains[name].items() if key in _DOMAIN_AUGMENT_KEYS}
        return dataclasses.replace(shared, **own)


def _check_photo_augment(where: str, probabilities: dict, padding_key: str, padding) -> None:
    """The tight-framing and damage settings of a photo side, checked when the config is read (not in a data
    worker mid-run), by the keys the config names them with."""
    from toonbridge.faces.align import PADDINGS

    for key, value in probabilities.items():
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"{where}.{key} is a probability, between 0 and 1")
    paddings = (*PADDINGS, "portrait")
    if padding not in paddings:
        raise ConfigError(f"{where}.{padding_key} must be one of {', '.join(paddings)}")


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read a YAML config. ``base: other.yaml`` (relative to this file) starts from another config and changes
    only what this one sets (sections are merged key by key), which is how ablations stay one-line diffs."""
    raw = _read_with_bases(Path(path), seen=())
    raw.update(overrides or {})
    return config_from_dict(raw, str(path))


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> dict:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' configs form a loop")
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping of keys to values")
    base = raw.pop("base", None)
    if base is None:
        return raw
    merged = _read_with_bases(path.parent / base, seen + (path.resolve(),))
    for key, value in raw.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def config_from_dict(raw: dict, where: str = "config") -> TrainConfig:
    return section(TrainConfig, raw, where)


def section(cls, raw: dict | None, where: str):
    """Build dataclass ``cls`` from a mapping, checking names and (simple) types."""
    raw = dict(raw or {})
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        values[name] = _coerce(value, hints[name], f"{where}: {name}")
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(value, hint, where: str):
    """Accept YAML's natural spellings (ints for floats, lists for tuples); refuse anything else by name."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option in (int, str, bool) and type(value) is option:
            return value
        origin = typing.get_origin(option)
        if origin in (tuple, list) and isinstance(value, (list, tuple)):
            item = (typing.get_args(option) or (object,))[0]
            items = [_coerce(v, item, where) if item is not object and item is not Ellipsis else v for v in value]
            return origin(items)
        if dict in (option, origin) and isinstance(value, dict):
            key_hint, value_hint = typing.get_args(option) or (object, object)
            return {_coerce(k, key_hint, where) if key_hint is not object else k:
                    _coerce(v, value_hint, where) if value_hint is not object else v for k, v in value.items()}
        if option is object:
            return value
    raise ConfigError(f"{where}: expected {_spell(hint)}, got {value!r}")


def _spell(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
