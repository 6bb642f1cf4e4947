"""Shared math for kernels: separable correlation, spectra, band masks, the plasma fractal, 8-bit levels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

# Border modes by scipy.ndimage's names, with their OpenCV and torch equivalents:
#   'nearest' a a a | a b c d | d d d   cv2.BORDER_REPLICATE   F.pad 'replicate'  (any radius)
#   'reflect' c b a | a b c d | d c b   cv2.BORDER_REFLECT     (radius <= size)
#   'mirror'  d c b | a b c d | c b a   cv2.BORDER_REFLECT_101 F.pad 'reflect'    (radius < size)
BORDERS = ("nearest", "reflect", "mirror")


def pad_axis(layers: torch.Tensor, radius: int, dim: int, border: str) -> torch.Tensor:
    """Extend ``dim`` (-1 or -2) by ``radius`` pixels on both sides, filled by ``border`` (see BORDERS)."""
    if border == "reflect":
        size = layers.shape[dim]
        before = layers.narrow(dim, 0, radius).flip(dim)
        after = layers.narrow(dim, size - radius, radius).flip(dim)
        return torch.cat([before, layers, after], dim=dim)
    if border not in BORDERS:
        raise ValueError(f"unknown border {border!r}; known: {BORDERS}")
    pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
    return F.pad(layers, pad, mode="replicate" if border == "nearest" else "reflect")


def correlate_1d(layers: torch.Tensor, taps: Sequence[float], dim: int, border: str) -> torch.Tensor:
    """1-D correlation with odd-length ``taps`` along ``dim`` (-1 or -2), as shifted slices of the padded layers.

    out[k] = sum_t taps[t] * padded[k + t], accumulated in tap order. Shifted slices beat conv2d on
    the CPU for one channel and short kernels, by 3-10x.
    """
    radius = len(taps) // 2
    size = layers.shape[dim]
    padded = pad_axis(layers, radius, dim, border)
    out = padded.narrow(dim, 0, size) * taps[0]
    for offset, tap in enumerate(taps[1:], start=1):
        out.add_(padded.narrow(dim, offset, size), alpha=tap)
    return out


def correlate_separable(layers: torch.Tensor, taps: Sequence[float], border: str) -> torch.Tensor:
    """Correlate rows, then columns, with the same odd-length ``taps``. Shape: (..., H, W) -> (..., H, W)."""
    return correlate_1d(correlate_1d(layers, taps, -1, border), taps, -2, border)


def centred_frequencies(n: int, device: torch.device | None = None) -> torch.Tensor:
    """Signed integer frequencies of a length-n axis in fftshift order (DC at index n // 2)."""
    return torch.arange(n, device=device) - n // 2


def central_band_mask(height: int, width: int, bandwidth: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (H, W) mask, fftshift order, of the central bandwidth x bandwidth frequencies.

    ``bandwidth`` is odd, so the band is symmetric about DC and a masked spectrum stays Hermitian
    (its inverse transform is real): |fy| <= bandwidth // 2 and |fx| <= bandwidth // 2.
    """
    if bandwidth < 1 or bandwidth % 2 == 0:
        raise ValueError(f"bandwidth must be a positive odd number of frequencies, got {bandwidth}")
    half = bandwidth // 2
    fy = centred_frequencies(height, device).abs() <= half
    fx = centred_frequencies(width, device).abs() <= half
    return fy[:, None] & fx[None, :]


def filter_spectrum(images: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Zero every frequency outside ``keep`` (fftshift order, (H, W)) and return the real image."""
    spectrum = torch.fft.fftshift(torch.fft.fft2(images), dim=(-2, -1))
    spectrum = spectrum * keep.to(spectrum.dtype)
    return torch.fft.ifft2(torch.fft.ifftshift(spectrum, dim=(-2, -1))).real


def next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def plasma_draw_count(mapsize: int) -> int:
    """How many U(-1, 1) numbers one plasma fractal of side ``mapsize`` consumes."""
    total, step = 0, mapsize
    while step >= 2:
        total += 3 * (mapsize // step) ** 2
        step //= 2
    return total


def plasma_fractal(uniform: torch.Tensor, mapsize: int, decay: float) -> torch.Tensor:
    """ImageNet-C's diamond-square plasma (make_imagenet_c.py ``plasma_fractal``), batched.

    ``uniform`` is (B, plasma_draw_count(mapsize)) of U(-1, 1), consumed in the reference's order
    (per octave: squares, then the two diamond grids). The reference's noise is
    ``wibble * U(-wibble, wibble)``, i.e. amplitude wibble squared: kept on purpose, it defines the
    ImageNet-C fog distribution. Output (B, mapsize, mapsize) in [0, 1] (global min/max normalised).
    """
    batch = uniform.shape[0]
    maparray = uniform.new_zeros(batch, mapsize, mapsize, dtype=torch.float64)
    uniform = uniform.to(torch.float64)
    step, wibble, offset = mapsize, 100.0, 0

    def wibbled_mean(total: torch.Tensor) -> torch.Tensor:
        nonlocal offset
        count = total.shape[-2] * total.shape[-1]
        noise = uniform[:, offset:offset + count].reshape(total.shape)
        offset += count
        return total * 0.25 + wibble * wibble * noise  # * 0.25 is / 4 exactly, and cheaper

    while step >= 2:
        half = step // 2
        corners = maparray[:, 0::step, 0::step]
        squares = corners + torch.roll(corners, -1, dims=1)
        squares = squares + torch.roll(squares, -1, dims=2)
        maparray[:, half::step, half::step] = wibbled_mean(squares)
        centres = maparray[:, half::step, half::step]
        corners = maparray[:, 0::step, 0::step]
        left = centres + torch.roll(centres, 1, dims=1) + corners + torch.roll(corners, -1, dims=2)
        maparray[:, 0::step, half::step] = wibbled_mean(left)
        top = centres + torch.roll(centres, 1, dims=2) + corners + torch.roll(corners, -1, dims=1)
        maparray[:, half::step, 0::step] = wibbled_mean(top)
        step //= 2
        wibble /= decay
    flat = maparray.reshape(batch, -1)
    flat = flat - flat.min(dim=1, keepdim=True).values
    flat = flat / flat.max(dim=1, keepdim=True).values
    return flat.reshape(batch, mapsize, mapsize).to(torch.float32)


def quantize_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] -> uint8 by truncation, as ImageNet-C does (``np.uint8(x * 255)``).

    The 1e-4 guard keeps values that are integers in exact arithmetic (k / 255 * 255) from being
    truncated to k - 1 by float32 rounding; it moves nothing else across an integer.
    """
    return truncate_to_uint8(images.mul(255).add_(1e-4).clamp_(0, 255))


def truncate_to_uint8(values: torch.Tensor) -> torch.Tensor:
    """Floats in [0, 256) -> uint8 by truncation (i.e. floor), as ``np.uint8(x)`` on such values.

    Through int16: the same bytes as a direct cast, which torch does not vectorise on the CPU
    (about 4x slower for float32).
    """
    return values.to(torch.int16).to(torch.uint8)
