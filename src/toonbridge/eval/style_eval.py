"""Evaluate a style the one way every shipped model is judged: both directions on its validation data, then groups.

For each direction the style has (cartoonize: photos → cartoons; realize: cartoons → photos) the first ``limit``
validation inputs (sorted by file name) are translated and translated back, and we measure

- **KID×100** of the outputs against the target domain's first ``reference`` validation images, both at the
  model's resolution;
- **landmark NME** per face: the input's 5 points (ground truth where the data has them, else the source regressor's),
  carried into the target domain's frame by the similarity between the style's two templates (Bitmoji faces sit
  lower in their crops than photos), against the target regressor's points on the output;
- **attribute kept** (gender): the input's label (else the source classifier's answer) against the target
  classifier's answer on the output; for a cartoon domain without labels (anime) there is no target classifier,
  and ``"attribute_judge": "round_trip"`` asks the source classifier about the round trip instead (a proxy: it
  says whether the attribute survives the cycle, which a generator can also carry in hidden detail);
- **identity** (cartoonize only, first ``identity`` photos): dlib distance between each photo and its round trip.

Groups: the style's group data (UTKFace: kid … elderly × gender), aligned to the style's template and cached, is
cartoonized per group with the same measures, so weaknesses on men, kids or the elderly show up in one table.
Where the style names its data is ``style.json``'s ``evaluation`` section (see :mod:`toonbridge.style_files`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from toonbridge.data import Domain, image_to_tensor, load_domain, load_split, split_fraction
from toonbridge.errors import ToonbridgeError
from toonbridge.eval.attributes import classify
from toonbridge.eval.distribution import kid
from toonbridge.eval.identity import identity_distances, summarise_identity
from toonbridge.eval.inception import cached_path_features, features
from toonbridge.faces.align import similarity_transform
from toonbridge.imageio import load_image, resize_image
from toonbridge.losses import normalised_mean_error
from toonbridge.models import load_network, network_info

GROUP_ORDER = ["kid", "teen", "young", "middle", "elderly"]
OPPOSITE = {"cartoonize": "realize", "realize": "cartoonize"}
SIDES = {"cartoonize": ("photo", "cartoon"), "realize": ("cartoon", "photo")}  # source, target


@dataclass(frozen=True)
class EvalOptions:
    limit: int = 400  # validation inputs per direction
    reference: int = 500  # target-domain validation images KID compares with
    identity: int = 100  # photo round trips measured with dlib (0: skip)
    group_limit: int = 100  # faces per group (0: skip the groups)

    def __post_init__(self):
        for name in ("limit", "reference"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be at least 2")
        if self.identity < 0 or self.group_limit < 0:
            raise ValueError("identity and group_limit cannot be negative")


@dataclass
class FaceRecord:
    name: str
    nme: float | None = None
    class_in: str | None = None
    class_out: str | None = None
    identity: float | None = None  # round-trip embedding distance


@dataclass
class SetResult:
    """One set of inputs translated one way: its summary, per-face records and the images (not serialised)."""

    label: str
    kid: float
    kid_std: float
    n_inputs: int
    n_reference: int
    nme: float | None
    attribute_kept: float | None
    identity_same: float | None  # share of round trips under dlib's 0.6 (faces found on both sides)
    identity_found: float | None
    faces: list[FaceRecord] = field(default_factory=list)
    images: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("faces", "images")}


@dataclass
class StyleEvaluation:
    style: str
    model: dict  # step and training time of the cartoonize generator, as stored in its weights
    options: dict
    attribute: str | None
    directions: dict[str, SetResult]
    groups: list[SetResult]

    def to_dict(self) -> dict:
        return {
            "style": self.style, "model": self.model, "options": self.options, "attribute": self.attribute,
            "directions": {name: result.summary() for name, result in self.directions.items()},
            "groups": [group.summary() for group in self.groups],
            "faces": {name: [asdict(face) for face in result.faces] for name, result in self.directions.items()},
        }


class _Judges:
    """The style's regressors and classifiers and the frame change between its two templates."""

    def __init__(self, style, evaluation: dict):
        self.style = style
        size = style.info.size
        photo = style.template.points_at(size)
        cartoon = style.cartoon_template.points_at(size)
        self.frames = {"cartoonize": similarity_transform(photo, cartoon), "realize": similarity_transform(cartoon, photo)}
        self.attribute = evaluation.get("attribute")
        self.classifiers = {side: _optional_network(style.info.folder, evaluation.get(f"classifier_{side}")) for side in ("photo", "cartoon")}
        self.round_trip = evaluation.get("attribute_judge") == "round_trip"

    @property
    def attribute_label(self) -> str | None:
        return f"{self.attribute} (round trip)" if self.attribute and self.round_trip else self.attribute

    def regressor(self, side: str):
        role = f"landmarks_{side}"
        return self.style.network(role) if self.style.info.network_path(role) is not None else None


