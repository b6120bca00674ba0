"""Running one operation over many input files: expand folders and globs, show progress, go on past bad files,
report each failure as one line on stderr, and remember whether anything failed."""

from __future__ import annotations

import functools
import glob
import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from toonbridge.errors import ToonbridgeError
from toonbridge.imageio import is_image_path


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders become their image files (recursively, sorted); unmatched globs stay as given so
    that they are reported as missing rather than silently dropped."""
    paths: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            paths.extend(_folder_images(path))
        elif not path.exists() and glob.has_magic(str(raw)):
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=True))
            paths.extend(matches or [path])
        else:
            paths.append(path)
    return paths


class UnreadableFolder(type(Path())):
    """A folder that could not be listed. It stays among the inputs, so :func:`run_batch` reports it as a failure
    (with ``reason``) instead of it passing for an empty folder or being skipped."""

    reason: str = "cannot read this folder"


def _unreadable(error: OSError) -> UnreadableFolder:
    folder = UnreadableFolder(error.filename)
    folder.reason = f"cannot read this folder ({error.strerror or error})"
    return folder


def _folder_images(folder: Path) -> list[Path]:
    """The image files under ``folder`` (sorted), then any folder that could not be listed."""
    found: list[Path] = []
    unreadable: list[Path] = []
    for root, folders, files in os.walk(folder, onerror=lambda error: unreadable.append(_unreadable(error))):
        folders.sort()
        found.extend(Path(root) / name for name in files if is_image_path(Path(name)) and (Path(root) / name).is_file())
    return sorted(found) + unreadable


@dataclass
class BatchReport:
    succeeded: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)


def report_failure(label: str, reason: str) -> None:
    # Plain print, not rich: rich wraps long lines, and a failure must stay one line that scripts can grep.
    print(f"error: {label}: {reason}", file=sys.stderr, flush=True)


def run_batch(items: list, work: Callable[[object], object], *, description: str,
              on_result: Callable[[object, object], None] | None = None, workers: int = 1,
              label: Callable[[object], str] = str, show_progress: bool | None = None,
              print_failures: bool = True) -> BatchReport:
    """Call ``work(item)`` for each item, then ``on_result(item, value)`` in this process.

    An error from either marks that item failed: a :class:`ToonbridgeError` with its message, anything else as an
    internal error; each failure is also printed as one line unless ``print_failures`` is off. With ``workers > 1``, ``work`` runs in that many processes (it must be picklable: a module-level
    function or a ``functools.partial`` of one); results still arrive in input order.
    """
    report = BatchReport()
    for folder in [item for item in items if isinstance(item, UnreadableFolder)]:
        report.failures.append((label(folder), folder.reason))
        if print_failures:
            report_failure(label(folder), folder.reason)
    items = [item for item in items if not isinstance(item, UnreadableFolder)]
    with _progress(show_progress) as progress:
        task = progress.add_task(description, total=len(items))
        for item, outcome in _outcomes(items, work, workers):
            try:
                value = outcome()
                if on_result is not None:
                    on_result(item, value)
                report.succeeded += 1
            except ToonbridgeError as error:
                report.failures.append((label(item), str(error)))
                if print_failures:
                    report_failure(label(item), str(error))
            except Exception as error:  # a bug, not the user's fault: still one line, the trace on request
                reason = f"internal error ({type(error).__name__}: {error}); set TOONBRIDGE_DEBUG=1 for details"
                report.failures.append((label(item), reason))
                if print_failures:
                    report_failure(label(item), reason)
                if os.environ.get("TOONBRIDGE_DEBUG"):
                    traceback.print_exception(error)
            progress.advance(task)
    return report


def _outcomes(items: list, work: Callable, workers: int) -> Iterator[tuple[object, Callable[[], object]]]:
    """Pairs of (item, a call that returns its result or raises its error)."""
    if workers <= 1 or len(items) < 2:
        for item in items:
            yield item, functools.partial(work, item)
        return
    # spawn, not fork: the parent may hold threads (torch, dlib) that a forked child would inherit half-locked.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [(item, pool.submit(work, item)) for item in items]
        for item, future in futures:
            yield item, future.result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C, drop what has not started


def _progress(show: bool | None) -> Progress:
    if show is None:
        show = sys.stderr.isatty()
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not show,
    )

