"""The statistics of the reference files (make_imagecorruptions_reference.py), computed on our outputs."""

from __future__ import annotations

import numpy as np
import torch

from corrupter import ops

STATS = ["mean", "std", "diff_mean", "diff_abs_mean", "diff_rms", "high_freq_ratio"]


def high_freq_ratio(img: np.ndarray) -> float:
    """Share of spectral energy (grey image, DC removed) outside the central 56x56 frequencies."""
    grey = img.astype(np.float64).mean(axis=2) / 255.0
    power = np.fft.fftshift(np.abs(np.fft.fft2(grey - grey.mean())) ** 2)
    c = power.shape[0] // 2
    return float(1.0 - power[c - 28:c + 28, c - 28:c + 28].sum() / power.sum())


def image_stats(clean: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """The reference statistics of one uint8 output (channel means and stds averaged over channels)."""
    c, o = clean.astype(np.float64) / 255.0, out.astype(np.float64) / 255.0
    d = o - c
    return {"mean": float(o.mean(axis=(0, 1)).mean()), "std": float(o.std(axis=(0, 1)).mean()),
            "diff_mean": float(d.mean()), "diff_abs_mean": float(np.abs(d).mean()),
            "diff_rms": float(np.sqrt((d ** 2).mean())), "high_freq_ratio": high_freq_ratio(out)}


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float (B, 3, H, W) -> uint8 (B, H, W, 3), the pipeline's quantisation."""
    return ops.quantize_uint8(images).permute(0, 2, 3, 1).numpy()
