"""The one training loop every method uses: data order, steps, checkpoints, resume, logs, the NaN guard.

Data order is a pure function of (seed, step): the permutation of each epoch comes from a generator seeded by
(seed, epoch), so a resumed run draws exactly the batches the killed run would have drawn. Together with the
restored weights, optimiser moments, method buffers and the torch RNG state, ``--resume`` continues the run
exactly where its last checkpoint was taken.

Under torchrun the same loop runs in every process (:mod:`toonbridge.train.distributed`): each reads its slice of
the global batch, gradients are averaged before every optimiser step, and rank 0 alone writes.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text
from torch.utils.data import default_collate

from toonbridge.errors import ToonbridgeError
from toonbridge.precision import cpu_description
from toonbridge.train.checkpoint import (checkpoint_or_latest, latest_checkpoint, list_checkpoints, restore,
                                         restore_exported_networks, restore_networks, rng_state, save_checkpoint,
                                         set_rng_state)
from toonbridge.train import distributed
from toonbridge.train.config import TrainConfig
from toonbridge.train.method import TrainingMethod, build_method

# What a resume may change: how long to train, and how many CPU threads to use (not the recipe).
RESUME_MAY_CHANGE = ("steps", "max_wall_minutes", "threads")


class TrainingDiverged(ToonbridgeError):
    """A loss became NaN or infinite."""


@dataclass
class TrainResult:
    step: int
    wall_seconds: float
    checkpoint: Path | None
    stopped_by: str  # "steps", "wall time" or "interrupt"
    main: bool = True  # False in the other processes of a torchrun run (rank 0 speaks for the run)


def batch_indices(length: int, batch_size: int, seed: int, start_step: int) -> Iterator[tuple[int, list[int]]]:
    """Yield (epoch, indices) for steps start_step, start_step+1, ... ; the last partial batch of an epoch is dropped."""
    per_epoch = max(length // batch_size, 1)
    step = start_step
    while True:
        epoch, position = divmod(step, per_epoch)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(length, generator=generator).tolist()
        for offset in range(position, per_epoch):
            yield epoch, [order[(offset * batch_size + i) % length] for i in range(batch_size)]
            step += 1


def train(config: TrainConfig, *, resume: bool = False, device: str = "cpu", progress: bool = True, log=print) -> TrainResult:
    """Run (or resume) ``config`` until its steps or wall-time budget are spent, or Ctrl-C.

    The first Ctrl-C (or SIGTERM) finishes the current step, writes a checkpoint and returns; a second Ctrl-C stops
    at once, keeping the last checkpoint (a half-done step is never saved, so resuming stays exact). Started by
    torchrun, every process of the run stops at the same step.
    """
    world = distributed.init_from_environment(device)
    try:
        result = _train(config, resume, _device(device, world), progress and world.main, log if world.main else lambda _message: None, world)
    except RuntimeError as error:
        distributed.shutdown(finished=False)
        if not world.distributed or "Connection" not in str(error) and "NCCL" not in str(error):
            raise
        raise ToonbridgeError(f"another process of this run stopped ({str(error).splitlines()[0]}); the last checkpoint "
                              f"is {_latest_path(config.run_dir)}: --resume from it") from None
    except BaseException:
        distributed.shutdown(finished=False)
        raise
    # After a Ctrl-C the processes may not all come back from their last step (a second Ctrl-C): nobody waits.
    distributed.shutdown(finished=result.stopped_by != "interrupt")
    return result


def _train(config: TrainConfig, resume: bool, torch_device: torch.device, progress: bool, log, world: distributed.World) -> TrainResult:
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + world.rank)  # ranks draw different noise; rank 0 draws what one process would
    method = build_method(config, torch_device)
    if config.precision == "bf16" and not method.bf16:
        log(f"this CPU ({cpu_description()}) has no native bfloat16 arithmetic, where bf16 autocast runs tens of times "
            "slower than fp32: training in fp32 (precision: fp32 in the config says so and silences this)")
    start_step, elapsed = _start(config, method, resume, log, world)
    distributed.broadcast_networks(method.networks)
    distributed.synchronise_batch_norm(method.networks)
    distributed.average_gradients_before_steps(method.optimizers)
    dataset = method.dataset()
    writer = _summary_writer(Path(config.run_dir) / "logs") if world.main else None
    clock = time.monotonic()
    trained = lambda: elapsed + time.monotonic() - clock  # noqa: E731
    last_saved: Path | None = None
    saved_step = start_step  # the same on every rank (only rank 0 gets paths back from saving)
    stopped_by, step, finished_step, hard_stop = "steps", start_step, True, False

    def save(at_step: int) -> Path | None:
        rng_by_rank = distributed.gather_objects(rng_state())  # every rank takes part; rank 0 writes
        if not world.main:
            return None
        state = {"config": config.to_dict(), "rng": rng_by_rank[0], "wall_seconds": trained(), "device": _describe(torch_device),
                 "precision": _arithmetic(method), "world_size": world.size, "rng_by_rank": rng_by_rank}
        return save_checkpoint(config.run_dir, at_step, method.networks, method.optimizers, state,
                               method.extra_state(), keep=config.keep_checkpoints)

    def save_now(at_step: int) -> None:
        nonlocal last_saved, saved_step
        last_saved, saved_step = save(at_step) or last_saved, at_step

    try:
        with _progress_bar(progress) as bar, _StopRequest(world.main) as stop:
            task = bar.add_task("training", total=config.steps, completed=start_step, losses="")
            for epoch, indices in batch_indices(len(dataset), config.batch_size * world.size, config.seed, start_step):
                # A run resumed at its time budget (a command run again to reinstall what it trained) takes no step.
                if step >= config.steps or config.max_wall_minutes and elapsed >= 60 * config.max_wall_minutes:
                    stopped_by = "steps" if step >= config.steps else "wall time"
                    break
                dataset.set_epoch(epoch)
                mine = indices[world.rank * config.batch_size:(world.rank + 1) * config.batch_size]
                batch = _to_device(_fetch(dataset, mine), torch_device)
                finished_step = False
                method.set_learning_rate_for(step)
                if step < config.critics_first_steps:
                    method.hold_all_but_critics()
                losses = {name: float(value) for name, value in method.train_step(batch, step).items()}
                _check_finite(losses, step, lambda: last_saved or _latest_path(config.run_dir))
                if method.averages:
                    method.update_average(step + 1)
                step, finished_step = step + 1, True
                if world.main:
                    _log(writer, bar, task, method, batch, losses, step, config)
                if step % config.checkpoint_every == 0:
                    save_now(step)
                out_of_time = bool(config.max_wall_minutes) and trained() >= 60 * config.max_wall_minutes
                if distributed.any_rank(stop.requested or out_of_time):
                    stopped_by = "interrupt" if distributed.any_rank(stop.requested) else "wall time"
                    break
    except KeyboardInterrupt:
        stopped_by, hard_stop = "interrupt", True
    finally:
        if writer is not None:
            writer.close()
    # After a second Ctrl-C the other processes may be anywhere in their step: no collective save then.
    if finished_step and step > saved_step and not (hard_stop and world.distributed):
        save_now(step)
    return TrainResult(step, trained(), last_saved or _latest_path(config.run_dir), stopped_by, world.main)


def _log(writer, bar, task, method: TrainingMethod, batch: dict, losses: dict[str, float], step: int, config: TrainConfig) -> None:
    if step % config.log_every == 0 or step == config.steps:
        for name, value in losses.items():
            writer.add_scalar(f"loss/{name}", value, step)
        bar.update(task, losses=_short_losses(losses))
    if step % config.sample_every == 0 and (grid := method.samples(batch)) is not None:
        writer.add_image("samples", grid, step)
    bar.update(task, completed=step)


class _StopRequest:
    """Turn the first Ctrl-C into a request honoured between steps; a second one interrupts at once. SIGTERM (what
    torchrun sends every process of a run after a Ctrl-C, or when another process failed) is always a request:
    the step finishes and a checkpoint is written within torchrun's grace period."""

    def __init__(self, speak: bool = True):
        self.requested = False
        self.speak = speak
        self.previous: dict = {}

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            self.previous = {signal.SIGINT: signal.signal(signal.SIGINT, self._interrupt),
                             signal.SIGTERM: signal.signal(signal.SIGTERM, self._terminate)}
        return self

    def _interrupt(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self._terminate(signum, frame)

    def _terminate(self, signum, frame) -> None:
        if not self.requested and self.speak:
            print("stopping after this step (Ctrl-C again to stop at once)", file=sys.stderr)
        self.requested = True

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _arithmetic(method: TrainingMethod) -> str:
    """The precision the steps really run in (see :attr:`TrainingMethod.bf16`)."""
    return "bf16" if method.bf16 else "fp32"


def _start(config: TrainConfig, method: TrainingMethod, resume: bool, log, world: distributed.World) -> tuple[int, float]:
    existing = list_checkpoints(config.run_dir)
    if not resume:
        if existing:
            raise ToonbridgeError(f"{config.run_dir} already has checkpoints (last: {existing[-1].name}); "
                                  "pass --resume to continue it, or choose another run_dir")
        return _fresh_start(config, method, log)
    checkpoint = latest_checkpoint(config.run_dir)
    if checkpoint is None:
        log(f"note: no checkpoint in {config.run_dir}; starting from step 0")
        return _fresh_start(config, method, log)
    stored = method.comparable_config(checkpoint.state.get("config", {}))
    current = method.comparable_config(config.to_dict())
    # Precision is compared as the arithmetic the steps ran in, not as written: a bf16 recipe that fell back to fp32
    # on a CPU without native bf16 resumes a run trained with "precision: fp32", and the other way round.
    # Checkpoints before 2026-12-07 record only the config's word, so either reading of it passes for them.
    arithmetic, recorded = _arithmetic(method), checkpoint.state.get("precision")
    if recorded is not None or stored.get("precision") == arithmetic:
        stored["precision"], current["precision"] = recorded or arithmetic, arithmetic
    changed = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k) and k not in RESUME_MAY_CHANGE)
    if changed:
        arithmetic_note = (f"; its steps ran in {stored['precision']}, these would run in {current['precision']}"
                           if "precision" in changed else "")
        raise ToonbridgeError(f"the config differs from the one {checkpoint.path} was trained with ({', '.join(changed)}); "
                              f"resume with the same config (only {', '.join(RESUME_MAY_CHANGE)} may change){arithmetic_note}")
    restore(checkpoint, method.networks, method.optimizers)
    method.load_extra_state(checkpoint.extra)
    _restore_rng(checkpoint, config, world, log)
    log(f"resuming {config.run_dir} from step {checkpoint.step} ({checkpoint.state.get('wall_seconds', 0) / 60:.1f} min trained)")
    return checkpoint.step, float(checkpoint.state.get("wall_seconds", 0.0))


