"""A benchmark of photos as people take them, rebuilt from ``../shared/data`` by anyone, and its scoring.

Three kinds of photo, 640×480 or smaller, each face with a ground-truth box (and 68 landmarks where the source has
them):

- ``group``: a HELEN training photo as the backdrop (its annotated face stays a face to find), with 3-6 more faces
  pasted in at 25-150 px wide: CelebA crops, UTKFace chips and HELEN test faces, each cut out with a feathered
  ellipse (face, hair and some surroundings) and scaled, on places where no other face is.
- ``small``: HELEN test photos scaled down so that their face is 30-120 px wide.
- ``tight``: faces that fill the frame: UTKFace chips and CelebA crops as they are (no margin around the head).

HELEN photos may show people nobody annotated. A group backdrop is a region of a HELEN photo away from its
annotated face where dlib finds no face either (HOG on a 2× upsampled copy, the CNN at full size); on the
*small* photos, what that search finds away from the annotated face becomes an *ignore* region: a detection there
is neither a hit nor a false face (as WIDER FACE does).

The set is written once into the user cache (JPEG, quality 90, as phones write) with ``truth.json``; the images
derive from research-only data and are never committed.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from toonbridge.cache import cache_root
from toonbridge.eval.landmarks import match_faces, read_landmarks68
from toonbridge.faces.detection import Face
from toonbridge.faces.landmarks import box_from_five, inter_ocular_distance_68, normalised_mean_error
from toonbridge.imageio import load_image

SET_VERSION = 1
CANVAS = (640, 480)  # width, height of a group photo
PASTED_WIDTHS = (25.0, 150.0)  # face widths drawn log-uniformly
SMALL_WIDTHS = (30.0, 120.0)
SIZE_BUCKETS = ((0, 30), (30, 45), (45, 70), (70, 110), (110, 10_000))

# UTKFace chips are aligned: the median 68-point landmark box that dlib fits on 197 of 200 chips (padded so that
# the detector sees the whole head) is (12, 30, 186, 197) in the 200-px chip; the spread is ~18 px sideways.
UTKFACE_CHIP_BOX = (12.0, 30.0, 186.0, 197.0)

Box = tuple[float, float, float, float]


@dataclass
class TruthFace:
    box: Box  # x0, y0, x1, y1: the face's 68-point landmark box (or its estimate from 5 points or the chip)
    source: str  # "helen", "celeba", "utkface"
    landmarks68: list[list[float]] | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


@dataclass
class WildPhoto:
    file: str
    kind: str  # "group", "small" or "tight"
    faces: list[TruthFace]
    ignore: list[Box] = field(default_factory=list)


def default_folder() -> Path:
    return cache_root() / f"wild-photos-v{SET_VERSION}"


def load_wild_photos(folder: Path) -> list[WildPhoto]:
    rows = json.loads((folder / "truth.json").read_text())
    return [WildPhoto(row["file"], row["kind"], [TruthFace(tuple(f["box"]), f["source"], f["landmarks68"]) for f in row["faces"]],
                      [tuple(b) for b in row["ignore"]]) for row in rows]


# ---------------------------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class _SourceFace:
    path: Path
    box: Box
    source: str
    landmarks68: np.ndarray | None = None


def _sources(data: Path) -> dict[str, list[_SourceFace]]:
    celeba = []
    with (data / "celeba2bitmoji/photo.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            five = np.array([[float(row[f"{n}_x"]), float(row[f"{n}_y"])]
                             for n in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")])
            celeba.append(_SourceFace(data / "celeba2bitmoji" / row["file"], box_from_five(five), "celeba"))
    with (data / "utkface/labels.csv").open(newline="") as handle:
        utkface = [_SourceFace(data / "utkface" / row["file"], UTKFACE_CHIP_BOX, "utkface") for row in csv.DictReader(handle)]
    return {"celeba": celeba, "utkface": utkface, "helen_test": _helen_faces(data / "helen_test")}


def _helen_faces(root: Path) -> list[_SourceFace]:
    # Only the primary rows: the others in this copy are registration errors (benchmarks/faces_helen.py says why).
    return [_SourceFace(root / file, tuple(float(v) for v in a.box), "helen", a.landmarks68)
            for file, faces in sorted(read_landmarks68(root / "landmarks68.csv").items()) for a in faces if a.index == 0]


def _thorough_search(rgb: np.ndarray) -> list[Box]:
    """Every face dlib's HOG finds on a 2× copy and its CNN on the photo: where unannotated people are."""
    from toonbridge.faces import _dlib_models

    boxes = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in _dlib_models.hog_detector()(rgb, 1)]
    boxes += [(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1)
              for d in _dlib_models.cnn_detector()(rgb, 0)]
    return [tuple(float(v) for v in box) for box in boxes]


