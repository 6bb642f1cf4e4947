"""Low-pass and high-pass filtering on the centred spectrum (Yin et al. 2019, Fig. 1)."""

from __future__ import annotations

import torch

from ._common import low_pass_band
from ._registry import Draws, register_corruption

# Bandwidth B = side of the central B x B square of frequencies (odd, so the band is symmetric about
# DC and the output is real). At 224x224, B = 127 keeps every frequency up to 63 cycles per image
# (fine texture gone, shapes intact); each severity halves the band, down to B = 7 (3 cycles:
# "globs of colour", the paper's aggressive low-pass regime).
LOW_PASS_SEVERITIES = tuple({"bandwidth": b} for b in (127, 63, 31, 15, 7))
# High-pass removes the central B x B frequencies but keeps DC (the mean), so the result stays a
# viewable image around each channel's mean. B doubles from 3 (only the coarsest shading gone) to
# 63 (only edges and texture left).
HIGH_PASS_SEVERITIES = tuple({"bandwidth": b} for b in (3, 7, 15, 31, 63))


@register_corruption("low_pass", family="filter", levels=LOW_PASS_SEVERITIES, tags=("yin2019",),
                     reference="Yin et al. 2019, Fig. 1 (low-pass on the centred spectrum)")
def low_pass(images: torch.Tensor, draws: Draws, *, bandwidth: int) -> torch.Tensor:
    """Keep only the central bandwidth x bandwidth frequencies of each channel.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic.
    """
    return low_pass_band(images, int(bandwidth)).clamp_(0, 1)


@register_corruption("high_pass", family="filter", levels=HIGH_PASS_SEVERITIES, tags=("yin2019",),
                     reference="Yin et al. 2019, Fig. 1 (high-pass on the centred spectrum, mean kept)")
def high_pass(images: torch.Tensor, draws: Draws, *, bandwidth: int) -> torch.Tensor:
    """Remove the central bandwidth x bandwidth frequencies of each channel, keeping its mean.

    The image minus its central band, plus the mean (the band's DC term, kept so the image stays
    viewable). Shape: (B, C, H, W) -> (B, C, H, W). Deterministic.
    """
    means = images.mean(dim=(-2, -1), keepdim=True, dtype=torch.float64).to(images.dtype)
    return (images - low_pass_band(images, int(bandwidth))).add_(means).clamp_(0, 1)
