"""Bundled data the kernels need (frost textures, Geirhos et al. 2018 tables), loaded once, as tensors."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import torch
from PIL import Image

# Textures of the original ImageNet-C code (Apache-2.0, see corrupter/assets/frost/NOTICE.md).
# The reference draws randint(5): frost1..frost5 only; frost6 ships for completeness but is unused.
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")


@functools.cache
def frost_textures() -> tuple[torch.Tensor, ...]:
    """The five frost textures as uint8 (3, H, W) RGB tensors (alpha dropped, as cv2.imread does)."""
    folder = resources.files("corrupter") / "assets" / "frost"
    textures = []
    for name in FROST_FILES:
        with (folder / name).open("rb") as fh:
            rgb = np.asarray(Image.open(fh).convert("RGB"))
        textures.append(torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous())
    return tuple(textures)


@functools.cache
def geirhos_power_spectrum() -> torch.Tensor:
    """The 224x224 mean amplitude spectrum (fftshift order) of Geirhos et al. 2018, float64.

    ``power_equalisation`` gives every image this amplitude spectrum (CC BY 4.0, unchanged; see
    corrupter/assets/geirhos2018/NOTICE.md).
    """
    return _geirhos_table("mean_power_spectrum_grey.npy", (224, 224))


@functools.cache
def geirhos_gamma_table() -> torch.Tensor:
    """The 256-entry monitor gamma table of Geirhos et al. 2018 (level k -> luminance), float64.

    ``false_colour`` linearises through it and quantises back to its nearest entry.
    """
    table = _geirhos_table("x_gamma_function.npy", (256, 1)).reshape(256)
    if not bool((table[1:] > table[:-1]).all()):
        raise ValueError("x_gamma_function.npy: the gamma table must increase strictly")
    return table


def _geirhos_table(name: str, shape: tuple[int, ...]) -> torch.Tensor:
    with (resources.files("corrupter") / "assets" / "geirhos2018" / name).open("rb") as fh:
        array = np.load(fh, allow_pickle=False)
    if array.shape != shape or array.dtype != np.float64 or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite float64 {shape}, got {array.dtype} {array.shape}")
    return torch.from_numpy(array.copy())


_LOADERS = {"frost": frost_textures, "geirhos_power_spectrum": geirhos_power_spectrum,
            "geirhos_gamma_table": geirhos_gamma_table}


def load_assets(names: tuple[str, ...] | list[str], device: torch.device | str | None = None) -> dict[str, Any]:
    """Assets by name, on ``device``, for ``corrupter.ops.apply_batch(..., assets=...)``."""
    unknown = [n for n in names if n not in _LOADERS]
    if unknown:
        raise KeyError(f"unknown asset(s) {unknown}; known: {sorted(_LOADERS)}")
    return {n: _to_device(_LOADERS[n](), device) for n in names}


def _to_device(value: Any, device: torch.device | str | None) -> Any:
    if device is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return type(value)(_to_device(v, device) for v in value)
