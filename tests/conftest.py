from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TOONBRIDGE_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "src" / "toonbridge" / "assets" / "astronaut.jpg"
HOSTILE = REPO / "tests" / "hostile" / "files"


# The Bitmoji template's 5 points, scaled to 32 px: where the synthetic domains' faces are said to be.
SYNTHETIC_POINTS = np.array([[11, 13], [20, 13], [15.5, 18], [12, 23], [19, 23]])


def write_synthetic_domain(folder: Path, colour: float, rng: np.random.Generator, count: int = 24, size: int = 32) -> str:
    """A manifest domain of ``count`` noise images around ``colour``, with alternating gender labels and jittered
    5-point landmarks: enough for a training method to run end to end without ../shared/data."""
    from toonbridge.imageio import save_image

    folder.mkdir()
    rows = ["file,gender,left_eye_x,left_eye_y,right_eye_x,right_eye_y,nose_x,nose_y,mouth_left_x,mouth_left_y,mouth_right_x,mouth_right_y"]
    for index in range(count):
        image = np.clip(rng.normal(colour, 30, (size, size, 3)), 0, 255).astype(np.uint8)
        save_image(image, folder / f"{index:02d}.png")
        points = SYNTHETIC_POINTS + rng.normal(0, 0.5, SYNTHETIC_POINTS.shape)
        rows.append(f"{index:02d}.png,{('female', 'male')[index % 2]}," + ",".join(f"{v:.2f}" for v in points.ravel()))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return str(folder / "manifest.csv")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``shared_data`` need ../shared/data: in CI its absence is a failure, elsewhere a skip."""
    if item.get_closest_marker("shared_data") is None or SHARED_DATA.is_dir():
        return
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI must run the shared-data tests, but {SHARED_DATA} does not exist")
    pytest.skip(f"needs {SHARED_DATA} (set TOONBRIDGE_DATA); runs in CI")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_rgb() -> np.ndarray:
    from toonbridge.imageio import load_image

    return load_image(SAMPLE)


@pytest.fixture(scope="session")
def sample_face(sample_rgb):
    from toonbridge.faces import detect

    faces = detect(sample_rgb)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def aligned_sample(sample_rgb, sample_face):
    """The sample's face aligned to the bitmoji template: a 1×3×128×128 crop in [-1, 1] and its 1×5×2 points."""
    from toonbridge.data import image_to_tensor
    from toonbridge.faces import align_face, get_template

    aligned = align_face(sample_rgb, sample_face, get_template("bitmoji"))
    return image_to_tensor(aligned.image)[None], torch.tensor(aligned.landmarks5, dtype=torch.float32)[None]
