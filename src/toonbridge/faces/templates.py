"""Canonical face templates: where the 5 alignment points sit in a style's training images.

A template is data (a JSON file of numbers in ``faces/templates/``), registered by name; a new style adds its own
JSON file or calls :func:`register_template`. ``scripts/measure_templates.py`` measured the built-in ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from toonbridge.errors import UnknownName


@dataclass(frozen=True)
class Template:
    name: str
    size: tuple[int, int]  # width, height of the aligned image
    points5: np.ndarray = field(repr=False)  # 5×2, see toonbridge.faces.landmarks for the order
    source: str = ""

    def __post_init__(self):
        points = np.asarray(self.points5, dtype=np.float64)
        if points.shape != (5, 2):
            raise ValueError(f"template {self.name!r}: expected 5×2 points, got {points.shape}")
        object.__setattr__(self, "points5", points)
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    def points_at(self, width: float, height: float | None = None) -> np.ndarray:
        """The 5 points in the pixels of an aligned image ``width`` wide (and ``height`` high; by default the
        template's aspect)."""
        scale_y = width / self.size[0] if height is None else height / self.size[1]
        return self.points5 * (width / self.size[0], scale_y)

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.points5[1] - self.points5[0]))

    @classmethod
    def from_json(cls, text: str) -> "Template":
        data = json.loads(text)
        return cls(name=data["name"], size=tuple(data["size"]), points5=np.array(data["points5"]), source=data.get("source", ""))

    def to_json(self) -> str:
        data = {
            "name": self.name,
            "size": list(self.size),
            "points5": [[round(float(x), 3), round(float(y), 3)] for x, y in self.points5],
            "source": self.source,
        }
        return json.dumps(data, indent=2) + "\n"


_registry: dict[str, Template] = {}
_builtin_loaded = False


def register_template(template: Template, *, replace: bool = False) -> None:
    _load_builtin()
    if template.name in _registry and not replace:
        raise ValueError(f"template {template.name!r} is already registered")
    _registry[template.name] = template


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    _builtin_loaded = True
    for entry in resources.files("toonbridge.faces").joinpath("templates").iterdir():
        if entry.name.endswith(".json"):
            template = Template.from_json(entry.read_text(encoding="utf-8"))
            _registry.setdefault(template.name, template)


def get_template(name: str | Template) -> Template:
    """A registered template by name, or one read from a ``.json`` file (as written by :meth:`Template.to_json`)."""
    if isinstance(name, Template):
        return name
    if str(name).endswith(".json"):
        return _read_template_file(Path(name))
    _load_builtin()
    try:
        return _registry[name]
    except KeyError:
        raise UnknownName(f"unknown template {name!r}; known: {', '.join(template_names())}") from None


def _read_template_file(path: Path) -> Template:
    try:
        return Template.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnknownName(f"template file not found: {path}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UnknownName(f"template file {path} is not a valid template ({error})") from None


def template_names() -> list[str]:
    _load_builtin()
    return sorted(_registry)
