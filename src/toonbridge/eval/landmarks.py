"""Detection recall and 68-point landmark error against annotated photos (HELEN / 300-W style)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from toonbridge.faces.detection import Face
from toonbridge.faces.landmarks import inter_ocular_distance_68, normalised_mean_error


class HasBox(Protocol):
    @property
    def box(self) -> Sequence[float]: ...


@dataclass(frozen=True)
class AnnotatedFace:
    file: str
    index: int  # the row's "face" column
    landmarks68: np.ndarray = field(repr=False)

    @property
    def box(self) -> np.ndarray:
        return np.concatenate([self.landmarks68.min(axis=0), self.landmarks68.max(axis=0)])


def read_landmarks68(csv_path: str | Path) -> dict[str, list[AnnotatedFace]]:
    """``file, face, x0, y0, …, x67, y67`` rows grouped by file."""
    by_file: dict[str, list[AnnotatedFace]] = {}
    with Path(csv_path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            points = np.array([[float(row[f"x{i}"]), float(row[f"y{i}"])] for i in range(68)])
            by_file.setdefault(row["file"], []).append(AnnotatedFace(row["file"], int(row["face"]), points))
    return by_file


def match_faces(truth: Sequence[HasBox], found: list[Face]) -> dict[int, Face]:
    """Pair annotations (anything with a ``box``: x0, y0, x1, y1) with detections one to one: a detection matches
    an annotation when its box centre lies inside the annotation's box; the nearest centres are paired first.
    Returns {annotation index: face}."""
    candidates = []
    for i, annotation in enumerate(truth):
        x0, y0, x1, y1 = annotation.box
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        for j, face in enumerate(found):
            fx, fy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
            if x0 <= fx <= x1 and y0 <= fy <= y1:
                candidates.append((float(np.hypot(fx - centre[0], fy - centre[1])), i, j))
    matched, used = {}, set()
    for _, i, j in sorted(candidates):
        if i not in matched and j not in used:
            matched[i] = found[j]
            used.add(j)
    return matched


def landmark_nme(face: Face, annotation: AnnotatedFace) -> float:
    """Mean 68-point error normalised by the annotation's outer-eye-corner distance."""
    return normalised_mean_error(face.landmarks68, annotation.landmarks68, inter_ocular_distance_68(annotation.landmarks68))


@dataclass
class DetectionScore:
    annotated: int = 0
    detected: int = 0
    nmes: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.detected / max(self.annotated, 1)

    @property
    def mean_nme(self) -> float:
        return float(np.mean(self.nmes)) if self.nmes else float("nan")

    def add(self, truth: list[AnnotatedFace], found: list[Face]) -> None:
        matched = match_faces(truth, found)
        self.annotated += len(truth)
        self.detected += len(matched)
        self.nmes.extend(landmark_nme(face, truth[i]) for i, face in matched.items())


def regressor_errors(regressor, domain, size: int = 128, batch_size: int = 64) -> np.ndarray:
    """Per-face 5-point NME (eye-centre normalised) of a landmark regressor on a domain's annotated faces."""
    import torch

    from toonbridge.data import DomainImages
    from toonbridge.losses import normalised_mean_error

    annotated = [i for i, sample in enumerate(domain) if sample.landmarks5 is not None]
    if not annotated:
        raise ValueError(f"{domain.name or 'the domain'} has no 5-point landmarks to compare with")
    images = DomainImages(domain, size)
    errors = []
    with torch.no_grad():
        for start in range(0, len(annotated), batch_size):
            items = [images[i] for i in annotated[start:start + batch_size]]
            batch = torch.stack([item["image"] for item in items])
            target = torch.stack([item["landmarks"] for item in items])
            errors.append(normalised_mean_error(regressor.points(batch), target).numpy())
    return np.concatenate(errors)
