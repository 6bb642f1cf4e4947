"""Noise corruptions of ImageNet-C (Hendrycks & Dietterich 2019): gaussian, shot, impulse, speckle.

Every op draws one random number per element (channel x row x column) in its sampler, on the CPU,
from the sample's own generator; the kernel only does arithmetic on those draws. Severity tables
are those of make_imagenet_c.py (224x224); the noise is per pixel, so the same parameters hold at
any image size.

Deliberate deviations from make_imagenet_c.py (none changes the distribution of the output):
- Random numbers come from torch generators, not NumPy's global state, so the streams differ
  (ImageNet-C has no canonical seed; robustness#31).
- gaussian_noise / speckle_noise: float32 normals and float32 arithmetic (the reference uses
  float64). Output levels can differ by one where a value falls within float32 rounding of a level.
- shot_noise: the Poisson variate is the exact inverse CDF of one float64 uniform (a table per 8-bit
  input level, see ``poisson_tables``), so its rate uses the 8-bit level of the input, as the
  reference's input always is (``np.array(pil) / 255``); a float input off the 8-bit grid is rounded
  down to its level (``quantize_uint8``) for the rate. The Poisson tail beyond ``poisson_support``
  (probability < 1e-30) is cut.
- impulse_noise: one uniform per element decides both the hit and its colour (u < a/2: salt,
  a/2 <= u < a: pepper); skimage ``random_noise(mode='s&p')`` draws two independent Bernoulli masks
  (hit with probability a, salt with probability 1/2), which gives the same distribution.
"""

from __future__ import annotations

import functools
import math

import torch

from ._common import quantize_uint8
from ._registry import Draws, register_corruption

GAUSSIAN_SEVERITIES = tuple({"sigma": s} for s in (0.08, 0.12, 0.18, 0.26, 0.38))
SHOT_SEVERITIES = tuple({"photons": c} for c in (60, 25, 12, 5, 3))
IMPULSE_SEVERITIES = tuple({"amount": a} for a in (0.03, 0.06, 0.09, 0.17, 0.27))
SPECKLE_SEVERITIES = tuple({"sigma": s} for s in (0.15, 0.20, 0.35, 0.45, 0.60))

_REFERENCE = "hendrycks/robustness make_imagenet_c.py"
GUIDE_BINS = 1024  # guide-table bins per level for the Poisson inverse CDF


