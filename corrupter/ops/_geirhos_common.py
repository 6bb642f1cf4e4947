"""What the Geirhos et al. 2018 kernels share: the original's greyscale step, grey stacking, constants,
and the 8-bit route of the grey ops."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._common import quantize_uint8

GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray
BACKGROUND_GREY = 0.4423  # image_manipulation.py bg_grey: mean pixel value over the 224 px stimuli
TAG = ("geirhos2018",)
REFERENCE = "rgeirhos/generalisation-humans-DNNs code/image_manipulation.py"


def grey(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, H, W) luminance, skimage rgb2gray's weights."""
    r, g, b = GREY_WEIGHTS
    return torch.add(images[:, 0] * r, images[:, 1], alpha=g).add_(images[:, 2], alpha=b)


def stacked(planes: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, 3, H, W) with three equal channels (the original's np.dstack).

    A contiguous copy of the expanded view: the same tensor as ``repeat``, 2x faster on uint8 and
    6x on float32 (one CPU core, 224 px).
    """
    return planes.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def on_levels(plane: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The 8-bit kernel (CorruptionSpec.apply_uint8) of a grey op whose float kernel is
    ``stacked(plane(images, draws, **params))``.

    Runs ``plane`` on ``levels / 255`` (the very floats the float route gets) and truncates the one
    grey plane to 8 bits before stacking it: quantize_uint8 works pixel by pixel, so these are the
    bytes of ``quantize_uint8(stacked(plane(...)))``, for a third of the float work after the grey
    step and no float output to stack.
    """
    def kernel(levels: torch.Tensor, draws: dict[str, torch.Tensor], **params: Any) -> torch.Tensor:
        return stacked(quantize_uint8(plane(levels.float().div_(255), draws, **params)))

    kernel.__name__ = kernel.__qualname__ = f"{plane.__name__}_levels"
    kernel.__doc__ = f"{plane.__name__} on uint8 levels (the worker's 8-bit route, see ``on_levels``)."
    return kernel


def number(op: str, key: str, value: object, low: float, high: float = math.inf) -> float:
    """``value`` as a float in [low, high], else a ValueError naming the op and the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        bounds = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
        raise ValueError(f"{op}: {key} must be a number {bounds}, got {value!r}")
    return float(value)
