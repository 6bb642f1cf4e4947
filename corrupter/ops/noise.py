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
  input level, see ``_poisson``), so its rate uses the 8-bit level of the input, as the
  reference's input always is (``np.array(pil) / 255``); a float input off the 8-bit grid is rounded
  down to its level (``quantize_uint8``) for the rate. The Poisson tail beyond ``poisson_support``
  (probability < 1e-30) is cut. Its 8-bit kernel (``shot_noise_levels``, the worker's route) reads
  the output level of each count from the same tables.
- impulse_noise: one uniform per element decides both the hit and its colour (u < a/2: salt,
  a/2 <= u < a: pepper); skimage ``random_noise(mode='s&p')`` draws two independent Bernoulli masks
  (hit with probability a, salt with probability 1/2), which gives the same distribution.
"""

from __future__ import annotations

import torch

from ._common import quantize_uint8
from ._poisson import poisson_levels, poisson_sample
from ._registry import Draws, register_corruption

GAUSSIAN_SEVERITIES = tuple({"sigma": s} for s in (0.08, 0.12, 0.18, 0.26, 0.38))
SHOT_SEVERITIES = tuple({"photons": c} for c in (60, 25, 12, 5, 3))
IMPULSE_SEVERITIES = tuple({"amount": a} for a in (0.03, 0.06, 0.09, 0.17, 0.27))
SPECKLE_SEVERITIES = tuple({"sigma": s} for s in (0.15, 0.20, 0.35, 0.45, 0.60))

_REFERENCE = "hendrycks/robustness make_imagenet_c.py"


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


def shot_noise_levels(levels: torch.Tensor, draws: Draws, *, photons: float) -> torch.Tensor:
    """shot_noise on uint8 levels (the worker's 8-bit route, see CorruptionSpec.apply_uint8): the same
    counts, each one's output level read from the tables; no float image is made."""
    return poisson_levels(levels, draws["uniform"], float(photons))


@register_corruption("shot_noise", family="noise", levels=SHOT_SEVERITIES, sample=sample_uniform64,
                     tags=("imagenet-c",), reference=f"{_REFERENCE} shot_noise",
                     apply_uint8=shot_noise_levels)
def shot_noise(images: torch.Tensor, draws: Draws, *, photons: float) -> torch.Tensor:
    """Photon (Poisson) noise: Poisson(x * photons) / photons per element; fewer photons, more noise.

    ``photons`` is the expected photon count of a white element. The Poisson variate is the exact
    inverse CDF of the element's uniform draw, so the same draws give the same counts on any device.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (one uniform per element). 8-bit semantics in
    its input only (the rate); its output is off the 8-bit grid.
    """
    noisy = poisson_sample(quantize_uint8(images), draws["uniform"], float(photons))
    return noisy.clamp_(0, 1).to(images.dtype)
