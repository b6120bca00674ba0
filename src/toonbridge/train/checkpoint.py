"""Checkpoints: weights and optimiser tensors in safetensors, everything else in a small JSON file.

A checkpoint is a folder ``RUN/checkpoints/step-00001000/`` holding ``weights.safetensors`` (every network,
``name.parameter``), ``optimizers.safetensors`` (Adam moments and other tensor state), ``state.json`` (step, the
config, optimiser hyper-parameters, RNG states, accumulated wall time) and ``extra.safetensors`` for a method's
own buffers (such as CycleGAN's image pools). It is written to a temporary folder and renamed into place, so a
killed run leaves either the old checkpoint or the new one, never half of one. Nothing is unpickled on load.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from toonbridge.errors import ToonbridgeError

PREFIX = "step-"


@dataclass
class Checkpoint:
    path: Path
    step: int
    state: dict
    weights: dict[str, torch.Tensor]
    optimizers: dict[str, torch.Tensor]
    extra: dict[str, torch.Tensor]


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def save_checkpoint(run_dir: str | Path, step: int, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    state: dict, extra: dict[str, torch.Tensor] | None = None, keep: int = 2) -> Path:
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    temporary = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
    try:
        save_file(_network_tensors(networks), str(temporary / "weights.safetensors"))
        optimizer_tensors, optimizer_json = _split_optimizers(optimizers)
        save_file(optimizer_tensors, str(temporary / "optimizers.safetensors"))
        save_file({k: v.detach().contiguous().cpu() for k, v in (extra or {}).items()}, str(temporary / "extra.safetensors"))
        payload = dict(state, step=step, optimizers=optimizer_json)
        (temporary / "state.json").write_text(json.dumps(payload, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    try:
        state = json.loads((path / "state.json").read_text())
        return Checkpoint(path, int(state["step"]), state, load_file(str(path / "weights.safetensors")),
                          load_file(str(path / "optimizers.safetensors")), load_file(str(path / "extra.safetensors")))
    except (OSError, ValueError, KeyError) as error:
        raise ToonbridgeError(f"checkpoint {path} is unreadable: {error}") from None


def latest_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    found = list_checkpoints(run_dir)
    return load_checkpoint(found[-1]) if found else None


def checkpoint_or_latest(source: str | Path) -> Checkpoint | None:
    """``source`` itself when it is a checkpoint folder, else the latest checkpoint of the run folder ``source``."""
    source = Path(source)
    return load_checkpoint(source) if (source / "state.json").is_file() else latest_checkpoint(source)


def restore_networks(checkpoint: Checkpoint, networks: dict[str, nn.Module], absent_ok: bool = False) -> list[str]:
    """Load each network's weights from ``checkpoint``; returns the names it holds none of. ``absent_ok`` (warm
    starts only) lets such networks, e.g. one a new loss added, keep their fresh weights; a resume needs them all."""
    absent = []
    for name, network in networks.items():
        prefix = f"{name}."
        weights = {k[len(prefix):]: v for k, v in checkpoint.weights.items() if k.startswith(prefix)}
        if not weights and absent_ok:
            absent.append(name)
            continue
        try:
            network.load_state_dict(weights)
        except RuntimeError as error:  # another architecture: say which network, not a page of tensor names
            first_line = str(error).strip().splitlines()[0]
            raise ToonbridgeError(f"checkpoint {checkpoint.path} does not fit network {name!r}: {first_line}") from None
    return absent


def restore_exported_networks(folder: str | Path, networks: dict[str, nn.Module]) -> list[str]:
    """Load ``folder/<name>.safetensors`` (files written by ``toonbridge export weights``, such as a shipped style's
    generators) into the networks of the same name; returns the names loaded. The others keep their fresh weights."""
    from toonbridge.models import load_network

    loaded = []
    for name, network in networks.items():
        path = Path(folder) / f"{name}.safetensors"
        if not path.is_file():
            continue
        try:
            network.load_state_dict(load_network(path).state_dict())
        except RuntimeError as error:
            first_line = str(error).strip().splitlines()[0]
            raise ToonbridgeError(f"{path} does not fit network {name!r}: {first_line}") from None
        loaded.append(name)
    return loaded


def restore(checkpoint: Checkpoint, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> None:
    restore_networks(checkpoint, networks)
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(_join_optimizer(name, checkpoint.optimizers, checkpoint.state["optimizers"][name]))


def _network_tensors(networks: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    tensors = {}
    for name, network in networks.items():
        for key, value in network.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().contiguous().cpu()
    return tensors


def _split_optimizers(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    described: dict[str, dict] = {}
    for name, optimizer in optimizers.items():
        state_dict = optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for param_id, param_state in state_dict["state"].items():
            for key, value in param_state.items():
                if torch.is_tensor(value):
                    tensors[f"{name}/{param_id}/{key}"] = value.detach().contiguous().cpu()
                else:
                    scalars.setdefault(str(param_id), {})[key] = value
        described[name] = {"param_groups": state_dict["param_groups"], "scalars": scalars}
    return tensors, described


def _join_optimizer(name: str, tensors: dict[str, torch.Tensor], described: dict) -> dict:
    state: dict[int, dict] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            param_id, field = key[len(prefix):].split("/", 1)
            state.setdefault(int(param_id), {})[field] = value
    for param_id, scalars in described["scalars"].items():
        state.setdefault(int(param_id), {}).update(scalars)
    return {"state": state, "param_groups": described["param_groups"]}


def rng_state() -> dict:
    """The torch CPU generator's state, base64 (JSON-safe); data order does not need it (see the loop)."""
    return {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")}


def set_rng_state(state: dict) -> None:
    raw = bytearray(base64.b64decode(state["torch"]))
    torch.set_rng_state(torch.frombuffer(raw, dtype=torch.uint8).clone())
