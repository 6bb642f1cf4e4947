"""Fourier-basis noise (Yin et al. 2019, "A Fourier Perspective on Model Robustness")."""

from __future__ import annotations

import functools
import math

import torch

from ._registry import Draws, register_corruption

# Severities sweep the perturbation norm at one documented frequency. 15.7 (severity 3) is the
# paper's ImageNet norm at 224x224 with pixels in [0, 1]. The default frequency, 8 cycles per image
# vertically and horizontally, is a low-to-mid frequency inside the 63x63 heat-map square where
# naturally trained ImageNet models are already sensitive.
FOURIER_SEVERITIES = tuple({"i": 8, "j": 8, "norm": v} for v in (4.0, 8.0, 15.7, 24.0, 32.0))


def fourier_basis(height: int, width: int, i: int, j: int, device: torch.device | None = None) -> torch.Tensor:
    """The real, unit-L2-norm Fourier basis image U_ij of the official heat-map code, (H, W) float32.

    (i, j) are signed frequency offsets from DC (cycles per image along H and W), i.e. position
    (H//2 + i, W//2 + j) of the centred spectrum. google-research ``frequency_analysis``
    (``freq_heatmap._get_fourier_basis``) walks that spectrum in row-major order; at the first
    member of each conjugate pair it reaches it puts (1+1j)/2 there and (1-1j)/2 at the partner,
    and stores real(ifft2) * sqrt(H*W) as the image of BOTH positions. So with
    theta = 2 pi (i y / H + j x / W):

    * the member visited first (position before its partner's in row-major order): (cos - sin)(theta) / sqrt(N);
    * the member visited second: (cos + sin)(theta) / sqrt(N), the same image as its partner's;
    * a point that is its own partner (DC, Nyquist points): cos(theta) / sqrt(N).

    That closed form is evaluated here from the second-visited member (separably, phases reduced
    exactly modulo the period), in float64, then rounded to float32: the official arrays to float32
    rounding. Cheap (a few outer products of H- and W-vectors) and cached for the last 64 frequencies.
    """
    check_frequency(height, width, i=i, j=j)
    position = (height // 2 + i, width // 2 + j)
    partner = (_partner(position[0], height), _partner(position[1], width))
    # Both members of a pair get one image, computed (and cached) once from the second-visited one.
    second = max(position, partner)
    return _basis_cpu(height, width, second[0] - height // 2, second[1] - width // 2,
                      partner != position).to(device=device, copy=True)


def check_frequency(height: int, width: int, *, i: int, j: int, **_: object) -> None:
    """ValueError unless (i, j) is a frequency of the centred height x width spectrum (the dry run's
    check of every variant: the kernel refuses nothing else)."""
    if not (-(height // 2) <= i < height - height // 2 and -(width // 2) <= j < width - width // 2):
        raise ValueError(f"frequency (i={i}, j={j}) is outside the {height}x{width} spectrum: i in "
                         f"{-(height // 2)}..{height - height // 2 - 1}, j in {-(width // 2)}..{width - width // 2 - 1}")


@functools.lru_cache(maxsize=64)
def _basis_cpu(height: int, width: int, i: int, j: int, paired: bool) -> torch.Tensor:
    """(cos + sin)(theta) / sqrt(N) for the second-visited member of a pair, cos(theta) / sqrt(N) unpaired."""
    row_cos, row_sin = _unit_circle(i, height)
    col_cos, col_sin = _unit_circle(j, width)
    basis = torch.outer(row_cos, col_cos) - torch.outer(row_sin, col_sin)  # cos(theta)
    if paired:
        basis += torch.outer(row_sin, col_cos) + torch.outer(row_cos, col_sin)  # sin(theta)
    return basis.div_(math.sqrt(height * width)).to(torch.float32)


def _unit_circle(frequency: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of 2 pi frequency t / n for t = 0 .. n-1, float64, the phase reduced mod n in integers.

    Python's math (glibc) rather than torch's vectorised cos and sin, whose float64 results may
    depend on the CPU's instruction set: the basis, and so the bytes of a release, must not.
    """
    phases = [2 * math.pi * ((frequency * t) % n) / n for t in range(n)]
    return (torch.tensor([math.cos(p) for p in phases], dtype=torch.float64),
            torch.tensor([math.sin(p) for p in phases], dtype=torch.float64))


def _partner(p: int, n: int) -> int:
    """Index of the conjugate-symmetric partner of centred index p on an axis of length n (the official rule)."""
    return (n - p) % n if n % 2 == 0 else n - 1 - p


def sample_fourier_signs(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """One random sign per channel (Yin et al.: r uniform on {-1, +1}, independent per channel)."""
    signs = torch.randint(0, 2, (3,), generator=generator).to(torch.float32) * 2 - 1
    return {"signs": signs}


@register_corruption("fourier_basis_noise", family="fourier", levels=FOURIER_SEVERITIES,
                     sample=sample_fourier_signs, tags=("yin2019",), check=check_frequency,
                     reference="Yin et al. 2019, sec. 2; google-research frequency_analysis")
def fourier_basis_noise(images: torch.Tensor, draws: Draws, *, i: int, j: int, norm: float) -> torch.Tensor:
    """Add norm * U_ij with a random sign per channel: X + r * v * U_ij, clipped to [0, 1].

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the signs r). ``norm`` is the L2 norm of
    the perturbation per channel, pixels in [0, 1].
    """
    basis = fourier_basis(images.shape[-2], images.shape[-1], int(i), int(j), images.device)
    signs = draws["signs"][:, :, None, None]
    return (images + signs * float(norm) * basis).clamp_(0, 1)
