"""Bundled data the kernels need (frost textures), loaded once and handed to kernels as tensors."""

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


_LOADERS = {"frost": frost_textures}


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
