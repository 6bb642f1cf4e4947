"""SciPy (``scipy.ndimage``), scikit-image and NumPy behaviours the reference ops rely on, in batched torch.

Each helper names the call it stands for and how closely it follows it. Gaussian filters work on the
last two dims of any tensor (one plane per leading index), on any device.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ._common import correlate_separable

# Longest kernel run as shifted slices; longer ones (elastic's sigma 19.5 and 170.8) use matrix products.
_MAX_SLICED_TAPS = 41
# Largest side filtered by matrix products (cached matrices of at most 2 MiB each).
_MAX_MATRIX_SIZE = 512


# ---------------------------------------------------------------------------------------------------
# Gaussian filters (scipy.ndimage.gaussian_filter; scikit-image ``gaussian`` calls it)


@functools.lru_cache(maxsize=64)
def gaussian_taps(sigma: float, truncate: float = 4.0) -> tuple[float, ...]:
    """scipy.ndimage's 1-D Gaussian weights (``_gaussian_kernel1d``), float64, bit for bit.

    Radius int(truncate * sigma + 0.5); weights exp(-0.5 / sigma^2 * x^2) in SciPy's operation
    order, divided by their sum taken NumPy's (pairwise) way. ``math.exp`` rather than ``np.exp``:
    glibc's exp is the same on every CPU, where NumPy's may take a SIMD path (they agree on every
    sigma the ops use).
    """
    sigma = float(sigma)
    radius = int(truncate * sigma + 0.5)
    variance = sigma * sigma
    weights = np.array([math.exp(-0.5 / variance * (x * x)) for x in range(-radius, radius + 1)])
    return tuple((weights / weights.sum()).tolist())


def gaussian_blur_nearest(layers: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """scikit-image ``gaussian(x, sigma, mode='nearest', truncate=4.0)``: edge pixels replicated.

    Separable, taps out to int(truncate * sigma + 0.5); sigma <= 0 is the identity (a copy).
    Shape: (B, C, H, W) -> (B, C, H, W); every channel blurred on its own. Deterministic.
    """
    if sigma <= 0:
        return layers.clone()
    return correlate_separable(layers, gaussian_taps(float(sigma), float(truncate)), "nearest")


@functools.lru_cache(maxsize=16)
def _reflect_gaussian_matrix_cpu(size: int, sigma: float, truncate: float) -> torch.Tensor:
    taps = torch.tensor(gaussian_taps(sigma, truncate), dtype=torch.float64)
    radius = taps.numel() // 2
    positions = torch.arange(size)[:, None] + torch.arange(-radius, radius + 1)[None, :]
    # scipy 'reflect' (d c b a | a b c d | d c b a) is periodic with period 2 * size.
    folded = positions.remainder(2 * size)
    folded = torch.where(folded >= size, 2 * size - 1 - folded, folded)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    return matrix.scatter_add_(1, folded, taps.expand(size, -1).contiguous())


def reflect_gaussian_matrix(size: int, sigma: float, truncate: float, like: torch.Tensor) -> torch.Tensor:
    """(size, size) matrix G with ``G @ v`` = scipy ``gaussian_filter1d(v, sigma, mode='reflect')``.

    Folding the kernel onto the signal handles kernels far longer than the image (elastic's sigma of
    170.8 px has a 1027-tap kernel on 224 px), which padding cannot. Dtype and device of ``like``.
    """
    return _reflect_gaussian_matrix_cpu(int(size), float(sigma), float(truncate)).to(like)


def reflect_gaussian_filter(layers: torch.Tensor, sigma: float, truncate: float) -> torch.Tensor:
    """scipy ``gaussian_filter(x, sigma, mode='reflect', truncate)`` over the last two dims.

    Short kernels run as shifted slices of a mirrored copy; long ones (longer than ``_MAX_SLICED_TAPS``
    or than the image) as products with ``reflect_gaussian_matrix``, or by FFT on images larger
    than ``_MAX_MATRIX_SIZE``.
    Shape: (..., H, W) -> (..., H, W). Deterministic.
    """
    taps = gaussian_taps(float(sigma), float(truncate))
    height, width = layers.shape[-2:]
    radius = len(taps) // 2
    if len(taps) > _MAX_SLICED_TAPS or radius > min(height, width):
        if max(height, width) > _MAX_MATRIX_SIZE:  # products cost O(n^3): large images go through FFTs
            weights = torch.tensor(taps, dtype=torch.float64)
            return _reflect_filter_fft(_reflect_filter_fft(layers, weights, -1), weights, -2)
        rows = reflect_gaussian_matrix(height, sigma, truncate, layers)
        cols = reflect_gaussian_matrix(width, sigma, truncate, layers)
        return rows @ layers @ cols.T
    return correlate_separable(layers, taps, "reflect")


def _reflect_filter_fft(layers: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    """Filter along ``dim`` with scipy 'reflect' borders as a circular convolution of period 2 * size.

    The mirrored signal [x, flip(x)] repeats with period 2 * size, so wrapping the kernel onto that
    period and convolving circularly is exact for any kernel length.
    """
    size = layers.shape[dim]
    period = 2 * size
    radius = taps.numel() // 2
    wrapped = torch.zeros(period, dtype=torch.float64)
    wrapped.index_add_(0, torch.arange(-radius, radius + 1).remainder(period), taps)
    response = torch.fft.rfft(wrapped).to(device=layers.device)
    response = response.to(torch.complex64 if layers.dtype == torch.float32 else torch.complex128)
    response = response if dim == -1 else response[:, None]
    extended = torch.cat([layers, layers.flip(dim)], dim=dim)
    filtered = torch.fft.irfft(torch.fft.rfft(extended, dim=dim) * response, n=period, dim=dim)
    return filtered.narrow(dim, 0, size)


# ---------------------------------------------------------------------------------------------------
# Zoom (ImageNet-C's ``clipped_zoom``: scipy.ndimage.zoom order 1 on a central crop)


def numpy_arange(start: float, stop: float, step: float) -> list[float]:
    """``np.arange(start, stop, step)`` value for value (NumPy fills start + i * ((start + step) - start)).

    The float quirks matter: ``np.arange(1, 1.11, 0.01)`` has 12 values (1.00 ... 1.11), and the
    exact float factors decide ``ceil(224 / z)`` crop sizes.
    """
    count = math.ceil((stop - start) / step)
    delta = (start + step) - start
    return [start + i * delta for i in range(count)]


def clipped_zoom_geometry(size: int, factor: float) -> tuple[int, int, int, int]:
    """One axis of ``clipped_zoom``: (crop start, crop length, zoomed length, trim start).

    The crop is the central ceil(size / z) pixels (start (size - crop) // 2); scipy's ``zoom``
    makes round(crop * z) of them; the central ``size`` are kept (trim (zoomed - size) // 2). The
    reference's float maths, so the lengths are its lengths.
    """
    crop = math.ceil(size / float(factor))
    zoomed = round(crop * float(factor))  # scipy.ndimage.zoom's output length
    return (size - crop) // 2, crop, zoomed, (zoomed - size) // 2


def zoom_crop(crop: torch.Tensor, height: int, width: int, factor: float) -> torch.Tensor:
    """Zoom an already cut central crop by ``factor`` (scipy ``zoom(order=1)``) and keep the central H x W.

    The crop must be ``clipped_zoom_geometry``'s crop length on each axis. scipy's zoom (grid_mode
    False) maps output index o to input coordinate o * (n_in - 1) / (n_out - 1): exactly
    ``F.interpolate(bilinear, align_corners=True)``. The trim is central, as in the original
    make_imagenet_c.py (imagecorruptions keeps the top-left).
    Shape: (B, C, h, w) -> (B, C, height, width).
    """
    _, _, zoomed_h, trim_h = clipped_zoom_geometry(height, factor)
    _, _, zoomed_w, trim_w = clipped_zoom_geometry(width, factor)
    zoomed = F.interpolate(crop, size=(zoomed_h, zoomed_w), mode="bilinear", align_corners=True)
    return zoomed[..., trim_h:trim_h + height, trim_w:trim_w + width]


def centred_clipped_zoom(images: torch.Tensor, factor: float) -> torch.Tensor:
    """ImageNet-C ``clipped_zoom``: zoom into the centre by ``factor``, keep the central H x W.

    Per axis (the original uses the height for both): the central ceil(H / z) pixels, resized by
    ``zoom_crop``. Shape: (B, C, H, W) -> (B, C, H, W).
    """
    height, width = images.shape[-2:]
    top, crop_h, _, _ = clipped_zoom_geometry(height, factor)
    left, crop_w, _, _ = clipped_zoom_geometry(width, factor)
    return zoom_crop(images[..., top:top + crop_h, left:left + crop_w], height, width, factor)