def evaluate_style(style, options: EvalOptions = EvalOptions(), progress: Callable[[str], None] = lambda _: None
                   ) -> StyleEvaluation:
    """``style``: a loaded :class:`toonbridge.api.Style` whose ``style.json`` has an ``evaluation`` section."""
    evaluation = style.info.evaluation
    if not evaluation or not {"photos", "cartoons"} <= evaluation.keys():
        raise ToonbridgeError(f"style {style.name!r} names no evaluation data (style.json: evaluation.photos/cartoons)")
    if len(style.info.directions) < 2:  # every figure below leans on the round trip
        raise ToonbridgeError(f"style {style.name!r} translates one way only ({', '.join(style.info.directions)}); "
                              "measure it with its own script (scripts/evaluate_psp.py for the psp styles)")
    judges = _Judges(style, evaluation)
    data = {"photo": load_split(evaluation["photos"], "val"), "cartoon": load_split(evaluation["cartoons"], "val")}
    directions = {}
    for direction in style.info.directions:
        source_side, target_side = SIDES[direction]
        progress(f"{direction}: {data[source_side].name} → {data[target_side].name}")
        inputs = data[source_side].samples[:options.limit]
        reference = [sample.path for sample in data[target_side].samples[:options.reference]]
        identity = options.identity if direction == "cartoonize" else 0
        directions[direction] = _evaluate_set(direction, direction, inputs, reference, judges, identity)
    groups = []
    if options.group_limit and evaluation.get("groups") and "cartoonize" in directions:
        reference = [sample.path for sample in data["cartoon"].samples[:options.reference]]
        for label, samples in _group_samples(evaluation["groups"], style.info.template, options.group_limit, progress):
            progress(f"group {label}: {len(samples)} faces")
            groups.append(_evaluate_set(label, "cartoonize", samples, reference, judges, len(samples)))
    model = _model_info(style)
    return StyleEvaluation(style.name, model, asdict(options), judges.attribute_label, directions, groups)


@torch.no_grad()
def _evaluate_set(label: str, direction: str, samples, reference: list[Path], judges: _Judges, identity: int) -> SetResult:
    if len(samples) < 2:
        raise ToonbridgeError(f"{label}: need at least 2 input faces, found {len(samples)}")
    style, size = judges.style, judges.style.info.size
    source_side, target_side = SIDES[direction]
    originals = [load_image(sample.path) for sample in samples]
    scales = [size / image.shape[1] for image in originals]  # manifest landmarks are in the stored image's pixels
    inputs = [resize_image(image, size) for image in originals]
    outputs = style.translate_aligned(inputs, direction)
    backs = style.translate_aligned(outputs, OPPOSITE[direction])
    # References at the model's resolution, like the outputs: a 128-px model is not judged on missing detail
    # that its 256-px references have (a no-op for bitmoji, whose data is 128 px).
    distance = kid(features(outputs), cached_path_features(reference, resize_to=size))
    faces = [FaceRecord(Path(sample.name).name) for sample in samples]

    nme = _landmark_errors(samples, scales, inputs, outputs, judges, direction)
    for face, value in zip(faces, nme):
        face.nme = value
    kept = None
    judge, judged = judges.classifiers[target_side], outputs
    if judge is None and judges.round_trip:
        judge, judged = judges.classifiers[source_side], backs
    if judges.attribute and judge is not None:
        classes_in = _input_classes(samples, inputs, judges, source_side)
        classes_out = classify(judge, judged)
        for face, a, b in zip(faces, classes_in, classes_out):
            face.class_in, face.class_out = a, b
        known = [a == b for a, b in zip(classes_in, classes_out) if a is not None]
        kept = float(np.mean(known)) if known else None
    same = found = None
    if identity:
        distances = identity_distances(inputs[:identity], backs[:identity])
        for face, value in zip(faces, distances):
            face.identity = value
        summary = summarise_identity(distances)
        same, found = summary.same_person_share, summary.found_share
    valid = [v for v in nme if v is not None]
    return SetResult(label, distance.mean, distance.std, len(outputs), distance.n_b,
                     float(np.mean(valid)) if valid else None, kept, same, found, faces,
                     {"input": inputs, "output": outputs, "round_trip": backs})


