"""Few-shot group transfer (Zhuang & Yang 2020) on the landmark-assisted CycleGAN: one group branch per run.

A base run (``model.base``: a landmark_cyclegan run trained on the data-rich group) initialises everything: both
generators become :class:`~toonbridge.models.cyclegan.BranchedResnetGenerator` with every group's branch (first
encoder block, last decoder block) copied from the base, and the discriminators start from the base's. The run
then trains on one group's data (``data``: e.g. male photos and the 20 ``men`` Bitmoji of fewshot.csv):

- ``model.train: branch`` — selective backprop: only that group's branches of both generators are updated; the
  shared layers and every other branch stay exactly as in the base, so the base group does not forget.
- ``model.train: all`` — the baseline "fine-tune the whole base on the few-shot data" (one branch still
  selected, but every generator weight trains).

Discriminators always train (they are not shipped). Everything else is the landmark CycleGAN's step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from toonbridge.errors import ToonbridgeError
from toonbridge.train.checkpoint import latest_checkpoint
from toonbridge.train.config import ConfigError, TrainConfig
from toonbridge.train.landmark_cyclegan import CycleModel, LandmarkCycleGANTraining
from toonbridge.train.method import register_method

BASE_NETWORKS = ("d_photo", "d_cartoon", "local_photo", "local_cartoon")


@dataclass
class FewShotModel(CycleModel):
    groups: list[str] = field(default_factory=lambda: ["women", "men", "elderly"])
    group: str = "men"  # the branch this run trains
    base: str = ""  # the base run folder (its latest checkpoint initialises every network)
    train: str = "branch"  # "branch" (selective backprop) or "all" (fine-tune everything)


@register_method("fewshot_branch")
class FewShotBranchTraining(LandmarkCycleGANTraining):
    generator_name = "branched_resnet_generator"
    sections = {**LandmarkCycleGANTraining.sections, "model": FewShotModel}

    @classmethod
    def check_sections(cls, model: FewShotModel, **_) -> None:
        if model.train not in ("branch", "all"):
            raise ConfigError(f"model.train must be 'branch' or 'all', not {model.train!r}")

    @staticmethod
    def generator_options_for(m: FewShotModel) -> dict:
        return {"groups": list(m.groups), "active": m.group, "ngf": m.ngf, "n_blocks": m.n_blocks, "upsample": m.upsample}

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m: FewShotModel = self.model_config
        if m.base:
            self._start_from_base(m.base)
        trainable = [*self.to_cartoon.parameters(), *self.to_photo.parameters()]
        if m.train == "branch":
            for generator in (self.to_cartoon, self.to_photo):
                generator.requires_grad_(False)
                for parameter in generator.branch_parameters(m.group):
                    parameter.requires_grad_(True)
            trainable = [*self.to_cartoon.branch_parameters(m.group), *self.to_photo.branch_parameters(m.group)]
        optimizer = self.optimizers["generators"]
        self.optimizers["generators"] = type(optimizer)(trainable, **optimizer.defaults)

    def _start_from_base(self, base: str) -> None:
        checkpoint = latest_checkpoint(base)
        if checkpoint is None:
            raise ToonbridgeError(f"model.base: {base} has no checkpoint")
        for name, generator in (("to_cartoon", self.to_cartoon), ("to_photo", self.to_photo)):
            generator.load_plain(_prefixed(checkpoint.weights, name))
        for name in BASE_NETWORKS:  # a network the base run did not have (e.g. no local discriminators) starts fresh
            weights = _prefixed(checkpoint.weights, name)
            if name in self.networks and weights:
                self.networks[name].load_state_dict(weights)


def _prefixed(weights: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    return {key[len(name) + 1:]: value for key, value in weights.items() if key.startswith(f"{name}.")}
