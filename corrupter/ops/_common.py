"""Shared math for kernels: separable correlation, spectra, band masks, the plasma fractal, 8-bit levels."""

from __future__ import annotations

import functools
import math
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


@functools.lru_cache(maxsize=64)
def _band_basis(n: int, bandwidth: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """Orthonormal real basis (n, r) of the centred band |f| <= bandwidth // 2 along an axis of length n.

    Columns: the constant, then cos and sin of each frequency 1 .. bandwidth // 2 (r = bandwidth),
    built in float64. U @ U.T is the axis's band filter, a real symmetric matrix (the band is
    symmetric about DC). None when the band holds every frequency of the axis (the filter is the
    identity; for even n that includes the lone Nyquist frequency -n/2).
    """
    half = bandwidth // 2
    if half >= n // 2:
        return None
    angles = torch.outer(torch.arange(n, dtype=torch.float64),
                         torch.arange(1, half + 1, dtype=torch.float64)) * (2 * math.pi / n)
    columns = [torch.full((n, 1), 1 / math.sqrt(n), dtype=torch.float64),
               torch.stack([angles.cos(), angles.sin()], dim=-1).reshape(n, 2 * half) * math.sqrt(2 / n)]
    return torch.cat(columns, dim=1).to(dtype=dtype, device=device)


def low_pass_band(images: torch.Tensor, bandwidth: int) -> torch.Tensor:
    """Keep only the central bandwidth x bandwidth frequencies of each (H, W) plane; the real image.

    The same filter as zeroing a centred spectrum outside ``central_band_mask`` and transforming
    back. A square band is separable, so for a narrow band it is U_H U_H^T X U_W U_W^T, low-rank
    real products (about 2 x bandwidth multiply-adds per pixel, see ``_band_basis``); a wide band (more
    than a third of the shorter side) goes through a real FFT pair, which is cheaper there. The
    choice depends on the shape and bandwidth only, so it is the same for every batch.
    """
    height, width = images.shape[-2:]
    if bandwidth < 1 or bandwidth % 2 == 0:
        raise ValueError(f"bandwidth must be a positive odd number of frequencies, got {bandwidth}")
    if 3 * bandwidth > min(height, width):
        centred = central_band_mask(height, width, bandwidth, images.device)
        keep = torch.fft.ifftshift(centred, dim=(0, 1))[:, :width // 2 + 1]  # rfft2's half, FFT order
        spectrum = torch.fft.rfft2(images) * keep.to(images.dtype)
        return torch.fft.irfft2(spectrum, s=(height, width))
    rows = _band_basis(height, bandwidth, images.dtype, images.device)
    cols = _band_basis(width, bandwidth, images.dtype, images.device)
    # The mean (DC, always in the band) is taken out first and added back exactly: in float32 the
    # bases are orthonormal to about 1e-7, and DC, by far the largest term of an image, would leak
    # that much of itself into the removed frequencies.
    means = images.mean(dim=(-2, -1), keepdim=True, dtype=torch.float64).to(images.dtype)
    out = images - means
    # Rows first: (r, H) @ (H, W) runs several times faster on the CPU than (H, W) @ (W, r) for small r.
    if rows is not None:
        out = rows.T.contiguous() @ out  # (..., r, W)
    if cols is not None:
        out = (out @ cols) @ cols.T.contiguous()
    if rows is not None:
        out = rows @ out
    return out.add_(means)


def next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def plasma_draw_count(mapsize: int) -> int:
    """How many U(-1, 1) numbers one plasma fractal of side ``mapsize`` consumes."""
    total, step = 0, mapsize
    while step >= 2:
        total += 3 * (mapsize // step) ** 2
        step //= 2
    return total


def _plus_rolled(a: torch.Tensor, b: torch.Tensor, shift: int, dim: int,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """``a + torch.roll(b, shift, dim)`` for shift +-1, without roll's copy (``out`` may be ``a``)."""
    n = a.shape[dim]
    if out is None:
        out = torch.empty_like(a)
    if n == 1:
        return torch.add(a, b, out=out)
    if shift == -1:  # out[k] = a[k] + b[k + 1], wrapping at the end
        torch.add(a.narrow(dim, 0, n - 1), b.narrow(dim, 1, n - 1), out=out.narrow(dim, 0, n - 1))
        torch.add(a.narrow(dim, n - 1, 1), b.narrow(dim, 0, 1), out=out.narrow(dim, n - 1, 1))
    else:  # out[k] = a[k] + b[k - 1], wrapping at the start
        torch.add(a.narrow(dim, 1, n - 1), b.narrow(dim, 0, n - 1), out=out.narrow(dim, 1, n - 1))
        torch.add(a.narrow(dim, 0, 1), b.narrow(dim, n - 1, 1), out=out.narrow(dim, 0, 1))
    return out


def plasma_fractal(uniform: torch.Tensor, mapsize: int, decay: float, height: int | None = None,
                   width: int | None = None) -> torch.Tensor:
    """ImageNet-C's diamond-square plasma (make_imagenet_c.py ``plasma_fractal``), batched.

    ``uniform`` is (B, plasma_draw_count(mapsize)) of U(-1, 1), consumed in the reference's order
    (per octave: squares, then the two diamond grids). The reference's noise is
    ``wibble * U(-wibble, wibble)``, i.e. amplitude wibble squared: kept on purpose, it defines the
    ImageNet-C fog distribution. Output (B, height, width) float32 in [0, 1]: the top-left
    ``height`` x ``width`` (default: all) of the mapsize x mapsize map, normalised by the global
    min and max of the whole map.
    """
    batch = uniform.shape[0]
    uniform = uniform.to(torch.float64)
    # The grid known so far (every step-th point), contiguous: (B, mapsize / step, mapsize / step).
    # Each octave computes its three new grids on it and interleaves them into the next, twice as
    # fine; the same float64 operations, in the same order, as the reference's strided updates
    # of one mapsize x mapsize array (which cost twice as much). Rolls are shifted additions.
    grid = uniform.new_zeros(batch, 1, 1)
    step, wibble, offset = mapsize, 100.0, 0

    def wibbled_mean(total: torch.Tensor) -> torch.Tensor:
        nonlocal offset
        count = total.shape[-2] * total.shape[-1]
        noise = uniform[:, offset:offset + count].reshape(total.shape)
        offset += count
        # * 0.25 is / 4 exactly; no add_(alpha=) here: torch may fuse it into one rounding (FMA)
        return total.mul_(0.25).add_(noise * (wibble * wibble))

    while step >= 2:
        corners = grid
        squares = _plus_rolled(corners, corners, -1, 1)
        squares = _plus_rolled(squares, squares, -1, 2)
        centres = wibbled_mean(squares)  # (half, half) offsets: between four corners
        # ((centres + roll(centres)) + corners) + roll(corners): the reference's grouping
        left = _plus_rolled(centres, centres, 1, 1).add_(corners)
        left = wibbled_mean(_plus_rolled(left, corners, -1, 2, out=left))
        top = _plus_rolled(centres, centres, 1, 2).add_(corners)
        top = wibbled_mean(_plus_rolled(top, corners, -1, 1, out=top))
        size = grid.shape[-1]
        # finer[i, a, j, b] is the point (2i + a, 2j + b) (torch.stack would interleave 3x slower)
        finer = grid.new_empty(batch, size, 2, size, 2)
        finer[:, :, 0, :, 0], finer[:, :, 0, :, 1] = corners, left
        finer[:, :, 1, :, 0], finer[:, :, 1, :, 1] = top, centres
        grid = finer.view(batch, 2 * size, 2 * size)
        step //= 2
        wibble /= decay
    # The reference subtracts the minimum, then divides by the maximum of the result: rounding is
    # monotonic, so that maximum is (max - min) rounded, and only the part kept needs either step.
    low = grid.amin(dim=(1, 2), keepdim=True)
    span = grid.amax(dim=(1, 2), keepdim=True) - low
    kept = grid[:, :height or mapsize, :width or mapsize]
    return (kept - low).div_(span).to(torch.float32)


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
