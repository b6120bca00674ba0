import csv

import numpy as np
import pytest
import torch
from PIL import Image

from toonbridge.data import (
    AugmentConfig,
    DomainImages,
    UnpairedDataset,
    augment,
    load_domain,
    read_manifest,
    split_fraction,
    tensor_to_image,
    image_to_tensor,
)
from toonbridge.data.manifest import write_manifest
from toonbridge.errors import DatasetError, UnknownName
from toonbridge.faces.landmarks import FIVE_POINT_COLUMNS, FLIP_PERMUTATION_5

POINTS = np.array([[20, 24], [44, 24], [32, 36], [24, 46], [40, 46]], float)


def dotted_image(points: np.ndarray, size: int = 64) -> np.ndarray:
    """Grey image with a distinct bright colour at each landmark (3×3 dots), so pixels can be traced."""
    image = np.full((size, size, 3), 60, np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for (x, y), colour in zip(np.round(points).astype(int), colours):
        image[y - 1 : y + 2, x - 1 : x + 2] = colour
    return image


@pytest.fixture()
def manifest_dir(tmp_path):
    rows = []
    for i in range(40):
        Image.fromarray(dotted_image(POINTS)).save(tmp_path / f"img{i:02d}.png")
        rows.append({"file": f"img{i:02d}.png", "gender": "male" if i % 2 else "female", "group": ["kid", "elderly"][i % 4 == 0],
                     **{c: v for c, v in zip(FIVE_POINT_COLUMNS, POINTS.ravel())}})
    with (tmp_path / "faces.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_manifest_reads_labels_and_landmarks(manifest_dir):
    samples = read_manifest(manifest_dir / "faces.csv")
    assert len(samples) == 40
    assert samples[1].labels == {"gender": "male", "group": "kid"}
    assert np.allclose(samples[0].landmarks5, POINTS)
    assert samples[0].path == manifest_dir / "img00.png"


def test_manifest_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("name,gender\na.png,male\n")
    with pytest.raises(DatasetError, match="no 'file' column"):
        read_manifest(tmp_path / "bad.csv")
    with pytest.raises(DatasetError, match="manifest not found"):
        read_manifest(tmp_path / "missing.csv")


def test_manifest_roundtrip(manifest_dir, tmp_path):
    samples = read_manifest(manifest_dir / "faces.csv")
    write_manifest(tmp_path / "copy.csv", samples, ["gender", "group"])
    again = read_manifest(tmp_path / "copy.csv", root=manifest_dir)
    assert [s.labels for s in again] == [s.labels for s in samples]
    assert np.allclose(again[3].landmarks5, samples[3].landmarks5)


def test_filters(manifest_dir):
    domain = load_domain(manifest_dir / "faces.csv")
    assert len(domain.where("gender=male")) == 20
    assert len(domain.where(group="elderly")) == 10
    assert len(domain.where("gender=male,female", "group=kid")) == 30
    with pytest.raises(DatasetError, match="no label 'age'"):
        domain.where("age=3")
    with pytest.raises(DatasetError, match="expected key=value"):
        domain.where("gender")


def test_split_is_deterministic_disjoint_and_complete(manifest_dir):
    domain = load_domain(manifest_dir / "faces.csv")
    train, val = domain.split("train", 0.25), domain.split("val", 0.25)
    assert {s.name for s in train}.isdisjoint({s.name for s in val})
    assert len(train) + len(val) == 40 and 3 <= len(val) <= 18
    assert [s.name for s in val] == [s.name for s in load_domain(manifest_dir / "faces.csv").split("val", 0.25)]
    # The split hashes the file name only, so moving the folder or adding files keeps every assignment.
    assert split_fraction("photo/00001.webp") == split_fraction("elsewhere/00001.webp")
    with pytest.raises(DatasetError, match="unknown split"):
        domain.split("test")


def test_folder_domain_and_unknown_names(manifest_dir, tmp_path):
    domain = load_domain(manifest_dir)
    assert len(domain) == 40 and domain[0].landmarks5 is None
    with pytest.raises(UnknownName, match="not a registered name"):
        load_domain("no/such/domain")
    with pytest.raises(UnknownName, match="two domains"):
        load_domain("celeba2bitmoji")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_domain(tmp_path / "empty")


def brightest_points(image: np.ndarray) -> np.ndarray:
    """Centre of each coloured dot, found again from the pixels."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    found = []
    for colour in colours:
        distance = np.abs(image.astype(int) - colour).sum(axis=2)
        ys, xs = np.nonzero(distance < 140)
        weights = 1.0 / (1.0 + distance[ys, xs])
        found.append([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    return np.array(found)


@pytest.mark.parametrize("flip", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_augmented_landmarks_follow_the_pixels(seed, flip):
    image = dotted_image(POINTS)
    config = AugmentConfig(flip_probability=flip, max_scale=0.1, max_rotation_degrees=10, max_shift=0.05)
    out, points = augment(image, POINTS, 96, config, np.random.default_rng(seed))
    assert out.shape == (96, 96, 3)
    traced = brightest_points(out)
    if flip:  # the dot drawn at the left eye is now the right eye, and so on
        traced = traced[FLIP_PERMUTATION_5]
    assert np.abs(traced - points).max() < 1.5


def test_flip_swaps_left_and_right():
    config = AugmentConfig(flip_probability=1.0, max_scale=0, max_rotation_degrees=0, max_shift=0)
    _, points = augment(dotted_image(POINTS), POINTS, 64, config, np.random.default_rng(0))
    assert points[0, 0] < points[1, 0]  # "left eye" is still the one on the image's left
    assert np.allclose(points[0], [63 - 44, 24]) and np.allclose(points[3], [63 - 40, 46])


def test_tensor_conversion_roundtrip():
    image = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    tensor = image_to_tensor(image)
    assert tensor.shape == (3, 8, 6) and tensor.min() >= -1 and tensor.max() <= 1
    assert np.array_equal(tensor_to_image(tensor), image)


def test_unpaired_dataset_is_reproducible_per_epoch(manifest_dir):
    domain = load_domain(manifest_dir / "faces.csv")
    config = AugmentConfig()
    dataset = UnpairedDataset(DomainImages(domain.where("gender=male"), 64, config, seed=1),
                              DomainImages(domain.where("gender=female"), 64, config, seed=2))
    first = dataset[3]
    assert first["a"]["image"].shape == (3, 64, 64) and first["a"]["has_landmarks"]
    assert torch.equal(first["a"]["image"], dataset[3]["a"]["image"]) and first["b"]["name"] == dataset[3]["b"]["name"]
    dataset.set_epoch(1)
    names = [dataset[i]["b"]["name"] for i in range(20)]
    dataset.set_epoch(0)
    assert names != [dataset[i]["b"]["name"] for i in range(20)]
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert batch["a"]["image"].shape == (2, 3, 64, 64) and batch["b"]["landmarks"].shape == (2, 5, 2)


def test_folder_domain_without_landmarks_gives_nan(manifest_dir):
    item = DomainImages(load_domain(manifest_dir), 32)[0]
    assert not item["has_landmarks"] and torch.isnan(item["landmarks"]).all()
