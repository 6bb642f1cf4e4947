"""Geirhos et al. 2018: the Fourier-domain distortions, phase noise and power equalisation.

Both start from the grey image (_geirhos_common.grey), change its centred spectrum (the original works on
``fftshift(fft2(grey))``), take the real part of the inverse transform and clip to [0, 1]. The real
part of ifft2(S) is the inverse of the Hermitian part of S, (S(k) + conj S(-k)) / 2, so each op
is computed as one rfft2 / irfft2 pair with that Hermitian part folded into a per-frequency factor:
the same numbers as the original's complex transforms, for half the work. Both have an 8-bit
kernel (``apply_uint8``): their grey plane truncated to 8 bits before stacking (``on_levels``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch

from ._geirhos_common import REFERENCE, TAG, grey, number, on_levels, stacked
from ._registry import Draws, register_corruption

PHASE_NOISE_LEVELS = tuple({"width": w} for w in (0, 30, 60, 90, 120, 150, 180))
SPECTRUM_SIZE = 224  # the mean amplitude spectrum's side (the 224 px stimuli)


def mirrored(field: torch.Tensor) -> torch.Tensor:
    """field(-k) for a (..., H, W) field in unshifted FFT order (index -k mod n on both axes)."""
    return torch.roll(torch.flip(field, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


def half_plane(field: torch.Tensor) -> torch.Tensor:
    """The columns rfft2 keeps, 0..W//2."""
    return field[..., : field.shape[-1] // 2 + 1]


# ------------------------------------------------------------------------------------------- phase noise

def phase_shift_count(height: int, width: int) -> int:
    """How many shifts the original draws: length // 2 of the [1:, 1:] block of the spectrum."""
    return (height - 1) * (width - 1) // 2


def sample_phase_shifts(generator: torch.Generator, height: int, width: int, /, **_: object) -> Draws:
    """One U[0, 1) per shifted frequency pair, (phase_shift_count,) float32 (np.random.random).

    Positional-only size: phase_noise's own parameter ``width`` (degrees) arrives in ``_``.
    """
    return {"uniform": torch.rand(phase_shift_count(height, width), generator=generator)}


def phase_shift_layout(height: int, width: int) -> torch.Tensor:
    """Which shift each frequency gets, as the original lays them out: (H, W) int64, centred order.

    Entries index the extended shift vector e = [0, a_0 .. a_(n-1), -a_0 .. -a_(n-1)] (n =
    phase_shift_count; a_m = (u_m - 0.5) * 2 * width * pi / 180). ``shift_phases`` flattens the
    [1:, 1:] block of the centred spectrum (length L), adds a to its first n elements and subtracts
    the same a, IN THE SAME ORDER, from its last n (element L // 2, DC for even sizes, is untouched;
    so are row 0 and column 0). The partner of element m is L - 1 - m, so a pair gets +a_m and
    -a_(L-1-m-(L//2+1)): unrelated shifts, not the mirrored -a_m a Hermitian scramble needs. Kept:
    the published stimuli were made this way. The original runs on even H and W only (L odd); for
    an odd side (L even) its subtraction does not fit and raises, and we shift the last n elements,
    leaving none untouched.
    """
    count = phase_shift_count(height, width)
    block = torch.zeros((height - 1) * (width - 1), dtype=torch.int64)
    block[:count] = torch.arange(1, count + 1)
    block[block.numel() - count:] = torch.arange(count + 1, 2 * count + 1)
    layout = torch.zeros(height, width, dtype=torch.int64)
    layout[1:, 1:] = block.view(height - 1, width - 1)
    return layout


@functools.lru_cache(maxsize=16)
def shift_indices(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """For the rfft2 half plane (unshifted order, flattened): where in e each frequency's own shift
    D(k) and its conjugate partner's D(-k) are; int32 for the CPU's fast index_select."""
    own = torch.fft.ifftshift(phase_shift_layout(height, width), dim=(-2, -1))
    return tuple(half_plane(f).reshape(-1).to(device=device, dtype=torch.int32) for f in (own, mirrored(own)))


def phase_noise_plane(images: torch.Tensor, draws: Draws, *, width: float) -> torch.Tensor:
    w = number("phase_noise", "width", width, 0.0)
    height, width_px = images.shape[-2], images.shape[-1]
    luminance = grey(images)
    if height < 2 or width_px < 2:
        return luminance.clamp_(0, 1)  # no [1:, 1:] block: nothing is shifted
    shifts = (draws["uniform"].to(luminance.dtype) - 0.5) * (2 * w / 180 * math.pi)
    cosine, sine = torch.cos(shifts), torch.sin(shifts)
    unshifted = shifts.new_zeros(len(shifts), 1)  # e_0: the frequencies the original leaves alone
    cos_e = torch.cat([unshifted + 1, cosine, cosine], dim=1)
    sin_e = torch.cat([unshifted, sine, -sine], dim=1)
    own, partner = shift_indices(height, width_px, images.device)
    # Re ifft2(F e^{iD}) = irfft2 of F(k) (e^{iD(k)} + e^{-iD(-k)}) / 2 on the half plane.
    real = cos_e.index_select(1, own).add_(cos_e.index_select(1, partner)).mul_(0.5)
    imag = sin_e.index_select(1, own).sub_(sin_e.index_select(1, partner)).mul_(0.5)
    factor = torch.complex(real, imag).view(len(shifts), height, width_px // 2 + 1)
    spectrum = torch.fft.rfft2(luminance).mul_(factor)
    return torch.fft.irfft2(spectrum, s=(height, width_px)).clamp_(0, 1)


@register_corruption("phase_noise", family="fourier", levels=PHASE_NOISE_LEVELS, sample=sample_phase_shifts,
                     tags=TAG, reference=f"{REFERENCE} phase_scrambling (scramble_phases, shift_phases)",
                     apply_uint8=on_levels(phase_noise_plane))
def phase_noise(images: torch.Tensor, draws: Draws, *, width: float) -> torch.Tensor:
    """Greyscale, each frequency's phase shifted by U(-width, width) degrees, real part, clipped.

    The original's pairing quirk is kept (see ``phase_shift_layout``): conjugate frequencies get
    unrelated shifts, the spectrum stops being Hermitian and the real part loses energy, so contrast
    falls as the width grows (about 1/sqrt(2) of the amplitude at 180 degrees).
    Shape: (B, 3, H, W) -> (B, 3, H, W). Stochastic ((H-1)(W-1)/2 uniforms).
    """
    return stacked(phase_noise_plane(images, draws, width=width))


# ----------------------------------------------------------------------------------- power equalisation

def amplitude_for(spectrum: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The 224x224 mean amplitude spectrum (centred) for an (H, W) image, in unshifted order.

    224x224: the original's array. Other sizes (our extension; the original refuses them): the
    spectrum is read at the same frequency in cycles per pixel (bilinear, centred grid) and scaled
    as a stationary image's spectrum scales with its pixel count N: sqrt(N / 224^2) off DC,
    N / 224^2 at DC, so mean grey level and contrast stay those of the 224 px stimuli.
    """
    if (height, width) != (SPECTRUM_SIZE, SPECTRUM_SIZE):
        pixels = height * width / SPECTRUM_SIZE ** 2
        centre = SPECTRUM_SIZE // 2
        dc = spectrum[centre, centre].item()
        # DC (the mean, 50x its neighbours) must not leak into the frequencies interpolated next to
        # it: stand in the mean of its four neighbours while resampling.
        spectrum = spectrum.clone()
        spectrum[centre, centre] = (spectrum[centre - 1, centre] + spectrum[centre + 1, centre]
                                    + spectrum[centre, centre - 1] + spectrum[centre, centre + 1]) / 4
        rows = _resample_axis(spectrum, height, dim=0)
        spectrum = _resample_axis(rows, width, dim=1) * math.sqrt(pixels)
        spectrum[height // 2, width // 2] = dc * pixels
    return torch.fft.ifftshift(spectrum, dim=(-2, -1))


def _resample_axis(spectrum: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Linear interpolation along ``dim`` at centred frequency f * 224 / size (edges clamped)."""
    source = SPECTRUM_SIZE // 2 + (torch.arange(size, dtype=torch.float64) - size // 2) * SPECTRUM_SIZE / size
    source = source.clamp(0, SPECTRUM_SIZE - 1)
    below = source.floor().to(torch.int64).clamp(max=SPECTRUM_SIZE - 2)
    frac = (source - below).to(spectrum.dtype)
    below = below.to(spectrum.device)
    lo, hi = spectrum.index_select(dim, below), spectrum.index_select(dim, below + 1)
    shape = [1, 1]
    shape[dim] = size
    frac = frac.to(spectrum.device).view(shape)
    return lo + (hi - lo) * frac


@functools.lru_cache(maxsize=8)
def half_plane_amplitude(mean_spectrum: torch.Tensor, height: int, width: int, device: torch.device,
                         dtype: torch.dtype) -> torch.Tensor:
    """(A(k) + A(-k)) / 2 on the rfft2 half plane, A = ``amplitude_for`` the asset: what
    power_equalisation multiplies every image's phases by, made once per asset, size and dtype
    (the cache holds the asset tensor, so its key cannot be reused by another one)."""
    amplitude = amplitude_for(mean_spectrum.to(device, torch.float64), height, width)
    return half_plane((amplitude + mirrored(amplitude)) / 2).to(dtype)


def power_equalisation_plane(images: torch.Tensor, draws: Draws, *,
                             assets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    height, width = images.shape[-2], images.shape[-1]
    # Re ifft2(A e^{i phase}) = irfft2 of (A(k) + A(-k)) / 2 * e^{i phase(k)} (phase(-k) = -phase(k)).
    amplitude = half_plane_amplitude(assets["geirhos_power_spectrum"], height, width, images.device,
                                     images.dtype)
    spectrum = torch.fft.rfft2(grey(images))
    parts = torch.view_as_real(spectrum)
    magnitude = parts[..., 0].square() + parts[..., 1].square()
    zero = magnitude == 0
    unit = spectrum / magnitude.add_(zero).sqrt_() + zero  # e^{i phase}; 1 where F is 0
    return torch.fft.irfft2(unit * amplitude, s=(height, width)).clamp_(0, 1)


@register_corruption("power_equalisation", family="fourier", levels=({},), tags=TAG,
                     assets=("geirhos_power_spectrum",), apply_uint8=on_levels(power_equalisation_plane),
                     reference=f"{REFERENCE} power_equalisation (equalise_power_spectrum)")
def power_equalisation(images: torch.Tensor, draws: Draws, *,
                       assets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Greyscale, amplitude spectrum replaced by the stimuli's mean one (phases kept), clipped.

    The mean spectrum (``mean_power_spectrum_grey.npy``, 224x224) sets every output's mean to
    22803.9 / 224^2 = 0.4545 before clipping. A frequency whose amplitude is 0 keeps phase 0, as
    np.angle(0). Other image sizes: see ``amplitude_for``. Shape: (B, 3, H, W) -> (B, 3, H, W).
    Deterministic; one level, no parameters.
    """
    return stacked(power_equalisation_plane(images, draws, assets=assets))
