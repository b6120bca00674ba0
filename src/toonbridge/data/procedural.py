"""Procedural cartoon faces: DiceBear avatars rendered offline, as a domain like any other (``dicebear/avataaars``).

DiceBear (``dicebear-core`` + ``dicebear-styles``, vector avatars; rendered with ``resvg-py``) draws every avatar
of a style on one face geometry, so the faces need no detector: each style has a measured template
(``faces/templates/dicebear-<style>.json``) and is aligned by reframing (:mod:`toonbridge.data.aligned`). The
avatar's choices (skin, hair, clothes, ...) become the sample's labels. Avatars ``0 .. count-1`` are the seeds
``"<seed>-<i>"``, rendered once into the user cache; the split is by file name, as for every domain.
"""

from __future__ import annotations

import json
from importlib import resources

from toonbridge.cache import cache_root
from toonbridge.data.domains import Domain
from toonbridge.data.manifest import Sample, read_manifest, write_manifest
from toonbridge.errors import DatasetError

DEFAULT_COUNT = 3000
SIZE = 256
# Light plain backdrops, as Bitmoji's: the style's cartoons then key out like the bitmoji style's (light_background).
BACKDROPS = ["#f2f2f2", "#e8eef6", "#f6ece4", "#eaf4ea", "#f4eaf2", "#fdf6e3"]
# Labels kept from the avatar's resolved options (style-specific names; missing ones are left out).
LABEL_OPTIONS = ("skinColor", "hairColor", "topVariant", "facialHairVariant", "accessoriesVariant", "clothesVariant")


def dicebear_domain(style: str, count: int = DEFAULT_COUNT, seed: str = "toonbridge") -> Domain:
    """``count`` avatars of a DiceBear style, rendered on first use into ``<cache>/dicebear/<style>-<count>/``."""
    folder = cache_root() / "dicebear" / f"{style}-{count}"
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        _render(style, count, seed, folder)
    return Domain(read_manifest(manifest), f"dicebear/{style}", SIZE, f"dicebear-{style}")


def _render(style_name: str, count: int, seed: str, folder) -> None:
    try:
        import resvg_py
        from dicebear import Avatar, Style
    except ImportError:
        raise DatasetError("rendering DiceBear avatars needs dicebear-core, dicebear-styles and resvg-py: "
                           "pip install -e '.[train]'") from None
    try:
        definition = json.loads(resources.files("dicebear_styles").joinpath(f"{style_name}.json").read_text())
    except (FileNotFoundError, ModuleNotFoundError):
        raise DatasetError(f"no DiceBear style {style_name!r} (see the dicebear-styles package)") from None
    from rich.progress import track

    from toonbridge.imageio import load_image, save_image

    style = Style(definition)
    samples = []
    for index in track(range(count), description=f"rendering {count} {style_name} avatars"):
        avatar = Avatar(style, {"seed": f"{seed}-{index}", "size": SIZE, "backgroundColor": BACKDROPS})
        name = f"{style_name}-{index:05d}.png"
        if not (folder / name).is_file():
            png = bytes(resvg_py.svg_to_bytes(svg_string=avatar.to_string()))
            save_image(load_image(png), folder / name)
        options = avatar.to_json()["options"]
        labels = {key: _label(options[key]) for key in LABEL_OPTIONS if key in options}
        samples.append(Sample(folder / name, name, labels))
    write_manifest(folder / "manifest.csv", samples, sorted({key for s in samples for key in s.labels}))


def _label(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
