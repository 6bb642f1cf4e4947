"""ImageNet-C-bar's random-phase noise fields: blue_noise_sample and brownish_noise.

Both build a spectrum of a fixed power profile (|r| for blue, 1 / (r^2 + 1) for brownish, r the
distance from the spectrum's centre) with random phases, roll it so the centre goes to index 0,
take the real part of its inverse FFT and divide by its standard deviation (corrupt.py ``BlueNoise``,
``BrownishNoise``, ``BlueNoiseSample``). The phases of the right half are the left half's turned by
180 degrees (``phases[::-1, ::-1]``), which is not the Hermitian pairing of the rolled spectrum: the
real part is taken anyway. Followed as written, in float64.

Other sizes: the profile is centred at (W / 2, H / 2) and rolled by (H // 2, W // 2), as C-bar's is
at (im_size / 2, im_size / 2). An odd width gets C-bar's middle column of phases [c, 0, reversed c]
(c: H // 2 draws; the 0 only where H is odd), the 180-degree symmetry its halves have.
"""

from __future__ import annotations

import functools
import math

import torch

from ._cbar import REFERENCE, cbar_levels, check_severity, float_parameter, severity_rule
from ._registry import Draws, register_corruption

TWO_PI = 2 * math.pi


def sample_phase_fields(generator: torch.Generator, height: int, width: int, fields: int) -> Draws:
    """U(0, 2 pi) phases of ``fields`` noise fields, each as C-bar draws them: the left half
    (H, W // 2), then, for an odd width, H // 2 phases of the middle column."""
    halves, columns = [], []
    for _ in range(fields):
        halves.append(torch.rand(height, width // 2, generator=generator, dtype=torch.float64) * TWO_PI)
        if width % 2:
            columns.append(torch.rand(height // 2, generator=generator, dtype=torch.float64) * TWO_PI)
    draws = {"phases": torch.stack(halves)}
    if width % 2:
        draws["middle_phases"] = torch.stack(columns)
    return draws


def phase_sources(height: int, width: int) -> torch.Tensor:
    """(H, W) index of each phase of C-bar's full (unrolled) phase array in the flat draws
    [left halves (H * (W // 2)), middle column (H // 2), one zero]: the left half, for an odd
    width the middle column [c, 0, reversed c], and the left half turned by 180 degrees."""
    half = width // 2
    ys = torch.arange(height)[:, None]
    xs = torch.arange(width)[None, :]
    left = ys * half + xs
    turned = (height - 1 - ys) * half + (width - 1 - xs)
    sources = torch.where(xs < half, left, turned)
    if width % 2:
        middle_start, pairs = height * half, height // 2
        column = torch.where(ys < pairs, middle_start + ys,
                             torch.where(ys >= height - pairs, middle_start + height - 1 - ys,
                                         middle_start + pairs))  # the zero follows the middle draws
        sources = torch.where(xs == half, column, sources)
    return sources


def flat_phases(draws: Draws) -> torch.Tensor:
    """(B, F, n) the draws in ``phase_sources`` order: halves, middle column, a zero."""
    halves = draws["phases"]
    parts = [halves.flatten(-2)]
    if "middle_phases" in draws:
        parts.append(draws["middle_phases"])
    parts.append(halves.new_zeros(*halves.shape[:-2], 1))
    return torch.cat(parts, dim=-1)


def radius_from_centre(height: int, width: int) -> torch.Tensor:
    """(H, W) float64 distance of each index (x, y) from (W / 2, H / 2)."""
    ys = torch.arange(height, dtype=torch.float64) - height / 2
    xs = torch.arange(width, dtype=torch.float64) - width / 2
    return torch.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)


@functools.lru_cache(maxsize=16)
def half_spectrum_maps(height: int, width: int, profile: str) -> tuple[torch.Tensor, ...]:
    """For the rolled spectrum Z (C-bar's roll by (H // 2, W // 2)) on the half plane kx = 0..W // 2:
    the phase source at k and at -k, half the power at k and at -k, and each column's count in the
    full spectrum (1 for kx = 0 and, for an even width, kx = W / 2; 2 for the others).
    Z[k] = A[(k - (H // 2, W // 2)) mod (H, W)]."""
    sources = phase_sources(height, width)
    radius = radius_from_centre(height, width)
    power = radius if profile == "blue" else 1 / (radius ** 2 + 1)
    ky = torch.arange(height)[:, None]
    kx = torch.arange(width // 2 + 1)[None, :]

    def at(rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, x = (rows - height // 2) % height, (cols - width // 2) % width
        return sources[y, x], power[y, x] * 0.5

    source, half_power = at(ky, kx)
    mirror, half_power_mirror = at(-ky % height, -kx % width)
    counts = torch.full((width // 2 + 1,), 2.0, dtype=torch.float64)
    counts[0] = 1.0
    if width % 2 == 0:
        counts[-1] = 1.0
    return source, mirror, half_power, half_power_mirror, counts


def random_phase_noise(draws: Draws, height: int, width: int, profile: str,
                       device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """real(ifft2(roll(power * e^(i phases)))) per field, (B, F, H, W) float64, and its standard
    deviation (B, F, 1, 1) (population, as np.std): C-bar's noise is the first divided by the second.

    The real part of an inverse FFT is the inverse real FFT of the spectrum's Hermitian part,
    (Z[k] + conj(Z[-k])) / 2, which needs trigonometry on the drawn half of the phases only and
    half the transform; its variance follows from that half spectrum (Parseval).
    """
    source, mirror, half_power, half_power_mirror, counts = (
        t.to(device) for t in half_spectrum_maps(height, width, profile))
    flat = flat_phases(draws).to(torch.float64)
    batch, fields = flat.shape[:2]
    cos, sin = torch.cos(flat), torch.sin(flat)

    def gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return values.gather(2, index.reshape(1, 1, -1).expand(batch, fields, -1)).reshape(
            batch, fields, *index.shape)

    real = gather(cos, source) * half_power + gather(cos, mirror) * half_power_mirror
    imag = gather(sin, source) * half_power - gather(sin, mirror) * half_power_mirror
    noise = torch.fft.irfft2(torch.complex(real, imag), s=(height, width))
    # Population variance = (sum over the full spectrum of |Z|^2 without the mean term) / N^2.
    energy = ((real ** 2 + imag ** 2) * counts).sum(dim=(-2, -1)) - real[..., 0, 0] ** 2
    std = torch.sqrt(energy.clamp_min(0)) / (height * width)
    return noise, std[..., None, None]


# ------------------------------------------------------------------------------------ blue_noise_sample

def blue_noise_physical(severity: float) -> dict[str, float]:
    return {"threshold": float_parameter(severity, 3.0) - 2.5}


def sample_blue_noise(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The phases of one blue-noise field."""
    return sample_phase_fields(generator, height, width, fields=1)


@register_corruption("blue_noise_sample", family="noise", sample=sample_blue_noise,
                     levels=cbar_levels((0.8, 1.6, 2.4, 4.0, 5.6), blue_noise_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("blue_noise_sample", blue_noise_physical),
                     reference=f"{REFERENCE} BlueNoiseSample")
def blue_noise_sample(images: torch.Tensor, draws: Draws, *, severity: float | None,
                      threshold: float) -> torch.Tensor:
    """Black out the pixels where a std-normalised blue-noise field is at or below a threshold.

    Blue noise: power proportional to the distance from the spectrum's centre, random phases. One
    field for all channels. Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the phases).
    """
    check_severity("blue_noise_sample", severity, blue_noise_physical, {"threshold": threshold})
    noise, std = random_phase_noise(draws, *images.shape[-2:], "blue", images.device)
    return images * (noise > float(threshold) * std).to(images.dtype)


# ------------------------------------------------------------------------------------ brownish_noise

def brownish_physical(severity: float) -> dict[str, float]:
    return {"intensity": float_parameter(severity, 64.0)}


def sample_brownish_noise(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The phases of three fields, one per channel (red, green, blue, in C-bar's order)."""
    return sample_phase_fields(generator, height, width, fields=3)


@register_corruption("brownish_noise", family="noise", sample=sample_brownish_noise,
                     levels=cbar_levels((1.0, 2.0, 3.0, 4.0, 5.0), brownish_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("brownish_noise", brownish_physical),
                     reference=f"{REFERENCE} BrownishNoise")
def brownish_noise(images: torch.Tensor, draws: Draws, *, severity: float | None,
                   intensity: float) -> torch.Tensor:
    """Add std-normalised brownish noise (power 1 / (r^2 + 1)), one field per channel.

    ``intensity`` is in 8-bit levels: x + intensity / 255 * noise, clipped.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the phases).
    """
    check_severity("brownish_noise", severity, brownish_physical, {"intensity": intensity})
    noise, std = random_phase_noise(draws, *images.shape[-2:], "brownish", images.device)
    return (images + (noise * (float(intensity) / 255 / std)).to(images.dtype)).clamp_(0, 1)
