"""Attribute faithfulness: does a label (gender, ...) survive translation, judged by our own classifiers?

The input's class is its ground-truth label when known, else the source-domain classifier's answer; the output's
class is the target-domain classifier's answer. The metric is the share of inputs whose class is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from toonbridge.data import image_to_tensor


@dataclass
class AttributeResult:
    preserved: float  # share of inputs whose class survived
    count: int
    by_class: dict[str, float]  # the same share per input class

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@torch.no_grad()
def classify(classifier: torch.nn.Module, images: list[np.ndarray], batch_size: int = 64) -> list[str]:
    answers: list[str] = []
    for start in range(0, len(images), batch_size):
        answers += classifier.predict(torch.stack([image_to_tensor(i) for i in images[start:start + batch_size]]))
    return answers


def attribute_preservation(input_classes: list[str], target_classifier: torch.nn.Module, outputs: list[np.ndarray]) -> AttributeResult:
    if len(input_classes) != len(outputs) or not outputs:
        raise ValueError("give one input class per output (and at least one)")
    output_classes = classify(target_classifier, outputs)
    kept = np.array([a == b for a, b in zip(input_classes, output_classes)])
    by_class = {name: float(kept[[c == name for c in input_classes]].mean()) for name in sorted(set(input_classes))}
    return AttributeResult(float(kept.mean()), len(kept), by_class)
