from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TOONBRIDGE_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "src" / "toonbridge" / "assets" / "astronaut.jpg"
HOSTILE = REPO / "tests" / "hostile" / "files"


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
