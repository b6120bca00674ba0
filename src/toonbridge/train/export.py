"""Turn a training run's checkpoint into the self-describing network files a style ships (one per network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from toonbridge.errors import ToonbridgeError
from toonbridge.models import save_network
from toonbridge.train.checkpoint import checkpoint_or_latest, restore
from toonbridge.train.config import config_from_dict
from toonbridge.train.method import build_method


def export_run(source: str | Path, out_dir: str | Path, half: bool = False, name: str | None = None, live: bool = False) -> list[Path]:
    """``source`` is a run folder (its latest checkpoint) or one checkpoint folder. Returns the files written.

    ``name`` renames the file of a run that ships one network. ``half`` stores the weights as float16 (half the size; fine for regressors, check a generator before using it).
    A run that kept moving averages (``ema_half_life``) ships them, or with ``live`` the trained weights.
    """
    method, info = _load_run(source)
    shipped = method.released(live)
    if method.averages:
        info["weights"] = "trained (live)" if live else f"moving average, half-life {method.average_half_life} steps"
    if name is not None:
        if len(shipped) != 1:
            raise ToonbridgeError(f"--name needs a run that ships one network; this one ships {', '.join(shipped)}")
        shipped = {name: next(iter(shipped.values()))}
    written = []
    for stem, (network, builder, options) in shipped.items():
        written.append(save_network(network, builder, options, Path(out_dir) / f"{stem}.safetensors", info, half=half))
    return written


def merge_branch_runs(sources: list[str | Path], out_dir: str | Path, half: bool = False) -> list[Path]:
    """One pair of multi-branch generators from several ``fewshot_branch`` runs on the same base: each run gives
    the branch of the group it trained, every other branch comes from the first run; the shared layers must be
    identical in all of them, which selective backprop guarantees and whole-model fine-tuning breaks."""
    runs = [_load_run(source) for source in sources]
    if any(info["method"] != "fewshot_branch" for _method, info in runs):
        raise ToonbridgeError("only fewshot_branch runs can be merged")
    merged_method, _info = runs[0]
    trained = [info["config"]["model"]["group"] for _method, info in runs]
    if len(set(trained)) != len(trained):
        raise ToonbridgeError(f"two runs trained the same group ({', '.join(trained)})")
    shipped = merged_method.released()
    for (method, info), source in zip(runs, sources):
        if info["config"]["model"]["train"] != "branch":
            raise ToonbridgeError(f"{source}: trained every layer (model.train: all); only branch runs can be merged")
        group = info["config"]["model"]["group"]
        for stem, (merged, _builder, _options) in shipped.items():
            network = method.released()[stem][0]
            if network.groups != merged.groups or not _same(network.body, merged.body):
                raise ToonbridgeError(f"{source}: its shared layers differ from {sources[0]}'s (another base run?)")
            merged.heads[group].load_state_dict(network.heads[group].state_dict())
            merged.tails[group].load_state_dict(network.tails[group].state_dict())
    info = {"method": "fewshot_branch", "step": sum(i["step"] for _m, i in runs),
            "wall_seconds": sum(i["wall_seconds"] for _m, i in runs),
            "merged": [{"group": group, "run": str(source), "step": i["step"], "wall_seconds": i["wall_seconds"], "config": i["config"]}
                       for group, source, (_m, i) in zip(trained, sources, runs)]}
    written = []
    for stem, (network, builder, options) in shipped.items():
        options = {**options, "active": network.groups[0]}
        written.append(save_network(network, builder, options, Path(out_dir) / f"{stem}.safetensors", info, half=half))
    return written


def blend_networks(first: str | Path, second: str | Path, weight: float, out: str | Path, half: bool = False) -> Path:
    """Network interpolation (Wang et al., ESRGAN's "network interpolation"): every weight ``weight`` of the way
    from ``first`` to ``second``, two network files of one architecture, typically two checkpoints of one run. A
    run that gains style while losing the face along the way gives a point between them that neither checkpoint
    is, with no further training (docs/models.md, whitebox-bitmoji)."""
    from safetensors import SafetensorError, safe_open

    from toonbridge.models import load_network

    if not 0 <= weight <= 1:
        raise ToonbridgeError(f"the weight must be between 0 and 1, not {weight}")
    metadata = []
    for path in (first, second):
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata.append(handle.metadata() or {})
        except (OSError, SafetensorError) as error:
            raise ToonbridgeError(f"cannot read the network file {path}: {error}") from None
    if any((m.get("network"), m.get("options")) != (metadata[0].get("network"), metadata[0].get("options")) for m in metadata):
        raise ToonbridgeError(f"{first} and {second} are not the same architecture (network and options differ)")
    network, other = load_network(first), load_network(second).state_dict()
    blended = {key: torch.lerp(value, other[key], weight) if value.is_floating_point() else other[key]
               for key, value in network.state_dict().items()}
    network.load_state_dict(blended)
    info = {"blend": weight, "from": [{"file": str(path), "info": json.loads(m.get("info", "{}"))} for path, m in zip((first, second), metadata)]}
    return save_network(network, metadata[0]["network"], json.loads(metadata[0]["options"]), out, info, half=half)


def style_from_run(run: Path, base_style: str, folder: Path) -> Path:
    """A style folder with the run's generators and the base style's other networks and settings.

    ``base_style`` is a shipped style (name or folder), or a ``style.json`` file for a style not shipped yet (its
    generators come from the run; e.g. ``configs/styles/anime.json``).
    """
    from toonbridge.style_files import WEIGHTS_DIR, find_style

    if str(base_style).endswith(".json"):
        source = Path(base_style)
        folder.mkdir(parents=True)
        raw = json.loads(source.read_text())
        relative_to = WEIGHTS_DIR / raw["name"]  # classifier paths are written as in the shipped folder it will be
    else:
        base = find_style(base_style)
        shutil.copytree(base.folder, folder)
        raw = json.loads((folder / "style.json").read_text())
        relative_to = base.folder
    for key, value in raw.get("evaluation", {}).items():  # classifier paths are relative to the original folder
        if key.startswith("classifier_"):
            raw["evaluation"][key] = str((relative_to / value).resolve())
    for role, value in raw.get("networks", {}).items():  # so are networks shared with other styles (../bitmoji/...)
        if str(value).startswith(".."):
            raw["networks"][role] = str((relative_to / value).resolve())
    (folder / "style.json").write_text(json.dumps(raw))
    export_run(run, folder)  # overwrites to_cartoon/to_photo.safetensors
    return folder


def shipped_networks(source: str | Path, live: bool = False) -> dict[str, torch.nn.Module]:
    """The networks a run (or one checkpoint) ships, in eval mode, without writing files."""
    method, _info = _load_run(source)
    return {stem: network.eval() for stem, (network, _builder, _options) in method.released(live).items()}


def _load_run(source: str | Path):
    checkpoint = checkpoint_or_latest(source)
    if checkpoint is None:
        raise ToonbridgeError(f"{source} has no checkpoint to export")
    config = config_from_dict(checkpoint.state["config"], f"{checkpoint.path}/state.json")
    method = build_method(config, torch.device("cpu"))
    restore(checkpoint, method.networks, {})
    info = {"method": config.method, "step": checkpoint.step, "wall_seconds": round(checkpoint.state.get("wall_seconds", 0.0)),
            "config": config.to_dict()}
    return method, info


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)
