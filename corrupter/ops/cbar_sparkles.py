"""ImageNet-C-bar's ray stars: sparkles (five white stars) and inverse_sparkles (the image seen
through one star on white).

A star (corrupt.py ``Sparkles.transform.kernel``) has N rays of lengths L_k = r + 0.25 r n_k (n_k
standard normal; sparkles floor them at 1 px). At a pixel at distance d from the centre and angle a,
with t = (a + pi) / (2 pi) * N = k + f, the ray length is interpolated between rays k and k + 1 and
the star's weight is clip((1 - (f - 1/2)^2) * (L^2 / (d^2 + 1e-4)) ** ((100 - amount) / 50), 0, 1).
C-bar's angle is atan2(dx, dy) (x: column, y: row), kept.

Draws per star: the centre (row, column), the number of rays N in [50, 200), and 199 normals of
which the first N are used (C-bar draws exactly N from its sub-generator; a fixed-size draw keeps
the batch stackable). Other sizes: centres span each axis; radii scale with the image (``_cbar``).
"""

from __future__ import annotations

import math

import torch

from ._cbar import (
    REFERENCE,
    REFERENCE_SIZE,
    cbar_levels,
    check_severity,
    float_parameter,
    image_size,
    pixel_scale,
    severity_rule,
)
from ._registry import Draws, register_corruption

MAX_RAYS = 199  # C-bar: randint(50, 200)
RAY_RANDOMNESS = 0.25  # C-bar's randomness = 25 (percent of the radius)
SPARKLE_COUNT = 5
SPARKLE_AMOUNT = 50.0  # C-bar's amounts for sparkles: 50 each, i.e. a falloff exponent of 1


def draw_rays(generator: torch.Generator, stars: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(stars,) ray counts in [50, 200) and (stars, MAX_RAYS) standard normals for their lengths."""
    counts = torch.randint(50, MAX_RAYS + 1, (stars,), generator=generator)
    normals = torch.randn(stars, MAX_RAYS, generator=generator, dtype=torch.float64)
    return counts, normals


def star_weight(height: int, width: int, centre: torch.Tensor, lengths: torch.Tensor, rays: torch.Tensor,
                amount: float) -> torch.Tensor:
    """The star's weight in [0, 1] at every pixel: (B, H, W) float64.

    ``centre`` (B, 2) is (row, column) in pixels, ``lengths`` (B, MAX_RAYS) the ray lengths in
    pixels (only the first ``rays`` (B,) of each row are used), ``amount`` C-bar's falloff amount.
    """
    device = lengths.device
    rows = torch.arange(height, dtype=torch.float64, device=device)[None, :, None]
    cols = torch.arange(width, dtype=torch.float64, device=device)[None, None, :]
    dy = rows - centre[:, 0, None, None].to(torch.float64)
    dx = cols - centre[:, 1, None, None].to(torch.float64)
    squared = dy ** 2 + dx ** 2
    count = rays.reshape(-1, 1, 1).to(device)
    position = (torch.atan2(dx, dy) + math.pi) / (2 * math.pi) * count
    index = position.floor()
    fraction = position - index
    index = index.to(torch.int64)
    first = torch.remainder(index, count).reshape(len(lengths), -1)
    second = torch.remainder(index + 1, count).reshape(len(lengths), -1)
    start = lengths.gather(1, first).reshape(squared.shape)
    length = start + fraction * (lengths.gather(1, second).reshape(squared.shape) - start)
    falloff = (length ** 2 / (squared + 1e-4)) ** ((100 - float(amount)) / 50.0)
    return ((1 - (fraction - 0.5) ** 2) * falloff).clamp_(0, 1)


# -------------------------------------------------------------------------------------------- sparkles

def sparkles_physical(severity: float) -> dict[str, float]:
    return {"radius": float_parameter(severity, 0.1) * REFERENCE_SIZE}  # C-bar pixels at 224


def sample_sparkles(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """Five centres (row ~ U(0, H), column ~ U(0, W)), then each star's ray count and normals."""
    centres = torch.rand(SPARKLE_COUNT, 2, generator=generator, dtype=torch.float64) * torch.tensor(
        [height, width], dtype=torch.float64)
    rays, normals = draw_rays(generator, SPARKLE_COUNT)
    return {"centres": centres, "rays": rays, "ray_normals": normals}


@register_corruption("sparkles", family="weather", sample=sample_sparkles,
                     levels=cbar_levels((1.0, 2.0, 3.0, 5.0, 6.0), sparkles_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("sparkles", sparkles_physical),
                     reference=f"{REFERENCE} Sparkles")
def sparkles(images: torch.Tensor, draws: Draws, *, severity: float | None, radius: float) -> torch.Tensor:
    """Paint five white ray stars over the image, one after another.

    ``radius`` is in C-bar pixels at 224.
    Each star blends towards white: x + w * (1 - x), w its weight. Ray lengths are floored at 1 px.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (centres, ray counts, ray lengths).
    """
    check_severity("sparkles", severity, sparkles_physical, {"radius": radius})
    if radius <= 0:
        raise ValueError(f"sparkles: radius must be positive, got {radius}")
    height, width = images.shape[-2:]
    scaled = float(radius) * pixel_scale(height, width)
    normals = draws["ray_normals"].to(torch.float64)
    lengths = (scaled + RAY_RANDOMNESS * scaled * normals).clamp(min=1.0)
    out = images.clone()
    for star in range(SPARKLE_COUNT):
        weight = star_weight(height, width, draws["centres"][:, star], lengths[:, star],
                             draws["rays"][:, star], SPARKLE_AMOUNT).to(images.dtype)[:, None]
        out = out + weight * (1 - out)
    return out.clamp_(0, 1)


# ------------------------------------------------------------------------------------ inverse_sparkles

def inverse_sparkles_physical(severity: float) -> dict[str, float]:
    return {"amount": 100 - float_parameter(severity, 65.0)}


def sample_inverse_sparkles(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The centre (row ~ U(0.25, 0.75) * H, column ~ U(0.25, 0.75) * W), ray count and normals."""
    centre = (0.25 + torch.rand(2, generator=generator, dtype=torch.float64) * 0.5) * torch.tensor(
        [height, width], dtype=torch.float64)
    rays, normals = draw_rays(generator, 1)
    return {"centre": centre, "rays": rays, "ray_normals": normals[0]}


@register_corruption("inverse_sparkles", family="digital", sample=sample_inverse_sparkles,
                     levels=cbar_levels((1.0, 2.0, 4.0, 9.0, 10.0), inverse_sparkles_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("inverse_sparkles", inverse_sparkles_physical),
                     reference=f"{REFERENCE} InverseSparkles")
def inverse_sparkles(images: torch.Tensor, draws: Draws, *, severity: float | None,
                     amount: float) -> torch.Tensor:
    """Show the image only through one ray star (radius a quarter of the size) on white.

    1 + w * (x - 1), w the star's weight; a lower ``amount`` (C-bar's 100 - severity * 6.5) gives a
    softer falloff, so a smaller visible star. Ray lengths are not floored (as in C-bar).
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (centre, ray count, ray lengths).
    """
    check_severity("inverse_sparkles", severity, inverse_sparkles_physical, {"amount": amount})
    height, width = images.shape[-2:]
    radius = 0.25 * image_size(height, width)
    lengths = radius + RAY_RANDOMNESS * radius * draws["ray_normals"].to(torch.float64)
    weight = star_weight(height, width, draws["centre"], lengths, draws["rays"].reshape(-1),
                         amount).to(images.dtype)[:, None]
    return (weight * (images - 1) + 1).clamp_(0, 1)
