"""The shared shape of the small supervised models (landmark regressors, attribute classifiers).

One network, trained on one augmented domain with AdamW, a linear warm-up and a cosine decay. A subclass names
the network (``role``, its key in checkpoints and exports; ``builder``, its registry name), its ``model`` section
and options, its data, and its loss.
"""

from __future__ import annotations

import torch

from toonbridge.models import build
from toonbridge.train.config import SupervisedData, TrainConfig
from toonbridge.train.method import TrainingMethod
from toonbridge.train.schedules import AdamWCosine, set_learning_rate, warmup_cosine


class SupervisedTraining(TrainingMethod):
    role: str
    builder: str
    sections = {"data": SupervisedData, "optim": AdamWCosine}  # subclasses add their "model" section

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        self.options = self.network_options()
        self.network = build(self.builder, **self.options).to(device)
        self.networks = {self.role: self.network}
        self.optimizers = {self.role: torch.optim.AdamW(self.network.parameters(), lr=self.optim_config.lr,
                                                        weight_decay=self.optim_config.weight_decay)}

    def network_options(self) -> dict:
        raise NotImplementedError

    def set_learning_rate_for(self, step: int) -> None:
        scale = warmup_cosine(step, self.config.steps, self.optim_config.warmup_steps)
        set_learning_rate(self.optimizers.values(), self.optim_config.lr, scale)

    def optimise(self, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[self.role]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def shipped(self) -> dict[str, tuple[torch.nn.Module, str, dict]]:
        return {self.role: (self.network, self.builder, self.options)}
