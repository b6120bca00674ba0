"""Turn a training run's checkpoint into the self-describing network files a style ships (one per network)."""

from __future__ import annotations

from pathlib import Path

import torch

from toonbridge.errors import ToonbridgeError
from toonbridge.models import save_network
from toonbridge.train.checkpoint import latest_checkpoint, load_checkpoint, restore
from toonbridge.train.config import config_from_dict
from toonbridge.train.method import build_method


def export_run(source: str | Path, out_dir: str | Path, half: bool = False, name: str | None = None) -> list[Path]:
    """``source`` is a run folder (its latest checkpoint) or one checkpoint folder. Returns the files written.

    ``name`` renames the file of a run that ships one network. ``half`` stores the weights as float16 (half the size; fine for regressors, check a generator before using it).
    """
    source = Path(source)
    checkpoint = load_checkpoint(source) if (source / "state.json").is_file() else latest_checkpoint(source)
    if checkpoint is None:
        raise ToonbridgeError(f"{source} has no checkpoint to export")
    config = config_from_dict(checkpoint.state["config"], f"{checkpoint.path}/state.json")
    method = build_method(config, torch.device("cpu"))
    restore(checkpoint, method.networks, {})
    info = {"method": config.method, "step": checkpoint.step, "wall_seconds": round(checkpoint.state.get("wall_seconds", 0.0)),
            "config": config.to_dict()}
    shipped = method.shipped()
    if name is not None:
        if len(shipped) != 1:
            raise ToonbridgeError(f"--name needs a run that ships one network; this one ships {', '.join(shipped)}")
        shipped = {name: next(iter(shipped.values()))}
    written = []
    for stem, (network, builder, options) in shipped.items():
        written.append(save_network(network, builder, options, Path(out_dir) / f"{stem}.safetensors", info, half=half))
    return written