def sample_normal(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """One standard normal per element, (3, H, W) float32."""
    return {"normal": torch.randn(3, height, width, generator=generator)}


def sample_uniform(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """One U[0, 1) per element, (3, H, W) float32."""
    return {"uniform": torch.rand(3, height, width, generator=generator)}


def sample_uniform64(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """One U[0, 1) per element, (3, H, W) float64 (fine enough to reach the far Poisson tails)."""
    return {"uniform": torch.rand(3, height, width, generator=generator, dtype=torch.float64)}


@register_corruption("gaussian_noise", family="noise", levels=GAUSSIAN_SEVERITIES, sample=sample_normal,
                     tags=("imagenet-c",), reference=f"{_REFERENCE} gaussian_noise")
def gaussian_noise(images: torch.Tensor, draws: Draws, *, sigma: float) -> torch.Tensor:
    """Add i.i.d. zero-mean Gaussian noise of standard deviation sigma to every element.

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (one normal per element).
    """
    return (images + float(sigma) * draws["normal"]).clamp_(0, 1)


@register_corruption("speckle_noise", family="noise", levels=SPECKLE_SEVERITIES, sample=sample_normal,
                     tags=("imagenet-c-extra",), reference=f"{_REFERENCE} speckle_noise")
def speckle_noise(images: torch.Tensor, draws: Draws, *, sigma: float) -> torch.Tensor:
    """Multiplicative Gaussian noise: x + x * N(0, sigma^2), i.i.d. per element.

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (one normal per element).
    """
    return (images + images * (float(sigma) * draws["normal"])).clamp_(0, 1)


@register_corruption("impulse_noise", family="noise", levels=IMPULSE_SEVERITIES, sample=sample_uniform,
                     tags=("imagenet-c",), reference=f"{_REFERENCE} impulse_noise (skimage s&p)")
def impulse_noise(images: torch.Tensor, draws: Draws, *, amount: float) -> torch.Tensor:
    """Salt-and-pepper noise: each element independently becomes 1 or 0, each with probability amount / 2.

    Channels are hit independently (coloured specks), as skimage ``random_noise`` does on an
    H x W x 3 array.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (one uniform per element).
    """
    uniform = draws["uniform"]
    # Indicators of u < a and u < a / 2 from the sign of a - u (exact in float32; +0.0 where not
    # set), and salt + x * keep for the choice: bit for bit what comparison masks and torch.where
    # give on finite inputs, at a third of the cost on the CPU, where torch's float comparisons
    # and where are not vectorised.
    below = uniform.neg()
    hit = torch.sign(below + float(amount)).clamp_(min=0)
    salt = torch.sign(below.add_(float(amount) / 2)).clamp_(min=0).to(images.dtype)
    keep = hit.neg_().add_(1).to(images.dtype)
    return torch.addcmul(salt, images, keep).clamp_(0, 1)


def poisson_support(max_rate: float) -> int:
    """Number of Poisson values 0..K-1 kept in the table: the tail beyond has probability < 1e-30."""
    return math.ceil(max_rate + 12 * math.sqrt(max_rate) + 40)


@functools.lru_cache(maxsize=16)
def poisson_tables(photons: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tables for drawing Poisson(level / 255 * photons) / photons at the 256 8-bit levels (CPU).

    Flat index ``level * K + k`` addresses count k of level ``level``:
    - ``cdf`` (256 * K,) float64: P(X <= k); the last entry of each level is set to 1 (cut tail)
      and level 0 (rate 0) is the point mass at 0;
    - ``value`` (256 * K,) float32: k / photons, the kernel's output for that count (before the clip);
    - ``guide`` (256 * GUIDE_BINS,) float32, entry (level, j) for u in [j, j + 1) / GUIDE_BINS: with
      k the smallest count with P(X <= k) >= j / GUIDE_BINS, the output k / photons itself where k
      is the answer for every u of the bin (P(X <= k) >= (j + 1) / GUIDE_BINS, most bins), else
      -(1 + flat index of k), where the search starts. float32 while every index is below 2^24
      (exact there; photons up to about 65,000), float64 beyond.
    Pure functions of ``photons``, hence cached.
    """
    levels = torch.arange(256, dtype=torch.float64)
    rates = (levels / 255 * photons)[:, None]
    support = poisson_support(photons)
    k = torch.arange(support, dtype=torch.float64)[None, :]
    log_pmf = k * torch.log(rates.clamp_min(1e-300)) - rates - torch.lgamma(k + 1)
    cdf = torch.cumsum(torch.exp(log_pmf), dim=1).clamp(max=1.0)
    cdf[0] = 1.0
    cdf[:, -1] = 1.0
    value = (k / photons).to(torch.float32).expand(256, support)
    bins = (torch.arange(GUIDE_BINS, dtype=torch.float64) / GUIDE_BINS).expand(256, GUIDE_BINS).contiguous()
    first = torch.searchsorted(cdf, bins)
    settled = cdf.gather(1, first) >= bins + 1 / GUIDE_BINS
    flat_first = first + torch.arange(256)[:, None] * support
    guide_dtype = torch.float32 if 256 * support < 2**24 else torch.float64
    guide = torch.where(settled, value.gather(1, first).to(guide_dtype), -(flat_first + 1).to(guide_dtype))
    return cdf.reshape(-1), value.reshape(-1), guide.reshape(-1)


def poisson_sample(levels: torch.Tensor, uniform: torch.Tensor, photons: float) -> torch.Tensor:
    """Poisson(level / 255 * photons) / photons by exact inverse CDF of ``uniform``, elementwise.

    Indexed search for the smallest k with P(X <= k) >= u: one guide-table lookup answers the
    elements in settled bins and gives the rest a start at or below their answer; nearly all of
    those are there or one step above. The remainder (u in a level's last guide bin, where the far
    tail crowds) search their whole row.
    """
    cdf, value, guide = (t.to(uniform.device) for t in poisson_tables(float(photons)))
    support = cdf.numel() // 256
    # u * bins is exact (bins is a power of two) and truncation floors it: the start never overshoots.
    # int32 indices and index_select: 2.5x faster than int64 and take on the CPU, same values.
    start = (uniform * GUIDE_BINS).to(torch.int32).add_(levels.to(torch.int32), alpha=GUIDE_BINS).reshape(-1)
    out = guide.index_select(0, start)
    pending = (out < 0).nonzero().squeeze(1)
    index = (-out[pending] - 1).to(torch.int64)
    flat_uniform = uniform.reshape(-1)[pending]
    index += cdf.index_select(0, index) < flat_uniform
    unresolved = (cdf.index_select(0, index) < flat_uniform).nonzero().squeeze(1)
    if unresolved.numel():
        row_start = index[unresolved] // support * support
        rows = cdf.view(256, support)[row_start // support]
        index[unresolved] = row_start + torch.searchsorted(rows, flat_uniform[unresolved, None]).squeeze(1)
    out[pending] = value.index_select(0, index).to(out.dtype)
    return out.reshape(levels.shape).to(torch.float32)


@register_corruption("shot_noise", family="noise", levels=SHOT_SEVERITIES, sample=sample_uniform64,
                     tags=("imagenet-c",), reference=f"{_REFERENCE} shot_noise")
def shot_noise(images: torch.Tensor, draws: Draws, *, photons: float) -> torch.Tensor:
    """Photon (Poisson) noise: Poisson(x * photons) / photons per element; fewer photons, more noise.

    ``photons`` is the expected photon count of a white element. The Poisson variate is the exact
    inverse CDF of the element's uniform draw, so the same draws give the same counts on any device.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (one uniform per element).
    """
    noisy = poisson_sample(quantize_uint8(images), draws["uniform"], float(photons))
    return noisy.clamp_(0, 1).to(images.dtype)
