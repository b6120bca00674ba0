"""Manifests: a CSV with a ``file`` column (relative to the CSV's folder), any label columns, and optionally the
5 landmark columns ``left_eye_x, left_eye_y, …, mouth_right_y`` (pixels in the image as stored)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toonbridge.errors import DatasetError
from toonbridge.faces.landmarks import FIVE_POINT_COLUMNS
from toonbridge.imageio import write_text_atomic


@dataclass(frozen=True)
class Sample:
    path: Path
    name: str  # the file as written in the manifest (or relative to the folder); the split hashes this
    labels: dict[str, str] = field(default_factory=dict)
    landmarks5: np.ndarray | None = field(default=None, repr=False)


def read_manifest(path: str | Path, root: str | Path | None = None) -> list[Sample]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    root = Path(root) if root is not None else path.parent
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "file" not in columns:
            raise DatasetError(f"{path}: no 'file' column (columns: {', '.join(columns) or 'none'})")
        has_landmarks = all(column in columns for column in FIVE_POINT_COLUMNS)
        label_columns = [c for c in columns if c != "file" and c not in FIVE_POINT_COLUMNS]
        samples = []
        for line, row in enumerate(reader, start=2):
            samples.append(_sample_from_row(row, root, label_columns, has_landmarks, f"{path}:{line}"))
    return samples


def _sample_from_row(row, root: Path, label_columns, has_landmarks: bool, where: str) -> Sample:
    landmarks = None
    if has_landmarks and all(row.get(c) not in (None, "") for c in FIVE_POINT_COLUMNS):
        try:
            landmarks = np.array([float(row[c]) for c in FIVE_POINT_COLUMNS], dtype=np.float64).reshape(5, 2)
        except ValueError as error:
            raise DatasetError(f"{where}: bad landmark value ({error})") from None
    labels = {c: row[c] for c in label_columns if row.get(c) not in (None, "")}
    return Sample(path=root / row["file"], name=row["file"], labels=labels, landmarks5=landmarks)


def csv_text(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def manifest_text(samples: list[Sample], label_columns: list[str]) -> str:
    def row(sample: Sample) -> list[str]:
        points = [""] * 10 if sample.landmarks5 is None else [f"{v:.2f}" for v in np.asarray(sample.landmarks5).ravel()]
        return [sample.name, *(sample.labels.get(c, "") for c in label_columns), *points]

    return csv_text(["file", *label_columns, *FIVE_POINT_COLUMNS], (row(s) for s in samples))


def write_manifest(path: str | Path, samples: list[Sample], label_columns: list[str]) -> None:
    write_text_atomic(path, manifest_text(samples, label_columns))
