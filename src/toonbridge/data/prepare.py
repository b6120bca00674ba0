"""Turn a folder of arbitrary photos into an aligned training set with a manifest.

Writes ``OUT/images/<name>_<face>.png``, ``OUT/manifest.csv`` (file, source, face, score and the 5 landmarks in
aligned coordinates) and ``OUT/skipped.csv`` (file, reason). A journal (``OUT/.prepare-journal.jsonl``) records every
finished photo, so an interrupted run resumes where it stopped and a re-run only processes new photos.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from toonbridge.batch import BatchReport, expand_inputs, run_batch
from toonbridge.data.manifest import Sample, csv_text, write_manifest
from toonbridge.errors import DatasetError, FaceTooSmall, ToonbridgeError
from toonbridge.faces import Template, align_face, detect, get_template
from toonbridge.faces.detection import DETECTOR_METHODS, DetectorMethod
from toonbridge.imageio import load_image, save_image, write_text_atomic

JOURNAL = ".prepare-journal.jsonl"
MANIFEST_LABELS = ["source", "face", "score"]


@dataclass(frozen=True)
class PrepareOptions:
    template: str = "bitmoji"
    faces: Literal["all", "largest"] = "all"
    max_upscale: float = 2.0  # faces that would be enlarged more than this are skipped as too small
    detector: DetectorMethod = "auto"

    def __post_init__(self):
        if self.faces not in ("all", "largest"):
            raise ValueError(f"faces must be 'all' or 'largest', not {self.faces!r}")
        if self.detector not in DETECTOR_METHODS:
            raise ValueError(f"unknown detector method {self.detector!r}; choose one of {', '.join(DETECTOR_METHODS)}")
        if self.max_upscale <= 0:
            raise ValueError("max_upscale must be positive")


@dataclass
class PrepareResult:
    photos: int
    faces_written: int
    skipped: list[tuple[str, str]]
    report: BatchReport


def prepare_folder(raw_dir: str | Path, out_dir: str | Path, options: PrepareOptions = PrepareOptions(),
                   show_progress: bool | None = None, workers: int = 1, photos: list[Path] | None = None,
                   print_failures: bool = True) -> PrepareResult:
    """Align every photo under ``raw_dir`` (or only ``photos``, files under it) into ``out_dir``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise DatasetError(f"not a folder: {raw_dir}")
    template = get_template(options.template)
    photos = expand_inputs([raw_dir]) if photos is None else [Path(photo) for photo in photos]
    if not photos:
        raise DatasetError(f"no image files in {raw_dir}")
    journal = _Journal(out_dir / JOURNAL)
    todo = [p for p in photos if _relative(p, raw_dir) not in journal.entries]

    def record(photo: Path, outcome: tuple[list[dict], str | None]) -> None:
        rows, skipped = outcome
        journal.add(_relative(photo, raw_dir), rows, skipped)  # a photo with nothing usable is done too
        if skipped:
            raise ToonbridgeError(skipped)

    work = functools.partial(_align_photo, raw_dir=raw_dir, out_dir=out_dir, template=template, options=options)
    report = run_batch(todo, work, on_result=record, workers=workers,
                       description=f"aligning to '{template.name}'", show_progress=show_progress,
                       print_failures=print_failures)
    samples, skipped = journal.samples(out_dir)
    # Unreadable files are not journalled (they may be fixed and retried), but they are listed as skipped.
    for name, reason in report.failures:
        if _relative(Path(name), raw_dir) not in journal.entries:
            skipped.append((_relative(Path(name), raw_dir), reason))
    write_manifest(out_dir / "manifest.csv", samples, MANIFEST_LABELS)
    write_text_atomic(out_dir / "skipped.csv", csv_text(["file", "reason"], skipped))
    return PrepareResult(photos=len(photos), faces_written=len(samples), skipped=skipped, report=report)


def _align_photo(photo: Path, *, raw_dir: Path, out_dir: Path, template: Template, options: PrepareOptions
                 ) -> tuple[list[dict], str | None]:
    """Write every usable face of one photo; return the manifest rows and, if none was usable, why.

    Runs in worker processes, so it takes only picklable arguments and returns plain data.
    """
    image = load_image(photo)
    faces = detect(image, options.detector)
    if not faces:
        return [], "no face found"
    if options.faces == "largest":
        faces = [max(faces, key=lambda face: face.width)]
    rows, too_small = [], None
    stem = _relative(photo, raw_dir).rsplit(".", 1)[0].replace("/", "__")
    for index, face in enumerate(faces):
        try:
            aligned = align_face(image, face, template, max_upscale=options.max_upscale)
        except FaceTooSmall as error:
            too_small = str(error)
            continue
        name = f"images/{stem}_{index}.png"
        save_image(aligned.image, out_dir / name)
        rows.append({"file": name, "face": index, "score": round(face.score, 4),
                     "landmarks5": np.round(aligned.landmarks5, 2).tolist()})
    return rows, (too_small if not rows else None)


class _Journal:
    """Append-only record of finished photos; each line is flushed so a kill loses at most the current photo."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):  # a line cut short by a kill: drop it before appending again
            text = text[: text.rfind("\n") + 1]
            write_text_atomic(path, text)
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                entry = json.loads(line)
                self.entries[entry["source"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DatasetError(f"{path}:{number}: damaged journal line; delete the file to start over") from None

    def add(self, source: str, rows: list[dict], skipped: str | None) -> None:
        entry = {"source": source, "rows": rows, "skipped": skipped}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
        self.entries[source] = entry

    def samples(self, out_dir: Path) -> tuple[list[Sample], list[tuple[str, str]]]:
        samples, skipped = [], []
        for source, entry in sorted(self.entries.items()):
            if entry["skipped"]:
                skipped.append((source, entry["skipped"]))
            for row in entry["rows"]:
                labels = {"source": source, "face": str(row["face"]), "score": str(row["score"])}
                samples.append(Sample(out_dir / row["file"], row["file"], labels, np.array(row["landmarks5"])))
        return samples, skipped


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()

