"""Networks, one file per family, registered by name so that a checkpoint can rebuild what it stores.

``build("resnet_generator", ngf=32)`` makes a network from keyword options; ``names()`` lists what is registered.
A checkpoint stores the family name and its options next to the weights (see :mod:`toonbridge.train.checkpoint`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from toonbridge.errors import ToonbridgeError, UnknownName

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Class or function decorator: ``@register("patch_discriminator")``."""

    def decorate(builder):
        if name in _BUILDERS:
            raise ValueError(f"network {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorate


def build(name: str, **options) -> nn.Module:
    _load_builtin()
    if name not in _BUILDERS:
        raise UnknownName(f"unknown network {name!r}; known: {', '.join(names())}")
    return _BUILDERS[name](**options)


def names() -> list[str]:
    _load_builtin()
    return sorted(_BUILDERS)


def save_network(network: nn.Module, name: str, options: dict, path: str | Path, info: dict | None = None,
                 half: bool = False) -> Path:
    """Write one network as a self-describing safetensors file: the metadata names its builder and options.

    ``half=True`` stores floating-point tensors as float16 to halve the file; loading converts them back.
    """
    from toonbridge.imageio import write_atomic

    metadata = {"network": name, "options": json.dumps(options), "info": json.dumps(info or {})}
    tensors = {key: value.detach().contiguous().cpu() for key, value in network.state_dict().items()}
    if half:
        tensors = {key: value.half() if value.is_floating_point() else value for key, value in tensors.items()}
    write_atomic(path, lambda handle: handle.write(save(tensors, metadata=metadata)))
    return Path(path)


def load_network(path: str | Path) -> nn.Module:
    """Rebuild a network saved by :func:`save_network` (safetensors only; nothing is unpickled). Eval mode."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        network = build(metadata["network"], **json.loads(metadata["options"]))
        network.load_state_dict(load_file(str(path)))
    except (OSError, SafetensorError, KeyError, ValueError, RuntimeError) as error:
        raise ToonbridgeError(f"cannot load network weights from {path}: {error}") from None
    return network.eval()


def network_info(path: str | Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("info", "{}"))


def _load_builtin() -> None:
    # Importing a family's module registers it; done lazily so `import toonbridge` stays light.
    from toonbridge.models import attribute_classifier, cartoon_upscaler, cyclegan, face_probe, face_resnet, landmark_regressor, psp, stylegan, twingan, ugatit, whitebox  # noqa: F401
