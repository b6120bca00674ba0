"""Learning-rate schedules, as functions of the step (so a resumed run gets exactly the same rate)."""

from __future__ import annotations

import math
from dataclasses import dataclass



@dataclass
class AdamWCosine:
    """The ``optim`` section of the small supervised models: AdamW, linear warm-up, cosine decay."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


def constant_then_linear(step: int, total: int, decay_start: float) -> float:
    """CycleGAN's schedule: constant, then linear to 0 from ``decay_start`` × ``total`` on."""
    start = decay_start * total
    return 1.0 if step < start else max(0.0, 1 - (step - start) / max(total - start, 1))


def set_learning_rate(optimizers, base_lr: float, scale: float) -> None:
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = base_lr * scale
