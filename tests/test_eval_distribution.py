"""KID and FID against naive implementations and known cases; the Inception features they use."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from toonbridge.eval.distribution import fid, kid, polynomial_mmd2_unbiased


def naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return xx + yy - 2 * xy


def test_mmd_matches_the_naive_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(9, 5))
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(naive_mmd2(x, y), rel=1e-10)


def test_kid_known_cases():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    same = kid(a, b)
    shifted = kid(a, rng.normal(0.7, 1.0, size=(300, 16)))
    assert abs(same.mean) < 3 * same.std + 0.05  # two samples of one distribution: ≈ 0 (unbiased, can be < 0)
    assert shifted.mean > 20 * max(same.std, 0.01)
    assert (shifted.n_a, shifted.n_b) == (300, 300)
    assert kid(a, b).mean == same.mean  # seeded subsets: repeatable


def test_kid_with_fewer_images_than_a_subset_uses_them_all():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 4)), rng.normal(1.0, 1.0, size=(40, 4))
    result = kid(x, y, subsets=5)
    assert result.n_a == 30 and result.mean > 0
    with pytest.raises(ValueError, match="at least 2"):
        kid(x[:1], y)


def test_fid_known_cases():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2000, 3))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)
    b = a + np.array([2.0, 0.0, 0.0])  # a pure mean shift of 2: FID = 4
    assert fid(a, b) == pytest.approx(4.0, rel=1e-6)


def test_inception_features_are_stable_and_2048_wide():
    from toonbridge.eval.inception import features

    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(3)]
    first, second = features(images), features(images[:2])
    assert first.shape == (3, 2048) and np.isfinite(first).all()
    assert np.allclose(first[:2], second, atol=1e-4)  # batching does not change a feature


def test_eval_cli_prints_json_and_rejects_empty_folders(tmp_path):
    import json

    from typer.testing import CliRunner

    from toonbridge.cli import app
    from toonbridge.imageio import save_image

    rng = np.random.default_rng(5)
    for folder, make in (("noise", lambda: rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)),
                         ("flat", lambda: np.full((64, 64, 3), rng.integers(0, 256, 3), dtype=np.uint8))):
        for index in range(6):
            save_image(make(), tmp_path / folder / f"{index}.png")
    runner = CliRunner(env={"TOONBRIDGE_CACHE": str(tmp_path / "cache")})
    result = runner.invoke(app, ["eval", "kid", str(tmp_path / "noise"), str(tmp_path / "flat"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"kid", "kid_std", "n_a", "n_b"} and data["n_a"] == 6 and data["kid"] > 1
    assert list((tmp_path / "cache").rglob("*.npy"))  # features were cached per folder
    result = runner.invoke(app, ["eval", "fid", str(tmp_path / "noise"), str(tmp_path / "flat"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["fid"] > 10
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", "kid", str(tmp_path / "empty"), str(tmp_path / "flat")])
    assert result.exit_code == 2 and "not a folder with images" in result.stderr
