"""Distribution distances between two image sets' Inception features: KID and FID.

KID (Bińkowski et al. 2018) is the unbiased MMD² with the polynomial kernel k(x, y) = (x·y/d + 1)³, averaged over
random subsets (100 subsets of 100 by default; with fewer images the subset is all of them), and reported ×100
with its standard deviation over subsets, as U-GAT-IT and torch-fidelity report it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg


@dataclass(frozen=True)
class KID:
    mean: float  # ×100
    std: float  # ×100
    n_a: int
    n_b: int

    def to_dict(self) -> dict:
        return {"kid": self.mean, "kid_std": self.std, "n_a": self.n_a, "n_b": self.n_b}


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def kid(features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100, subset_size: int = 100, seed: int = 0) -> KID:
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError(f"KID needs at least 2 images on each side (got {len(features_a)} and {len(features_b)})")
    size = min(subset_size, len(features_a), len(features_b))
    rng = np.random.default_rng(seed)
    values = np.array([
        polynomial_mmd2_unbiased(features_a[rng.choice(len(features_a), size, replace=False)],
                                 features_b[rng.choice(len(features_b), size, replace=False)])
        for _ in range(subsets)
    ])
    return KID(float(values.mean() * 100), float(values.std() * 100), len(features_a), len(features_b))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError(f"FID needs at least 2 images on each side (got {len(features_a)} and {len(features_b)})")
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    with warnings.catch_warnings():
        # With fewer images than feature dimensions the covariances are singular; sqrtm still returns the usable
        # (real part of the) root, as in the reference TF code, which also only warns.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        # Near-singular product (few images): regularise as the reference implementation does.
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))
