"""ImageNet-C-bar's additive wave patterns: single_frequency_greyscale, cocentric_sine_waves, plasma_noise.

Each evaluates C-bar's per-pixel formula (corrupt.py ``SingleFrequencyGreyscale``,
``CocentricSineWaves``, ``PlasmaNoise``) on the whole pixel grid at once, in float64 as NumPy does;
x is the column and y the row index, as in C-bar's ``for x ... for y`` loops. Frequencies are in
radians per pixel (the same at any size); ring size, ring wobble and plasma scale scale with the
image (see ``_cbar``); ring centres are uniform over each axis.
"""

from __future__ import annotations

import math

import torch

from ._cbar import REFERENCE, cbar_levels, check_severity, float_parameter, image_size, severity_rule
from ._registry import Draws, register_corruption


def pixel_grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Column (1, 1, W) and row (1, H, 1) indices as float64, to broadcast against (B, 1, 1) draws."""
    xs = torch.arange(width, dtype=torch.float64, device=device)[None, None, :]
    ys = torch.arange(height, dtype=torch.float64, device=device)[None, :, None]
    return xs, ys


def per_sample(values: torch.Tensor) -> torch.Tensor:
    """(B,) or (B, 1) draws -> (B, 1, 1) float64 for broadcasting over the pixel grid."""
    return values.reshape(-1, 1, 1).to(torch.float64)


def add_grey(images: torch.Tensor, pattern: torch.Tensor, intensity: float) -> torch.Tensor:
    """x + intensity / 255 * pattern (one (B, H, W) pattern for all channels), clipped to [0, 1]."""
    return (images + (float(intensity) / 255) * pattern[:, None].to(images.dtype)).clamp_(0, 1)


# ---------------------------------------------------------------------------- single_frequency_greyscale

def single_frequency_physical(severity: float) -> dict[str, float]:
    return {"intensity": float_parameter(severity, 196.0)}


def sample_single_frequency(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's draws: |f| ~ U(-pi, pi), the other component U(-|f|, |f|), their order a random
    permutation (frequency = [along x, along y]), then the phase U(0, 2 pi)."""
    magnitude = torch.rand((), generator=generator, dtype=torch.float64) * (2 * math.pi) - math.pi
    other = (torch.rand((), generator=generator, dtype=torch.float64) * 2 - 1) * magnitude.abs()
    order = torch.randperm(2, generator=generator)
    frequency = torch.stack([magnitude, other])[order]
    phase = torch.rand(1, generator=generator, dtype=torch.float64) * (2 * math.pi)
    return {"frequency": frequency, "phase": phase}