def _landmark_errors(samples, scales, inputs, outputs, judges: _Judges, direction: str) -> list[float | None]:
    source_side, target_side = SIDES[direction]
    target_regressor = judges.regressor(target_side)
    if target_regressor is None:
        return [None] * len(samples)
    expected = []
    source_regressor = judges.regressor(source_side)
    # The source regressor stands in only where the data has no landmarks (UTKFace has them from alignment).
    needs_prediction = source_regressor is not None and any(sample.landmarks5 is None for sample in samples)
    predicted = _points(source_regressor, inputs) if needs_prediction else None
    for index, (sample, scale) in enumerate(zip(samples, scales)):
        if sample.landmarks5 is not None:
            expected.append((np.asarray(sample.landmarks5, float) + 0.5) * scale - 0.5)  # pixel centres
        elif predicted is not None:
            expected.append(predicted[index])
        else:
            expected.append(np.full((5, 2), np.nan))
    frame = judges.frames[direction]
    expected = np.stack(expected) @ frame[:, :2].T + frame[:, 2]
    found = _points(target_regressor, outputs)
    errors = normalised_mean_error(torch.as_tensor(found), torch.as_tensor(expected)).double().numpy()
    return [None if np.isnan(value) else float(value) for value in errors]


def _points(regressor, images: list[np.ndarray]) -> np.ndarray:
    device = next(regressor.parameters()).device
    return torch.cat([regressor.points(torch.stack([image_to_tensor(i) for i in images[s:s + 64]]).to(device)).cpu()
                      for s in range(0, len(images), 64)]).double().numpy()


def _input_classes(samples, inputs, judges: _Judges, side: str) -> list[str | None]:
    labels = [sample.labels.get(judges.attribute) for sample in samples]
    if all(label is not None for label in labels) or judges.classifiers[side] is None:
        return labels
    guessed = classify(judges.classifiers[side], inputs)
    return [label if label is not None else guess for label, guess in zip(labels, guessed)]


def _group_samples(spec: str, template: str, per_group: int, progress) -> list[tuple[str, list]]:
    """Up to ``per_group`` faces of each age group × gender (a stable pseudo-random pick), aligned to ``template``."""
    from toonbridge.data.aligned import aligned_domain

    domain = load_domain(spec)
    if not {"group", "gender"} <= domain.label_names:
        raise ToonbridgeError(f"{spec}: group data needs 'group' and 'gender' labels")
    groups = [g for g in GROUP_ORDER if g in {s.labels["group"] for s in domain}]
    picked = []
    for group in groups:
        for gender in ("female", "male"):
            members = sorted(domain.where(group=group, gender=gender).samples, key=lambda s: split_fraction(s.name))
            picked += members[:per_group]
    progress(f"aligning {len(picked)} group faces to '{template}' (cached)")
    aligned = aligned_domain(Domain(picked, domain.name), template)
    result = []
    for group in groups:
        for gender in ("female", "male"):
            members = [s for s in aligned.samples if s.labels["group"] == group and s.labels["gender"] == gender]
            if len(members) >= 2:
                result.append((f"{group} {gender}", members))
    return result


def _optional_network(folder: Path, relative: str | None):
    if not relative:
        return None
    path = folder / relative
    return load_network(path) if path.is_file() else None


def _model_info(style) -> dict:
    role = "to_cartoon" if "cartoonize" in style.info.directions else "to_photo"
    info = network_info(style.info.network_path(role))
    return {"step": info.get("step"), "wall_minutes": round(info.get("wall_seconds", 0) / 60, 1), "method": info.get("method")}