def _restore_rng(checkpoint, config: TrainConfig, world: distributed.World, log) -> None:
    """Each rank's own generator state when the run had as many processes; otherwise (documented as not bit-exact:
    the global batch changed too) rank 0's state, with the other ranks re-seeded apart from it."""
    states = checkpoint.state.get("rng_by_rank") or [checkpoint.state["rng"]]
    if len(states) == world.size:
        set_rng_state(states[world.rank])
        return
    log(f"note: {checkpoint.path} was trained by {len(states)} process(es), this run has {world.size}: it resumes, but "
        "not bit-exactly (the global batch and the random draws change)")
    set_rng_state(states[0])
    if world.rank:
        torch.manual_seed(config.seed + world.rank + 1_000_003 * checkpoint.step)


def _fresh_start(config: TrainConfig, method: TrainingMethod, log) -> tuple[int, float]:
    """Step 0; with ``init_from``, the networks first take that checkpoint's weights (a warm start). ``init_from``
    may also be a folder of exported networks (a shipped style): those it holds are loaded, the others (such as
    discriminators, which styles do not ship) start fresh."""
    if config.init_from:
        checkpoint = checkpoint_or_latest(config.init_from)
        if checkpoint is not None:
            fresh = restore_networks(checkpoint, method.networks, absent_ok=True)
            log(f"starting {config.run_dir} from the weights of {checkpoint.path} (step {checkpoint.step})"
                + (f"; {', '.join(fresh)} start fresh" if fresh else ""))
        elif loaded := (restore_exported_networks(config.init_from, method.networks) if Path(config.init_from).is_dir() else []):
            fresh = sorted(set(method.networks) - set(loaded))
            log(f"starting {config.run_dir} from the exported {', '.join(loaded)} of {config.init_from}"
                + (f"; {', '.join(fresh)} start fresh" if fresh else ""))
        else:
            raise ToonbridgeError(f"init_from: {config.init_from} is neither a checkpoint, a run folder with one, "
                                  "nor a folder of exported networks of this method")
    method.restart_average()  # from the weights this run starts with, not from an earlier run's average
    return 0, 0.0