@register_corruption("single_frequency_greyscale", family="fourier", sample=sample_single_frequency,
                     levels=cbar_levels((1.0, 1.5, 2.0, 4.5, 5.0), single_frequency_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("single_frequency_greyscale", single_frequency_physical),
                     reference=f"{REFERENCE} SingleFrequencyGreyscale")
def single_frequency_greyscale(images: torch.Tensor, draws: Draws, *, severity: float | None,
                               intensity: float) -> torch.Tensor:
    """Add a grey plane wave intensity * sin(fx * x + fy * y + phase) (8-bit levels), clipped.

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (frequency and phase).
    """
    check_severity("single_frequency_greyscale", severity, single_frequency_physical,
                   {"intensity": intensity})
    xs, ys = pixel_grid(*images.shape[-2:], images.device)
    frequency = draws["frequency"].to(torch.float64)
    # sin(a + b) = sin a cos b + cos a sin b: trigonometry on one row and one column, not every pixel.
    along_x = xs * per_sample(frequency[:, 0]) + per_sample(draws["phase"])
    along_y = ys * per_sample(frequency[:, 1])
    wave = torch.sin(along_x) * torch.cos(along_y) + torch.cos(along_x) * torch.sin(along_y)
    return add_grey(images, wave, intensity)


# ---------------------------------------------------------------------------------- cocentric_sine_waves

def cocentric_physical(severity: float) -> dict[str, float]:
    return {"intensity": float_parameter(severity, 128.0)}


def sample_cocentric(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's draws: the centre (x ~ U(0, W), y ~ U(0, H)), the angular frequency U(0, 10), the
    wobble amplitude U(0, size / 10) and the ring width U(0, size / 10], in pixels.

    The ring width is drawn as (1 - u) * size / 10, the same distribution without its zero (C-bar
    divides by it).
    """
    centre = torch.rand(2, generator=generator, dtype=torch.float64) * torch.tensor(
        [width, height], dtype=torch.float64)
    tenth = image_size(height, width) / 10
    frequency = torch.rand(1, generator=generator, dtype=torch.float64) * 10
    amplitude = torch.rand(1, generator=generator, dtype=torch.float64) * tenth
    ring_width = (1 - torch.rand(1, generator=generator, dtype=torch.float64)) * tenth
    return {"centre": centre, "frequency": frequency, "amplitude": amplitude, "ring_width": ring_width}


@register_corruption("cocentric_sine_waves", family="noise", sample=sample_cocentric,
                     levels=cbar_levels((3.0, 5.0, 8.0, 9.0, 10.0), cocentric_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("cocentric_sine_waves", cocentric_physical),
                     reference=f"{REFERENCE} CocentricSineWaves")
def cocentric_sine_waves(images: torch.Tensor, draws: Draws, *, severity: float | None,
                         intensity: float) -> torch.Tensor:
    """Add grey sawtooth rings about a random centre, their radius wobbling with the angle.

    ring = ((distance + sin(frequency * angle) * amplitude) mod width) / width - 1/2, added as
    intensity * ring (8-bit levels), clipped. The angle is C-bar's atan2(x - x0, y - y0).
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (centre, frequency, amplitude, ring width).
    """
    check_severity("cocentric_sine_waves", severity, cocentric_physical, {"intensity": intensity})
    xs, ys = pixel_grid(*images.shape[-2:], images.device)
    centre = draws["centre"].to(torch.float64)
    dx, dy = xs - per_sample(centre[:, 0]), ys - per_sample(centre[:, 1])
    angle = torch.atan2(dx, dy) * per_sample(draws["frequency"])
    width = per_sample(draws["ring_width"])
    radius = torch.sqrt(dx ** 2 + dy ** 2) + torch.sin(angle) * per_sample(draws["amplitude"])
    return add_grey(images, torch.remainder(radius, width) / width - 0.5, intensity)


# ------------------------------------------------------------------------------------------ plasma_noise

def plasma_physical(severity: float) -> dict[str, float]:
    return {"intensity": float_parameter(severity, 64.0)}


def sample_plasma(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's draws: time U(0, 6 pi), iterations in {4, 5, 6}, sharpness U(0.5, 1) and the scale
    U(0.075, 0.2) * size in pixels."""
    time = torch.rand(1, generator=generator, dtype=torch.float64) * (6 * math.pi)
    iterations = torch.randint(4, 7, (1,), generator=generator)
    sharpness = 0.5 + torch.rand(1, generator=generator, dtype=torch.float64) * 0.5
    scale = 0.075 + torch.rand(1, generator=generator, dtype=torch.float64) * 0.125
    scale = scale * image_size(height, width)
    return {"time": time, "iterations": iterations, "sharpness": sharpness, "scale": scale}


def plasma_pattern(height: int, width: int, draws: Draws, device: torch.device) -> torch.Tensor:
    """C-bar's plasma kernel on every pixel: (B, 3, H, W) float64 in [-1, 1] (red, green, blue).

    The point (x, y) / scale is pushed ``iterations`` times along a rotated (cos, sin) field whose
    frequency, phase and amplitude change each step; the colours are sines of where it lands.
    Samples with fewer iterations stop moving after theirs.
    """
    xs, ys = pixel_grid(height, width, device)
    time, scale = per_sample(draws["time"]), per_sample(draws["scale"])
    sharpness, iterations = per_sample(draws["sharpness"]), per_sample(draws["iterations"])
    x, y = xs / scale, ys / scale
    x, y = x.expand(-1, height, -1).clone(), y.expand(-1, -1, width).clone()
    # C-bar's i = [frequency, phase divisor, amplitude divisor, phase offset], updated each step.
    frequency, divisor, damping, offset = (torch.ones_like(time), torch.ones_like(time),
                                           torch.ones_like(time), torch.zeros_like(time))
    for step in range(int(iterations.max().item())):
        active = (iterations > step).to(torch.float64)
        r0 = torch.cos(y * frequency - offset + time / divisor) / damping
        r1 = torch.sin(x * frequency - offset + time / divisor) / damping
        r0, r1 = r0 - 0.3 * r1, r1 + 0.3 * r0
        x = x + active * r0
        y = y + active * r1
        frequency, divisor, damping, offset = (frequency * 1.93, divisor * 1.15, damping * (2.25 - sharpness),
                                               offset * time * divisor)
    red = torch.sin(x - time)
    blue = torch.sin(y + time)
    green = torch.sin((x + y + torch.sin(time)) * 0.5)
    return torch.stack([red, green, blue], dim=1)


@register_corruption("plasma_noise", family="noise", sample=sample_plasma,
                     levels=cbar_levels((4.75, 7.0, 8.5, 9.25, 10.0), plasma_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("plasma_noise", plasma_physical),
                     reference=f"{REFERENCE} PlasmaNoise")
def plasma_noise(images: torch.Tensor, draws: Draws, *, severity: float | None,
                 intensity: float) -> torch.Tensor:
    """Blend in a coloured sinusoidal plasma: (1 - I / 255) * x + I / 255 * plasma, clipped.

    ``intensity`` I is in 8-bit levels; the plasma is in [-1, 1] per channel, so it also darkens.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (time, iterations, sharpness, scale).
    """
    check_severity("plasma_noise", severity, plasma_physical, {"intensity": intensity})
    plasma = plasma_pattern(*images.shape[-2:], draws, images.device).to(images.dtype)
    weight = float(intensity) / 255
    return (images * (1 - weight)).add_(plasma, alpha=weight).clamp_(0, 1)
