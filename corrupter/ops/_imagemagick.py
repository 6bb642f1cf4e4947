"""ImageMagick behaviours the reference ops rely on, in batched torch: ``MotionBlurImage``.

ImageNet-C's motion_blur and snow call Wand's ``motion_blur``; the kernel here is ImageMagick's as
imagecorruptions 1.1.2 re-implements it in NumPy (``_motion_blur``), with edge pixels replicated.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def motion_kernel_weights(radius: float, sigma: float) -> list[float]:
    """ImageMagick's motion-blur weights exp(-i^2 / 2 sigma^2), i = 0 .. 2 * ceil(radius), normalised."""
    width = 2 * math.ceil(radius) + 1
    weights = [math.exp(-(i * i) / (2.0 * sigma * sigma)) for i in range(width)]
    total = sum(weights)
    return [w / total for w in weights]


def motion_kernel_offsets(angle_deg: float, width: int) -> list[tuple[int, int]]:
    """(dy, dx) of each tap: tap i reads the pixel i * (sin, cos)(angle) away, rounded half down.

    Same float expression as ImageMagick / imagecorruptions (``ceil(i * point / hypot - 0.5)`` with
    ``point = width * (sin, cos)``), so ties round identically.
    """
    theta = angle_deg * (math.pi / 180.0)
    point_y, point_x = width * math.sin(theta), width * math.cos(theta)
    hypot = math.hypot(point_y, point_x)
    return [(math.ceil(i * point_y / hypot - 0.5), math.ceil(i * point_x / hypot - 0.5)) for i in range(width)]


def directional_motion_blur(images: torch.Tensor, radius: float, sigma: float, angles_deg: torch.Tensor) -> torch.Tensor:
    """ImageMagick's motion blur: a one-sided Gaussian smear along a per-sample direction.

    out[y, x] = sum_i w_i * in[y + dy_i, x + dx_i] with w_i from ``motion_kernel_weights`` and
    (dy_i, dx_i) from ``motion_kernel_offsets``; reads outside the image take the nearest edge pixel
    (ImageMagick's default "edge" virtual pixels). Unlike imagecorruptions, taps that reach past the
    image are not dropped (it stops summing there, which darkens images smaller than the kernel).
    No clamping: the output is a convex combination of input values.

    Args:
        images: (B, C, H, W) float, any C.
        radius: kernel radius in pixels; the kernel has 2 * ceil(radius) + 1 taps.
        sigma: Gaussian width in pixels.
        angles_deg: (B,) direction of each sample in degrees (0 = towards +x, 90 = towards +y, i.e. down).

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic given the angles.
    """
    batch, _, height, width = images.shape
    weights = motion_kernel_weights(radius, sigma)
    # Offsets are integer slice positions: computed on the CPU in float64 so every device agrees.
    angles = angles_deg.detach().to("cpu", torch.float64).reshape(-1).tolist()
    if len(angles) != batch:
        raise ValueError(f"need one angle per image, got {len(angles)} for a batch of {batch}")
    offsets = [motion_kernel_offsets(a, len(weights)) for a in angles]
    pad_y = max((abs(dy) for per in offsets for dy, _ in per), default=0)
    pad_x = max((abs(dx) for per in offsets for _, dx in per), default=0)
    padded = F.pad(images, (pad_x, pad_x, pad_y, pad_y), mode="replicate")
    out = torch.empty_like(images)
    for b, per_sample in enumerate(offsets):
        source, target = padded[b], out[b]  # views made once per sample: the loop is call-bound
        windows = [source[:, pad_y + dy:pad_y + dy + height, pad_x + dx:pad_x + dx + width] for dy, dx in per_sample]
        torch.mul(windows[0], weights[0], out=target)
        for weight, window in zip(weights[1:], windows[1:]):
            target.add_(window, alpha=weight)
    return out

