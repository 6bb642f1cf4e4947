"""NumPy transcriptions of the original ImageNet-C fog and frost (hendrycks/robustness
``ImageNet-C/create_c/make_imagenet_c.py`` @ 8190fe3), written from its definition, for checks that
need the reference's *distribution* (many seeds) rather than its stored statistics.

They follow the original's float64 arithmetic, its NumPy legacy random stream (pass the
``np.random.RandomState`` the original would have seeded) and its ``np.uint8`` truncation. Frost
reads the original's own textures (bundled in corrupter/assets/frost, identical files) with Pillow,
dropping alpha as the original's ``cv2.imread`` does. Used by tests/ops/test_fidelity_checks.py
and bench/fidelity_checks.py.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

FROST_DIR = Path(__file__).resolve().parent.parent / "corrupter" / "assets" / "frost"
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")  # randint(5)


def plasma_fractal(rng: np.random.RandomState, mapsize: int = 256, decay: float = 3.0) -> np.ndarray:
    """Diamond-square on a periodic grid, float64 in [0, 1]; noise wibble * U(-wibble, wibble)."""
    grid = np.zeros((mapsize, mapsize))
    step, wibble = mapsize, 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0::step, 0::step]
        squares = corners + np.roll(corners, -1, axis=0)
        squares += np.roll(squares, -1, axis=1)
        grid[half::step, half::step] = wibbled_mean(squares)
        centres, corners = grid[half::step, half::step], grid[0::step, 0::step]
        left = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        grid[0::step, half::step] = wibbled_mean(left)
        top = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        grid[half::step, 0::step] = wibbled_mean(top)
        step //= 2
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()


def fog(image: np.ndarray, strength: float, decay: float, rng: np.random.RandomState) -> np.ndarray:
    """uint8 224 x 224 x 3 in and out: add the top-left crop of a 256 plasma, renormalise, truncate."""
    x = image / 255.0
    max_val = x.max()
    x = x + strength * plasma_fractal(rng, 256, decay)[:224, :224][..., None]
    return np.uint8(np.clip(x * max_val / (max_val + strength), 0, 1) * 255)


@functools.cache
def frost_textures() -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(Image.open(FROST_DIR / name).convert("RGB")) for name in FROST_FILES)


def frost(image: np.ndarray, image_weight: float, frost_weight: float, rng: np.random.RandomState,
          textures: tuple[np.ndarray, ...]) -> np.ndarray:
    """uint8 224 x 224 x 3 in and out: a random 224 crop of one of five textures, blended, truncated."""
    texture = textures[rng.randint(5)]
    top, left = rng.randint(0, texture.shape[0] - 224), rng.randint(0, texture.shape[1] - 224)
    crop = texture[top:top + 224, left:left + 224].astype(np.float64)
    return np.uint8(np.clip(image_weight * image.astype(np.float64) + frost_weight * crop, 0, 255))
