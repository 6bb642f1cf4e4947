"""Weather corruptions of ImageNet-C (Hendrycks & Dietterich 2019)."""

from __future__ import annotations

import torch

from ._common import next_power_of_two, plasma_draw_count, plasma_fractal
from ._registry import Draws, register_corruption

# (strength c0, wibble decay d), make_imagenet_c.py fog, 224x224 table.
FOG_SEVERITIES = tuple({"strength": s, "decay": d}
                       for s, d in ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)))


def sample_fog(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The U(-1, 1) draws of one plasma fractal covering the image."""
    count = plasma_draw_count(next_power_of_two(max(height, width, 2)))
    return {"plasma_uniform": torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1}


@register_corruption("fog", family="weather", severities=FOG_SEVERITIES, sample=sample_fog,
                     tags=("imagenet-c",), reference="hendrycks/robustness make_imagenet_c.py fog")
def fog(images: torch.Tensor, draws: Draws, *, strength: float, decay: float) -> torch.Tensor:
    """Grey plasma-fractal fog with ImageNet-C's global contrast renormalisation.

    x + c0 * P[:H, :W] (top-left crop of the fractal, the same for all channels), then scaled by
    max / (max + c0) where max is the clean image's single global maximum (all pixels, all channels).
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the fractal).
    """
    height, width = images.shape[-2:]
    mapsize = next_power_of_two(max(height, width, 2))
    plasma = plasma_fractal(draws["plasma_uniform"], mapsize, float(decay))[:, None, :height, :width]
    max_val = images.amax(dim=(1, 2, 3), keepdim=True)
    fogged = images + float(strength) * plasma
    return (fogged * max_val / (max_val + float(strength))).clamp(0, 1)
