"""Fourier-basis noise (Yin et al. 2019, "A Fourier Perspective on Model Robustness")."""

from __future__ import annotations

import math

import torch

from ._registry import Draws, register_corruption

# Severities sweep the perturbation norm at one documented frequency. 15.7 (severity 3) is the
# paper's ImageNet norm at 224x224 with pixels in [0, 1]. The default frequency, 8 cycles per image
# vertically and horizontally, is a low-to-mid frequency inside the 63x63 heat-map square where
# naturally trained ImageNet models are already sensitive.
FOURIER_SEVERITIES = tuple({"i": 8, "j": 8, "norm": v} for v in (4.0, 8.0, 15.7, 24.0, 32.0))


def fourier_basis(height: int, width: int, i: int, j: int, device: torch.device | None = None) -> torch.Tensor:
    """The real, unit-L2-norm Fourier basis image U_ij, (H, W) float32.

    (i, j) are signed frequency offsets from DC (cycles per image along H and W), i.e. position
    (H//2 + i, W//2 + j) of the centred spectrum. Construction of the official code
    (google-research frequency_analysis): (1+1j)/2 at (i, j) and (1-1j)/2 at its conjugate partner,
    or 1 where the point is its own partner (DC, Nyquist), then real(ifft2) * sqrt(H*W).
    """
    if not (-(height // 2) <= i < height - height // 2 and -(width // 2) <= j < width - width // 2):
        raise ValueError(f"frequency (i={i}, j={j}) is outside the {height}x{width} spectrum")
    spectrum = torch.zeros(height, width, dtype=torch.complex128)
    ci, cj = height // 2 + i, width // 2 + j
    pi, pj = _partner(ci, height), _partner(cj, width)
    if (pi, pj) == (ci, cj):
        spectrum[ci, cj] = 1.0
    else:
        spectrum[ci, cj] = complex(0.5, 0.5)
        spectrum[pi, pj] = complex(0.5, -0.5)
    basis = torch.fft.ifft2(torch.fft.ifftshift(spectrum)).real * math.sqrt(height * width)
    return basis.to(device=device, dtype=torch.float32)


def _partner(p: int, n: int) -> int:
    """Index of the conjugate-symmetric partner of centred index p on an axis of length n."""
    return (n - p) % n if n % 2 == 0 else n - 1 - p


def sample_fourier_signs(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """One random sign per channel (Yin et al.: r uniform on {-1, +1}, independent per channel)."""
    signs = torch.randint(0, 2, (3,), generator=generator).to(torch.float32) * 2 - 1
    return {"signs": signs}


@register_corruption("fourier_basis_noise", family="fourier", levels=FOURIER_SEVERITIES,
                     sample=sample_fourier_signs, tags=("yin2019",),
                     reference="Yin et al. 2019, sec. 2; google-research frequency_analysis")
def fourier_basis_noise(images: torch.Tensor, draws: Draws, *, i: int, j: int, norm: float) -> torch.Tensor:
    """Add norm * U_ij with a random sign per channel: X + r * v * U_ij, clipped to [0, 1].

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the signs r). ``norm`` is the L2 norm of
    the perturbation per channel, pixels in [0, 1].
    """
    basis = fourier_basis(images.shape[-2], images.shape[-1], int(i), int(j), images.device)
    signs = draws["signs"][:, :, None, None]
    return (images + signs * float(norm) * basis).clamp_(0, 1)
