"""Batched torch versions of the scipy / scikit-image / OpenCV building blocks the reference ops call.

Each helper names the reference function it stands for and how closely it follows it. All work on
(B, 1, H, W) float tensors (single-channel layers) unless said, on any device.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

# tan(22.5 deg) in OpenCV Canny's 15-bit fixed point (int(0.41421356 * 2**15 + 0.5) / 2**15).
_TAN_22_5 = 13573 / 32768
_TAN_67_5 = _TAN_22_5 + 2.0
# Longest kernel run as shifted slices; longer ones (elastic's sigma 19.5 and 170.8) use matrix products.
_MAX_SLICED_TAPS = 41
# Largest side filtered by matrix products (cached matrices of at most 2 MiB each).
_MAX_MATRIX_SIZE = 512


def gaussian_taps(sigma: float, truncate: float) -> torch.Tensor:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate * sigma + 0.5), weights summing to 1, float64."""
    radius = int(truncate * float(sigma) + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / float(sigma)) ** 2)
    return weights / weights.sum()


def gaussian_blur_nearest(layers: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """skimage ``gaussian(x, sigma)`` (mode 'nearest' = replicated edges, truncate 4), separable.

    Shape: (B, C, H, W) -> (B, C, H, W); every channel blurred on its own. Deterministic.
    """
    taps = gaussian_taps(sigma, truncate).tolist()
    rows_done = _correlate_sliced(layers, taps, -1, _replicate_pad)
    return _correlate_sliced(rows_done, taps, -2, _replicate_pad)


@functools.lru_cache(maxsize=16)
def _reflect_gaussian_matrix_cpu(size: int, sigma: float, truncate: float) -> torch.Tensor:
    taps = gaussian_taps(sigma, truncate)
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
    taps = gaussian_taps(sigma, truncate)
    height, width = layers.shape[-2:]
    radius = taps.numel() // 2
    if taps.numel() > _MAX_SLICED_TAPS or radius > min(height, width):
        if max(height, width) > _MAX_MATRIX_SIZE:  # products cost O(n^3): large images go through FFTs
            return _reflect_filter_fft(_reflect_filter_fft(layers, taps, -1), taps, -2)
        rows = reflect_gaussian_matrix(height, sigma, truncate, layers)
        cols = reflect_gaussian_matrix(width, sigma, truncate, layers)
        return rows @ layers @ cols.T
    weights = taps.tolist()
    rows_done = _correlate_sliced(layers, weights, -1, _symmetric_pad)
    return _correlate_sliced(rows_done, weights, -2, _symmetric_pad)


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


def _symmetric_pad(layers: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Pad ``dim`` by ``radius`` mirrored pixels including the edge one (scipy 'reflect'; radius <= size)."""
    size = layers.shape[dim]
    before = layers.narrow(dim, 0, radius).flip(dim)
    after = layers.narrow(dim, size - radius, radius).flip(dim)
    return torch.cat([before, layers, after], dim=dim)


def _replicate_pad(layers: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Pad ``dim`` by ``radius`` copies of the edge pixel (scipy 'nearest'; any radius)."""
    pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
    return F.pad(layers, pad, mode="replicate")


def _correlate_sliced(layers: torch.Tensor, taps: list[float], dim: int,
                      pad: Callable[[torch.Tensor, int, int], torch.Tensor]) -> torch.Tensor:
    """1-D correlation along ``dim`` (-1 or -2) as a sum of shifted slices of ``pad(layers)``.

    Shifted slices beat conv2d on the CPU for one channel and short kernels, by 3-10x.
    """
    radius = len(taps) // 2
    size = layers.shape[dim]
    padded = pad(layers, radius, dim)
    out = padded.narrow(dim, 0, size) * taps[0]
    for offset, tap in enumerate(taps[1:], start=1):
        out.add_(padded.narrow(dim, offset, size), alpha=tap)
    return out


def correlate3x3(layers: torch.Tensor, kernel: tuple[tuple[float, ...], ...], border: str) -> torch.Tensor:
    """3x3 correlation of a (B, 1, H, W) layer; ``border`` is an F.pad mode ('reflect' = OpenCV's default)."""
    height, width = layers.shape[-2:]
    padded = F.pad(layers, (1, 1, 1, 1), mode=border)
    out = torch.zeros_like(layers)
    for dy, row in enumerate(kernel):
        for dx, tap in enumerate(row):
            if tap:
                out.add_(padded[..., dy:dy + height, dx:dx + width], alpha=tap)
    return out


def box_blur3x3(layers: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)): 3x3 mean with OpenCV's default reflect-101 border, before any rounding."""
    height, width = layers.shape[-2:]
    padded = F.pad(layers, (1, 1, 1, 1), mode="reflect")
    rows = padded[..., :, 0:width] + padded[..., :, 1:width + 1] + padded[..., :, 2:width + 2]
    return (rows[..., 0:height, :] + rows[..., 1:height + 1, :] + rows[..., 2:height + 2, :]) / 9


def canny_edges(layers: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(x, low, high) on uint8-valued layers: Sobel (aperture 3), L1 magnitude, hysteresis.

    Follows OpenCV 4: replicated border for Sobel, magnitude |gx| + |gy|, non-maximum suppression
    along one of four directions (ties broken as OpenCV: strictly greater than the neighbour before,
    at least the one after; diagonals strictly both), then pixels above ``high`` seed edges that
    grow through 8-connected pixels above ``low``.
    Shape: (B, 1, H, W) -> bool (B, 1, H, W). Deterministic.
    """
    grad_x, grad_y = _sobel(layers)
    magnitude = grad_x.abs() + grad_y.abs()
    candidates = (magnitude > low) & _non_maximum(magnitude, grad_x, grad_y)
    return _hysteresis(candidates & (magnitude > high), candidates)


def _sobel(layers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV's 3x3 Sobel d/dx, d/dy (replicated border) as separable [1, 2, 1] x [-1, 0, 1] slices."""
    padded = F.pad(layers, (1, 1, 1, 1), mode="replicate")
    down = torch.add(padded[..., :-2, :], padded[..., 2:, :]).add_(padded[..., 1:-1, :], alpha=2)
    across = torch.add(padded[..., :-2], padded[..., 2:]).add_(padded[..., 1:-1], alpha=2)
    return down[..., 2:] - down[..., :-2], across[..., 2:, :] - across[..., :-2, :]


def _non_maximum(magnitude: torch.Tensor, grad_x: torch.Tensor, grad_y: torch.Tensor) -> torch.Tensor:
    """OpenCV Canny's non-maximum test; the magnitude outside the image counts as 0."""
    height, width = magnitude.shape[-2:]
    padded = F.pad(magnitude, (1, 1, 1, 1))

    def neighbour(dy: int, dx: int) -> torch.Tensor:
        return padded[..., 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]

    abs_x, abs_y = grad_x.abs(), grad_y.abs()
    horizontal = abs_y < abs_x * _TAN_22_5
    vertical = ~horizontal & (abs_y > abs_x * _TAN_67_5)
    # Gradient along the main diagonal when gx and gy share a sign (OpenCV: (gx ^ gy) >= 0).
    main_diagonal = (grad_x < 0) == (grad_y < 0)
    keep_h = (magnitude > neighbour(0, -1)) & (magnitude >= neighbour(0, 1))
    keep_v = (magnitude > neighbour(-1, 0)) & (magnitude >= neighbour(1, 0))
    keep_main = (magnitude > neighbour(-1, -1)) & (magnitude > neighbour(1, 1))
    keep_anti = (magnitude > neighbour(-1, 1)) & (magnitude > neighbour(1, -1))
    diagonal = ~horizontal & ~vertical
    keep_d = (main_diagonal & keep_main) | (~main_diagonal & keep_anti)
    return (horizontal & keep_h) | (vertical & keep_v) | (diagonal & keep_d)


def _hysteresis(strong: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Grow ``strong`` through 8-connected ``candidates`` until nothing changes."""
    edges = strong
    while True:
        grown = (_dilate3x3(edges) & candidates) | edges
        if torch.equal(grown, edges):
            return edges
        edges = grown


def _dilate3x3(mask: torch.Tensor) -> torch.Tensor:
    """Boolean 3x3 dilation (8-neighbourhood), nothing outside the image."""
    rows = mask.clone()
    rows[..., 1:, :] |= mask[..., :-1, :]
    rows[..., :-1, :] |= mask[..., 1:, :]
    out = rows.clone()
    out[..., 1:] |= rows[..., :-1]
    out[..., :-1] |= rows[..., 1:]
    return out


def truncated_distance(edges: torch.Tensor, limit: int) -> torch.Tensor:
    """Euclidean distance of every pixel to the nearest edge pixel, capped at ``limit``.

    Stands for cv2.distanceTransform(255 - edges, DIST_L2, 5) followed by a truncation at ``limit``:
    exact Euclidean distances where OpenCV's 5x5 mask is a chamfer approximation (within 0.4 px
    below the cap). Separable and exact up to the cap: distance to the nearest edge in the same row,
    then the best row within ``limit``. Pixels outside the image are not edges.
    Shape: bool (B, 1, H, W) -> float (B, 1, H, W). Deterministic.
    """
    if not 0 < limit < 128:  # row distances in uint8 (below 2 * far), squared ones in int16
        raise ValueError(f"distance cap must be in 1..127 pixels, got {limit}")
    height = edges.shape[-2]
    far = limit + 1
    # int16 halves the memory traffic of the loop; its largest value, far^2 + limit^2 (at most
    # 128^2 + 127^2 = 32513), fits.
    along_row = _row_distance(edges, far).to(torch.int16)
    squared = along_row.mul_(along_row)
    padded = F.pad(squared, (0, 0, limit, limit), value=far * far)
    best, nearer = squared, torch.empty_like(squared)
    for offset in range(1, limit + 1):
        torch.minimum(padded[..., limit - offset:limit - offset + height, :],
                      padded[..., limit + offset:limit + offset + height, :], out=nearer)
        torch.minimum(best, nearer.add_(offset * offset), out=best)
    return best.to(torch.float32).sqrt_().clamp_(max=float(limit))


def _row_distance(edges: torch.Tensor, far: int) -> torch.Tensor:
    """Per row, the distance to the nearest edge pixel on either side, capped at ``far`` (<= 128); uint8.

    A min-plus distance transform by doubling: d <- min(d, d shifted by s, plus s) for
    s = 1, 2, 4, ... in each direction reaches every distance below 2 * s_max at its exact cost,
    in 2 ceil(log2(min(far, width))) passes of uint8 arithmetic (values stay below 2 * far, so
    nothing wraps). ``edges`` may be any 0/1 mask.
    """
    width = edges.shape[-1]
    distance = torch.logical_not(edges).view(torch.uint8).mul(far)  # 0 on edges, far elsewhere
    step = 1
    while step < far and step < width:
        for reached, source in ((distance[..., step:], distance[..., :-step]),
                                (distance[..., :-step], distance[..., step:])):
            torch.minimum(reached, source + step, out=reached)
        step *= 2
    return distance


def equalize_hist(levels: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist on integer levels 0..255, one histogram per image.

    OpenCV's table: the lowest occupied level maps to 0, level i to round(255 * (cdf(i) - h0) / (N - h0))
    where h0 is the count of the lowest level; an image with a single level is left unchanged.
    Shape: (B, 1, H, W) -> (B, 1, H, W), float levels. Deterministic.
    """
    batch = levels.shape[0]
    flat = levels.reshape(batch, -1).long()
    counts = torch.zeros(batch, 256, dtype=torch.float64, device=levels.device)
    counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    total = flat.shape[1]
    lowest = (counts > 0).to(torch.uint8).argmax(dim=1, keepdim=True)
    lowest_count = counts.gather(1, lowest)
    spread = (total - lowest_count).clamp(min=1)
    table = torch.round((counts.cumsum(dim=1) - lowest_count) * (255.0 / spread)).clamp(0, 255)
    single_level = lowest_count == total
    table = torch.where(single_level, torch.arange(256, device=levels.device, dtype=torch.float64), table)
    return table.gather(1, flat).to(levels.dtype).reshape(levels.shape)
