"""Shipped styles: a folder with ``style.json`` and the networks it names (self-describing safetensors).

Built-in styles live in ``toonbridge/weights/<name>/``. A user's own style is any folder with the same layout,
passed by path wherever a style name is accepted.

``style.json``::

    {"name": "bitmoji", "description": "...", "template": "bitmoji", "cartoon_template": "bitmoji-cartoon", "size": 128,
     "networks": {"to_cartoon": "to_cartoon.safetensors", "to_photo": "to_photo.safetensors",
                  "landmarks_photo": "landmarks_photo.safetensors", "landmarks_cartoon": "landmarks_cartoon.safetensors"},
     "evaluation": {"photos": "celeba2bitmoji/photo", "cartoons": "celeba2bitmoji/cartoon", "groups": "utkface",
                    "attribute": "gender", "classifier_photo": "../classifiers/gender_photo.safetensors",
                    "classifier_cartoon": "../classifiers/gender_cartoon.safetensors"}}

``groups`` (optional) makes a multi-branch style (few-shot group transfer): its generators are
``branched_resnet_generator`` networks with one branch per group, and each face is routed to a branch by the
first rule whose classifier (a network of the style) picks that class, else the default group::

    "groups": {"names": ["women", "men", "elderly"], "default": "women",
               "route": {"cartoonize": [{"network": "elderly_photo", "class": "elderly", "group": "elderly"},
                                        {"network": "gender_photo", "class": "male", "group": "men"}],
                         "realize": [{"network": "gender_cartoon", "class": "male", "group": "men"}]}}

``"light_background": true`` (optional) says the cartoons sit on a light plain backdrop: ``cartoonize`` keys it
out when pasting faces back, so the photo's own background shows around the cartoon head.

``"whole_photo": true`` (optional) says the cartoonize network is fully convolutional: ``cartoonize_whole`` runs it
on an entire photo (tiled), not only on the aligned faces.

``"padding"`` (optional; default ``"blur"``) fills the part of an aligned crop that lies past the photo's edge (a
face that fills the frame): ``"white"`` for styles trained on white-backdrop portraits; ``"portrait"`` with the
average training portrait of the face's gender (:mod:`toonbridge.faces.portraits`), judged by the style's
``portrait_gender`` network, so that a style that draws whole heads is shown one. With ``"portrait_hair": true``
the portrait's hair is moved to the colour the crop shows above the brows (``bitmoji``; ``bitmoji-groups`` kept
fewer women as women with it, docs/models.md).

``"backdrop": "white"`` (optional; default ``"photo"``: left as it is) keys the photo's background to white in each
aligned crop before it is translated (:mod:`toonbridge.faces.backdrop`), for styles trained on portraits cut out
onto white.

``"sunglasses": true`` (optional; needs ``"padding": "portrait"``) finds dark sunglasses on each aligned crop, shows
the generator the portrait's eyes there instead, and draws cartoon sunglasses on its cartoon
(:mod:`toonbridge.faces.sunglasses`; ``Style.sunglasses`` says "draw", "hide" or "keep").

``views`` (optional) names, per role, the direction of a network that serves several (TwinGAN: one file for every
domain): ``"views": {"to_cartoon": {"source": "photo", "target": "bitmoji"}, "to_photo": {"source": "bitmoji",
"target": "photo"}}``; the network's ``view(source, target, hair)`` gives the one-direction network. Such a style
can be asked for a hair colour (``toonbridge.load(name, hair="blond")``).

``evaluation`` (optional) says what ``toonbridge eval report`` measures the style on: its two domains' validation
splits, the group data, and the attribute classifiers (paths relative to the style folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from toonbridge.errors import ToonbridgeError, UnknownName

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class StyleInfo:
    name: str
    folder: Path
    template: str  # how photos are aligned for the model
    size: int
    description: str = ""
    title: str = ""  # what users see in menus, in their words (the description is for researchers)
    cartoon_template: str | None = None  # how cartoons sit in their crops, if not like the photos
    networks: dict[str, str] = field(default_factory=dict)
    evaluation: dict[str, str] = field(default_factory=dict)  # its data and judges (see toonbridge.eval.style_eval)
    groups: dict = field(default_factory=dict)  # names, default, route (see the module docstring)
    # The cartoons sit on a light plain backdrop (Bitmoji): cartoonize keys it out when pasting into the photo.
    light_background: bool = False
    # The realize network reads faces framed like photos (pSp inverts a cartoon as if it were one): aligned cartoons
    # are moved from the cartoon template's framing to the photo template's first, and the result back.
    reframe_cartoons: bool = False
    # The cartoonize network is fully convolutional (whitebox styles): it can also run on a whole photo at once.
    whole_photo: bool = False
    views: dict[str, dict] = field(default_factory=dict)  # role -> {source, target} of a many-domain network
    # How a photo is padded where its aligned crop reaches past the photo's edge (faces that fill the frame):
    # "blur" (faces.align.align_face), "white", or "portrait": the average training portrait of the face's gender
    # (faces.portraits; the gender from the style's "portrait_gender" network) for styles that draw whole heads.
    padding: str = "blur"
    # With padding "portrait": the portrait's hair in the colour the crop shows above the brows (faces.portraits).
    portrait_hair: bool = False
    # The photo's background inside an aligned crop: "photo" (as it is) or "white" (keyed out, faces.backdrop) for
    # styles that learned from portraits cut out onto white.
    backdrop: str = "photo"
    # With padding "portrait": dark sunglasses are hidden behind the portrait's eyes and drawn on the cartoon
    # (faces.sunglasses), for generators that never saw any.
    sunglasses: bool = False

    @property
    def group_names(self) -> list[str]:
        return list(self.groups.get("names", []))

    def network_path(self, role: str) -> Path | None:
        return self.folder / self.networks[role] if role in self.networks else None

    @property
    def directions(self) -> list[str]:
        return [name for role, name in (("to_cartoon", "cartoonize"), ("to_photo", "realize")) if role in self.networks]


def read_style(folder: str | Path) -> StyleInfo:
    folder = Path(folder)
    try:
        raw = json.loads((folder / "style.json").read_text())
        info = StyleInfo(name=raw["name"], folder=folder, template=raw["template"], size=int(raw["size"]),
                         description=raw.get("description", ""), title=raw.get("title", raw["name"]),
                         networks=dict(raw["networks"]),
                         cartoon_template=raw.get("cartoon_template"), evaluation=dict(raw.get("evaluation", {})),
                         groups=dict(raw.get("groups", {})), light_background=bool(raw.get("light_background", False)),
                         reframe_cartoons=bool(raw.get("reframe_cartoons", False)),
                         whole_photo=bool(raw.get("whole_photo", False)), views=dict(raw.get("views", {})),
                         padding=raw.get("padding", "blur"), portrait_hair=bool(raw.get("portrait_hair", False)),
                         backdrop=raw.get("backdrop", "photo"), sunglasses=bool(raw.get("sunglasses", False)))
        if info.padding not in ("blur", "white", "portrait"):
            raise ValueError(f"padding must be blur, white or portrait, not {info.padding!r}")
        if info.padding == "portrait" and "portrait_gender" not in info.networks:
            raise ValueError("padding portrait needs a portrait_gender network (a photo gender classifier)")
        for needs_portraits in ("portrait_hair", "sunglasses"):
            if getattr(info, needs_portraits) and info.padding != "portrait":
                raise ValueError(f"{needs_portraits} needs padding portrait, not {info.padding}")
        if info.backdrop not in ("photo", "white"):
            raise ValueError(f"backdrop must be photo or white, not {info.backdrop!r}")
        _check_groups(info)
        _check_views(info)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ToonbridgeError(f"{folder} is not a style folder (style.json: {error})") from None
    missing = [file for file in info.networks.values() if not (folder / file).is_file()]
    if missing:
        raise ToonbridgeError(f"style {info.name!r} is incomplete: missing {', '.join(missing)} in {folder}")
    return info


def _check_views(info: StyleInfo) -> None:
    for role, view in info.views.items():
        if role not in info.networks or not isinstance(view, dict) or set(view) != {"source", "target"}:
            raise ValueError(f"bad view {role}: {view} (a network role with source and target)")


def _check_groups(info: StyleInfo) -> None:
    if not info.groups:
        return
    names = info.group_names
    if not names or info.groups.get("default") not in names:
        raise ValueError("groups needs names and a default among them")
    for rules in info.groups.get("route", {}).values():
        for rule in rules:
            if rule["group"] not in names or rule["network"] not in info.networks or "class" not in rule:
                raise ValueError(f"bad route rule {rule}")


DEFAULT_STYLE = "bitmoji"


def builtin_styles() -> list[StyleInfo]:
    if not WEIGHTS_DIR.is_dir():
        return []
    return [read_style(folder) for folder in sorted(WEIGHTS_DIR.iterdir()) if (folder / "style.json").is_file()]


def shipped_styles() -> list[StyleInfo]:
    """The shipped styles, the default one first (so that lists such as the web page's start with it)."""
    return sorted(builtin_styles(), key=lambda info: info.name != DEFAULT_STYLE)


def find_style(name_or_path: str | Path) -> StyleInfo:
    """A built-in style by name, or a style folder by path."""
    path = Path(name_or_path)
    if (path / "style.json").is_file():
        return read_style(path)
    for info in builtin_styles():
        if info.name == str(name_or_path):
            return info
    known = ", ".join(info.name for info in builtin_styles()) or "none installed"
    raise UnknownName(f"unknown style {str(name_or_path)!r}; known: {known} (or give a style folder)")
