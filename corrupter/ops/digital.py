"""Digital corruptions of ImageNet-C (Hendrycks & Dietterich 2019)."""

from __future__ import annotations

import torch

from ._registry import Draws, register_corruption

CONTRAST_SEVERITIES = tuple({"factor": c} for c in (0.4, 0.3, 0.2, 0.1, 0.05))


@register_corruption("contrast", family="digital", severities=CONTRAST_SEVERITIES, tags=("imagenet-c",),
                     reference="hendrycks/robustness make_imagenet_c.py contrast")
def contrast(images: torch.Tensor, draws: Draws, *, factor: float) -> torch.Tensor:
    """Contract each channel toward its own spatial mean: (x - m_c) * factor + m_c.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic.
    """
    means = images.mean(dim=(-2, -1), keepdim=True, dtype=torch.float64).to(images.dtype)
    return ((images - means) * float(factor) + means).clamp(0, 1)
