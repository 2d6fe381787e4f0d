"""False-colour image of a latent token grid: a 3-component PCA fitted once, then fixed."""

from __future__ import annotations

import math

import numpy as np


def token_grid(z: np.ndarray, dim: int) -> np.ndarray:
    """z = [H'*W'*D (+ extra)] -> tokens [H'*W', D]; ValueError when z holds no square grid of D-tokens."""
    n = z.size // dim
    side = math.isqrt(n)
    if n == 0 or side * side != n:
        raise ValueError(f"latent of {z.size} values is not a square grid of {dim}-dim tokens")
    return z[: n * dim].reshape(n, dim)


class LatentPCA:
    """Collects the first `fit` token grids, fits mean, 3 components and colour range, then only projects."""

    def __init__(self, fit: int, dim: int) -> None:
        self.fit, self.dim = fit, dim
        self.samples: list[np.ndarray] = []  # token grids [N, D] until the basis is fitted
        self.mean: np.ndarray | None = None  # [D]
        self.basis: np.ndarray | None = None  # [D, 3]
        self.lo = self.hi = np.zeros(3)  # colour range per component

    @property
    def fitted(self) -> bool:
        return self.basis is not None

    def image(self, z: np.ndarray) -> np.ndarray | None:
        """uint8 [H', W', 3] for one latent; None while the basis is still being fitted."""
        tokens = token_grid(z, self.dim)
        if self.basis is None:
            self.samples.append(tokens)
            if len(self.samples) < self.fit:
                return None
            self._fit(np.concatenate(self.samples))
            self.samples.clear()
        assert self.mean is not None and self.basis is not None
        proj = (tokens - self.mean) @ self.basis  # [N, 3]
        rgb = np.clip((proj - self.lo) / np.maximum(self.hi - self.lo, 1e-9), 0.0, 1.0)
        side = math.isqrt(len(tokens))
        return (rgb * 255).astype(np.uint8).reshape(side, side, 3)

    def _fit(self, tokens: np.ndarray) -> None:
        self.mean = tokens.mean(0)
        _, _, vt = np.linalg.svd(tokens - self.mean, full_matrices=False)
        basis = np.zeros((self.dim, 3))
        basis[:, : min(3, len(vt))] = vt[:3].T  # fewer than 3 components: the missing channels stay 0
        self.basis = basis
        proj = (tokens - self.mean) @ basis
        self.lo, self.hi = np.percentile(proj, 2, axis=0), np.percentile(proj, 98, axis=0)
