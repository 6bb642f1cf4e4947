"""What the Geirhos et al. 2018 kernels share: the original's greyscale step, grey stacking, constants."""

from __future__ import annotations

import math

import torch

GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray
BACKGROUND_GREY = 0.4423  # image_manipulation.py bg_grey: mean pixel value over the 224 px stimuli
TAG = ("geirhos2018",)
REFERENCE = "rgeirhos/generalisation-humans-DNNs code/image_manipulation.py"


def grey(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, H, W) luminance, skimage rgb2gray's weights."""
    r, g, b = GREY_WEIGHTS
    return torch.add(images[:, 0] * r, images[:, 1], alpha=g).add_(images[:, 2], alpha=b)


def stacked(planes: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, 3, H, W) with three equal channels (the original's np.dstack)."""
    return planes.unsqueeze(1).repeat(1, 3, 1, 1)


def number(op: str, key: str, value: object, low: float, high: float = math.inf) -> float:
    """``value`` as a float in [low, high], else a ValueError naming the op and the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        bounds = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
        raise ValueError(f"{op}: {key} must be a number {bounds}, got {value!r}")
    return float(value)