def _overlaps(a: Box, b: Box, margin: float = 0.0) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def _centre_inside(box: Box, region: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def _scale_box(box: Box, scale: float, dx: float = 0.0, dy: float = 0.0) -> Box:
    return (box[0] * scale + dx, box[1] * scale + dy, box[2] * scale + dx, box[3] * scale + dy)


def _ignore_regions(rgb: np.ndarray, faces: list[TruthFace]) -> list[Box]:
    return [box for box in _thorough_search(rgb) if not any(_centre_inside(box, f.box) or _centre_inside(f.box, box) for f in faces)]


def _backdrop(face: _SourceFace, rng: random.Random) -> np.ndarray | None:
    """The largest 4:3 region of a HELEN photo clear of its annotated face, scaled to the canvas: real clutter,
    hair, clothes and rooms. None when no region of at least a third of the photo's size is clear, or when the
    search finds an unannotated face in it."""
    rgb = load_image(face.path)
    height, width = rgb.shape[:2]
    full_w = min(width, height * CANVAS[0] / CANVAS[1])
    for fraction in np.linspace(1.0, 0.34, 12):
        region_w, region_h = full_w * fraction, full_w * fraction * CANVAS[1] / CANVAS[0]
        places = [(x, y) for x in np.linspace(0, width - region_w, 9) for y in np.linspace(0, height - region_h, 9)]
        rng.shuffle(places)
        for x, y in places:
            region = (x, y, x + region_w, y + region_h)
            if not _overlaps(region, face.box, margin=0.1 * (face.box[2] - face.box[0])):
                crop = np.ascontiguousarray(rgb[int(y):int(y + region_h), int(x):int(x + region_w)])
                # Clear of the annotated face; the search (the slow part) runs on this region only.
                return None if _thorough_search(crop) else cv2.resize(crop, CANVAS, interpolation=cv2.INTER_CUBIC)
    return None


def _paste(canvas: np.ndarray, face: _SourceFace, width: float, taken: list[Box], rng: random.Random) -> TruthFace | None:
    """Cut ``face`` out with a feathered ellipse, scale it to ``width`` and paste it where nothing else is."""
    rgb = load_image(face.path)
    x0, y0, x1, y1 = face.box
    scale = width / (x1 - x0)
    side = 2.0 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * (y1 - y0)  # a little above the centre: hair, not neck
    patch_side = max(8, int(round(side * scale)))
    for _ in range(60):
        px = rng.uniform(0, CANVAS[0] - patch_side)
        py = rng.uniform(0, CANVAS[1] - patch_side)
        # The source point (cx - side/2, cy - side/2) lands on (px, py).
        dx, dy = px - (cx - side / 2) * scale, py - (cy - side / 2) * scale
        box = _scale_box(face.box, scale, dx, dy)
        if not any(_overlaps(box, other, margin=0.15 * width) for other in taken):
            break
    else:
        return None
    matrix = np.array([[scale, 0, dx], [0, scale, dy]], dtype=np.float64)
    warped = cv2.warpAffine(rgb, matrix, CANVAS, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = np.zeros((CANVAS[1], CANVAS[0]), np.float32)
    centre = (int(round(px + patch_side / 2)), int(round(py + patch_side / 2)))
    cv2.ellipse(alpha, centre, (int(patch_side * 0.36), int(patch_side * 0.46)), 0, 0, 360, 1.0, -1)
    # Only what the source really shows: a tight chip ends at its border (no smeared edge pixels), feathered too.
    sigma = max(1.0, patch_side * 0.05)
    inside = cv2.warpAffine(np.ones(rgb.shape[:2], np.float32), matrix, CANVAS, flags=cv2.INTER_NEAREST)
    inside = cv2.erode(inside, np.ones((2 * int(sigma) + 1,) * 2, np.uint8))
    alpha = cv2.GaussianBlur(alpha * inside, (0, 0), sigma)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).round().astype(np.uint8)
    points = None if face.landmarks68 is None else (face.landmarks68 * scale + (dx, dy)).round(2).tolist()
    return TruthFace(box, face.source, points)


def _backdrops(helen_train: list[_SourceFace], count: int, rng: random.Random) -> Iterable[np.ndarray]:
    """``count`` face-free backdrops, made lazily (each costs a thorough search)."""
    made = 0
    for face in rng.sample(helen_train, len(helen_train)):
        if made == count:
            return
        canvas = _backdrop(face, rng)
        if canvas is not None:
            made += 1
            yield canvas


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _group_photo(canvas: np.ndarray, sources: dict[str, list[_SourceFace]], rng: random.Random) -> tuple[np.ndarray, list[TruthFace], list[Box]]:
    faces: list[TruthFace] = []
    for _ in range(rng.randint(3, 6)):
        kind = rng.choice(("celeba", "utkface", "helen_test"))
        pasted = _paste(canvas, rng.choice(sources[kind]), _log_uniform(rng, *PASTED_WIDTHS), [f.box for f in faces], rng)
        if pasted is not None:
            faces.append(pasted)
    return canvas, faces, []


def _small_photo(face: _SourceFace, rng: random.Random) -> tuple[np.ndarray, list[TruthFace], list[Box]]:
    rgb = load_image(face.path)
    scale = min(1.0, _log_uniform(rng, *SMALL_WIDTHS) / (face.box[2] - face.box[0]))
    ignore = [_scale_box(b, scale) for b in _ignore_regions(rgb, [TruthFace(face.box, "helen")])]
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    points = (face.landmarks68 * scale).round(2).tolist()
    return small, [TruthFace(_scale_box(face.box, scale), "helen", points)], ignore


def _tight_photo(face: _SourceFace) -> tuple[np.ndarray, list[TruthFace], list[Box]]:
    return load_image(face.path), [TruthFace(face.box, face.source)], []


def build_wild_photos(data: Path, folder: Path | None = None, *, groups: int = 100, small: int = 100, tight: int = 100,
                      seed: int = 0, progress: Callable[[Iterable, int, str], Iterable] | None = None) -> list[WildPhoto]:
    """Build the set once into ``folder`` (default: the user cache) and return it; an existing complete set is
    read back. Deterministic for a given ``seed`` and data."""
    folder = folder or default_folder()
    settings = {"version": SET_VERSION, "groups": groups, "small": small, "tight": tight, "seed": seed}
    truth_file = folder / "truth.json"
    if truth_file.exists() and json.loads((folder / "settings.json").read_text()) == settings:
        return load_wild_photos(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sources = _sources(data)
    helen_train = _helen_faces(data / "helen")
    jobs: list[tuple[str, Callable[[], tuple]]] = []
    backdrops = _backdrops(helen_train, groups, random.Random(rng.random()))  # made in order, as the jobs run
    for i in range(groups):
        jobs.append((f"group-{i:03d}", lambda r=random.Random(rng.random()): _group_photo(next(backdrops), sources, r)))
    for i, face in enumerate(rng.sample(sources["helen_test"], small)):
        jobs.append((f"small-{i:03d}", lambda f=face, r=random.Random(rng.random()): _small_photo(f, r)))
    chips = rng.sample(sources["utkface"], tight // 2) + rng.sample(sources["celeba"], tight - tight // 2)
    for i, face in enumerate(chips):
        jobs.append((f"tight-{i:03d}", lambda f=face: _tight_photo(f)))
    photos = []
    steps = progress(jobs, len(jobs), "building the in-the-wild set") if progress else jobs
    for name, make in steps:
        rgb, faces, ignore = make()
        file = f"images/{name}.jpg"
        cv2.imwrite(str(folder / file), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        photos.append(WildPhoto(file, name.split("-")[0], faces, ignore))
    (folder / "settings.json").write_text(json.dumps(settings))
    temporary = truth_file.with_suffix(".tmp")
    temporary.write_text(json.dumps([asdict(p) for p in photos]))
    temporary.replace(truth_file)  # written last: a set without truth.json is rebuilt
    return photos


# ----------------------------------------------------------------------------------------------------------- scoring


@dataclass
class WildScore:
    """Hits by face width, 68-point NME of the hits that have them, false faces and time per photo."""

    truth_widths: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    nmes: list[float] = field(default_factory=list)
    false_faces: dict[str, int] = field(default_factory=dict)
    photos: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def recall(self, min_width: float = 30.0, max_width: float = math.inf, kind: str | None = None) -> float:
        chosen = [hit for hit, w, k in zip(self.hits, self.truth_widths, self.kinds)
                  if min_width <= w < max_width and (kind is None or k == kind)]
        return float(np.mean(chosen)) if chosen else float("nan")

    def count(self, min_width: float = 30.0, max_width: float = math.inf, kind: str | None = None) -> int:
        return sum(1 for w, k in zip(self.truth_widths, self.kinds) if min_width <= w < max_width and (kind is None or k == kind))

    def false_per_photo(self, kind: str | None = None) -> float:
        kinds = [kind] if kind else list(self.photos)
        return sum(self.false_faces.get(k, 0) for k in kinds) / max(1, sum(self.photos.get(k, 0) for k in kinds))

    def times(self, kind: str | None = None) -> np.ndarray:
        kinds = [kind] if kind else list(self.seconds)
        return np.array([t for k in kinds for t in self.seconds.get(k, [])])

    def add(self, photo: WildPhoto, found: Sequence[Face], seconds: float) -> None:
        matched = match_faces(photo.faces, list(found))
        for i, truth in enumerate(photo.faces):
            self.truth_widths.append(truth.width)
            self.kinds.append(photo.kind)
            self.hits.append(i in matched)
            if i in matched and truth.landmarks68 is not None:
                points = np.array(truth.landmarks68)
                self.nmes.append(normalised_mean_error(matched[i].landmarks68, points, inter_ocular_distance_68(points)))
        used = {id(face) for face in matched.values()}
        extra = [f for f in found if id(f) not in used and not any(_centre_inside(f.box, region) for region in photo.ignore)]
        self.false_faces[photo.kind] = self.false_faces.get(photo.kind, 0) + len(extra)
        self.photos[photo.kind] = self.photos.get(photo.kind, 0) + 1
        self.seconds.setdefault(photo.kind, []).append(seconds)


def score_detector(detector: Callable[[np.ndarray], Sequence[Face]], photos: Sequence[WildPhoto], folder: Path,
                   progress: Callable[[Iterable, int, str], Iterable] | None = None, label: str = "") -> WildScore:
    score = WildScore()
    steps = progress(photos, len(photos), f"detecting ({label})") if progress else photos
    for photo in steps:
        rgb = load_image(folder / photo.file)
        start = time.perf_counter()
        found = detector(rgb)
        score.add(photo, found, time.perf_counter() - start)
    return score
