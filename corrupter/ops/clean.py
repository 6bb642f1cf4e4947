"""The identity: the clean images of a release, through the same recipe as every corrupted variant.

Relative mCE and every "drop from clean" figure compare a corrupted cell with the clean images as the
model sees them in the release: resized, cropped, quantised to uint8 and JPEG-encoded at the same
quality. A cell ``clean/1`` made by the same worker, the same way, is exactly that.
"""

from __future__ import annotations

import torch

from ._registry import Draws, register_corruption


@register_corruption("clean", family="identity", levels=({},),
                     reference="Hendrycks & Dietterich 2019: the clean validation images, through the same "
                               "resize, crop and JPEG step as the corruptions (for clean error and relative mCE)")
def clean(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    """The input unchanged (a copy): the clean cell of a release.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic.
    """
    return images.clone()
