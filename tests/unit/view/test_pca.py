"""The latent's false-colour image: a square token grid, a basis fitted once and then fixed."""

from __future__ import annotations

import numpy as np
import pytest

from agent.view.pca import LatentPCA, token_grid

DIM = 4


def latent(rng: np.random.Generator, side: int = 3, extra: int = 0) -> np.ndarray:
    return rng.normal(size=side * side * DIM + extra).astype(np.float32)


def test_the_basis_is_fitted_on_the_first_latents_and_later_ones_do_not_move_it() -> None:
    rng = np.random.default_rng(0)
    pca = LatentPCA(fit=3, dim=DIM)
    first = [latent(rng) for _ in range(3)]
    assert pca.image(first[0]) is None and pca.image(first[1]) is None  # still collecting
    image = pca.image(first[2])
    assert image is not None and image.shape == (3, 3, 3) and image.dtype == np.uint8
    for _ in range(20):
        pca.image(latent(rng) * 10)  # very different latents after the fit
    again = pca.image(first[2])
    assert again is not None and np.array_equal(image, again)


def test_proprio_after_the_grid_is_ignored_and_a_non_square_latent_is_refused() -> None:
    rng = np.random.default_rng(1)
    z = latent(rng, extra=DIM - 1)  # [grid, proprio]: fewer than one token of extra values
    assert token_grid(z, DIM).shape == (9, DIM)
    with pytest.raises(ValueError, match="not a square grid of 4-dim tokens"):
        token_grid(rng.normal(size=5 * DIM).astype(np.float32), DIM)
    with pytest.raises(ValueError, match="not a square grid"):
        token_grid(np.zeros(DIM - 1, np.float32), DIM)