def _latest_path(run_dir: str) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def _check_finite(losses: dict[str, float], step: int, last_good) -> None:
    """``last_good()`` finds the last checkpoint; it is only called when a loss is bad (on any rank: all stop)."""
    bad = [name for name, value in losses.items() if not math.isfinite(value)]
    if distributed.any_rank(bool(bad)):
        if not bad:
            raise TrainingDiverged(f"a loss became NaN or infinite in another process at step {step + 1}; training stopped "
                                   f"(the last good checkpoint is {last_good()})")
        checkpoint = last_good()
        where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written yet"
        raise TrainingDiverged(f"loss {', '.join(bad)} became {losses[bad[0]]} at step {step + 1}; training stopped "
                               f"({where}). Lower the learning rate or use precision: fp32, then --resume.")


def _device(name: str, world: distributed.World = distributed.World()) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ToonbridgeError("--device cuda was asked for, but torch sees no CUDA device here")
    if name not in ("cpu", "cuda"):
        raise ToonbridgeError(f"--device must be cpu or cuda, not {name!r}")
    if name == "cuda":
        # Every method trains at fixed image sizes, so cuDNN's per-shape search pays off; TF32 for what runs in fp32.
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
        return torch.device("cuda", world.local_rank)  # one GPU per process under torchrun
    return torch.device(name)


def _describe(device: torch.device) -> str:
    """What the run trained on, for the recipe in docs/models.md (wall time means little without it)."""
    processes = distributed.world().size
    each = f" × {processes} processes" if processes > 1 else ""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}{each}"
    return f"cpu ({cpu_description()}): {torch.get_num_threads()} threads{each}"


def _fetch(dataset, indices: list[int]):
    """One batch: a dataset that can gather a whole batch at once (``batch(indices)``) is asked to, which keeps a
    GPU fed from this one process; any other is read item by item and collated."""
    if hasattr(dataset, "batch"):
        return dataset.batch(indices)
    return default_collate([dataset[i] for i in indices])


def _to_device(batch, device: torch.device):
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch


def _short_losses(losses: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.3g}" for name, value in losses.items())


def _summary_writer(folder: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder))


def _progress_bar(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), disable=not enabled)


class _RateColumn(ProgressColumn):
    """Steps per second from rich's own speed estimate (rich has no iterations-per-second column)."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:.2f} it/s" if task.speed else "- it/s")
