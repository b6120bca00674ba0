"""What a training method provides to the generic loop, and the registry of methods by name."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import Dataset

from toonbridge.errors import UnknownName
from toonbridge.precision import bf16_is_native
from toonbridge.train.config import ConfigError, TrainConfig, section

_METHODS: dict[str, Callable[..., "TrainingMethod"]] = {}


def register_method(name: str):
    def decorate(cls):
        _METHODS[name] = cls
        return cls

    return decorate


def method_class(name: str) -> type["TrainingMethod"]:
    # Importing the modules registers the built-in methods.
    from toonbridge.train import attribute_classifier, cartoon_upscaler, face_probe, fewshot, landmark_cyclegan, landmark_regressor, psp, stylegan, twingan, ugatit, whitebox  # noqa: F401

    if name not in _METHODS:
        raise UnknownName(f"unknown training method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def check_config(config: TrainConfig) -> None:
    """Parse every section ``config``'s method reads, without building networks or reading data: a ConfigError
    names the first unknown key or bad value."""
    method_class(config.method).parse_sections(config)


def build_method(config: TrainConfig, device: torch.device) -> "TrainingMethod":
    method = method_class(config.method)(config, device)
    if config.ema_half_life:
        method.keep_average(config.ema_half_life)
    return method


class TrainingMethod:
    """Owns its networks, optimisers and data; the loop owns steps, checkpoints, logs and the NaN guard.

    Subclasses declare ``sections`` (which dataclass parses each of the config's data/model/loss/optim sections;
    parsed, they become ``data_config``, ``model_config``, ...), set ``networks`` and ``optimizers`` (everything in
    them is checkpointed) and implement :meth:`dataset` and :meth:`train_step`.
    """

    sections: dict[str, type] = {}

    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    critics: tuple[str, ...] = ("discriminators", "discriminator")  # optimizers that learn during critics_first_steps
    averages: dict[str, nn.Module] = {}  # stem -> the moving average of that shipped network (TrainConfig.ema_half_life)
    average_half_life: int = 0

    def __init__(self, config: TrainConfig, device: torch.device):
        self.config = config
        self.device = device
        # precision: bf16 where the hardware does bf16 arithmetic; where it would be emulated (36x slower on an AVX2
        # CPU), fp32 instead: the loop says so.
        self.bf16 = config.precision == "bf16" and bf16_is_native(device)
        for name, parsed in self.parse_sections(config).items():
            setattr(self, f"{name}_config", parsed)

    @classmethod
    def parse_sections(cls, config: TrainConfig) -> dict[str, object]:
        """Each declared section of ``config``, parsed and checked (a class method, so that a config can be checked
        without starting a run)."""
        parsed = {name: section(kind, getattr(config, name), name) for name, kind in cls.sections.items()}
        cls.check_sections(**parsed)
        return parsed

    @classmethod
    def check_sections(cls, **parsed) -> None:
        """Checks across a method's parsed sections that their types cannot express; raise ConfigError."""

    def autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def comparable_config(self, raw: dict) -> dict:
        """``raw`` (a stored or current config dict) with its defaults filled in, at the top level and in each
        section this method parsed (``data_config``, ``loss_config``, ...), so that a key added after a checkpoint
        was written, at its default, does not count as a change when resuming."""
        try:
            resolved = section(TrainConfig, raw, "config").to_dict()
        except ConfigError:
            resolved = dict(raw)  # an old key this version no longer knows: compare as written, which then differs
        for name, kind in self.sections.items():
            if isinstance(raw.get(name), dict):
                try:
                    resolved[name] = dataclasses.asdict(section(kind, raw[name], name))
                except ConfigError:
                    pass  # an old key this version no longer knows: compare the raw sections, which then differ
        return resolved

    def dataset(self) -> Dataset:
        raise NotImplementedError

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the losses to log (detached scalars)."""
        raise NotImplementedError

    def samples(self, batch: dict) -> torch.Tensor | None:
        """A 3×H×W image in [0, 1] showing current results, logged to TensorBoard."""
        return None

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors besides weights and optimisers that an exact resume needs."""
        return {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        pass

    def set_learning_rate_for(self, step: int) -> None:
        pass

    def shipped(self) -> dict[str, tuple[nn.Module, str, dict]]:
        """stem -> (network, builder name, builder options): what ``export weights`` writes, one file per stem."""
        raise NotImplementedError

    def released(self, live: bool = False) -> dict[str, tuple[nn.Module, str, dict]]:
        """What a run ships: :meth:`shipped`, each network replaced by its moving average where one is kept
        (unless ``live``)."""
        shipped = self.shipped()
        if live:
            return shipped
        return {stem: (self.averages.get(stem, network), builder, options) for stem, (network, builder, options) in shipped.items()}

    def keep_average(self, half_life: int) -> None:
        """Keep a moving average of every shipped network, checkpointed beside it as ``<stem>_ema``."""
        self.average_half_life = half_life
        self.averages = {stem: copy.deepcopy(network).requires_grad_(False) for stem, (network, _b, _o) in self.shipped().items()}
        self.networks.update({f"{stem}_ema": average for stem, average in self.averages.items()})

    @torch.no_grad()
    def restart_average(self) -> None:
        """The averages start at the networks' present weights (a fresh or warm start)."""
        for stem, (network, _b, _o) in self.shipped().items():
            if stem in self.averages:
                self.averages[stem].load_state_dict(network.state_dict())

    @torch.no_grad()
    def update_average(self, steps_done: int) -> None:
        """Move each average towards its network after step ``steps_done``. The half-life grows with the run (a
        tenth of the steps so far) up to ``ema_half_life``, so that the first, random weights fade quickly.
        Buffers (running statistics, the domains' mean codes) are copied, not averaged."""
        half_life = min(self.average_half_life, 1 + steps_done / 10)
        keep = 0.5 ** (1 / half_life)
        for stem, (network, _b, _o) in self.shipped().items():
            average = self.averages.get(stem)
            if average is None:
                continue
            for mean, now in zip(average.parameters(), network.parameters()):
                mean.copy_(now.detach().lerp(mean, keep))
            for mean, now in zip(average.buffers(), network.buffers()):
                mean.copy_(now)

    def hold_all_but_critics(self) -> None:
        """Learning rate 0 for every optimizer but the critics' (``TrainConfig.critics_first_steps``)."""
        for name, optimizer in self.optimizers.items():
            if name not in self.critics:
                for group in optimizer.param_groups:
                    group["lr"] = 0.0
