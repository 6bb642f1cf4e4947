"""OpenCV behaviours the reference ops rely on, in batched torch.

Each helper names the ``cv2`` call it stands for and how closely it follows it. All work on
(B, C, H, W) float tensors (single-channel layers where said), on any device. OpenCV's default
border is reflect-101 (``F.pad`` mode 'reflect', 'mirror' in ``_common.BORDERS``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._common import correlate_separable

# tan(22.5 deg) in OpenCV Canny's 15-bit fixed point (int(0.41421356 * 2**15 + 0.5) / 2**15).
_TAN_22_5 = 13573 / 32768
_TAN_67_5 = _TAN_22_5 + 2.0


# ---------------------------------------------------------------------------------------------------
# Linear filters


def gaussian_kernel_taps(ksize: int, sigma: float) -> list[float]:
    """``cv2.getGaussianKernel(ksize, sigma)`` for sigma > 0: exp(-(i - (ksize-1)/2)^2 / 2 sigma^2), normalised."""
    centre = (ksize - 1) / 2
    taps = torch.tensor([math.exp(-((i - centre) ** 2) / (2 * sigma * sigma)) for i in range(ksize)],
                        dtype=torch.float64)
    return (taps / taps.sum()).tolist()


def gaussian_blur_reflect101(layers: torch.Tensor, ksize: int, sigma: float) -> torch.Tensor:
    """``cv2.GaussianBlur(x, (ksize, ksize), sigma)``: separable, default reflect-101 border, no rounding.

    Shape: (B, C, H, W) with H, W > ksize // 2 -> (B, C, H, W).
    """
    return correlate_separable(layers, gaussian_kernel_taps(ksize, float(sigma)), "mirror")


def correlate2d_reflect101(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``cv2.filter2D(x, -1, kernel)`` per channel: 2-D correlation, centred anchor, reflect-101 border.

    Done with real FFTs on a reflect-padded image (a 17x17 or 21x21 kernel costs ~300-450 multiply-adds
    per pixel as a direct convolution). The FFT size is rounded up to a 5-smooth number, which is
    fast in pocketFFT/cuFFT; zeros beyond the reflected border never reach the kept window.
    """
    height, width = images.shape[-2:]
    spectrum = correlation_spectrum(kernel, height, width, images.dtype, images.device)
    return correlate2d_reflect101_by_spectrum(images, kernel.shape[-1], spectrum)


def correlation_fft_size(ksize: int, height: int, width: int) -> tuple[int, int]:
    """The FFT size ``correlate2d_reflect101`` uses for a ``ksize`` kernel on H x W images."""
    pad = ksize // 2
    return _smooth_size(height + 2 * pad), _smooth_size(width + 2 * pad)


def correlation_spectrum(kernel: torch.Tensor, height: int, width: int, dtype: torch.dtype,
                         device: torch.device) -> torch.Tensor:
    """The real FFT of a square kernel for ``correlate2d_reflect101_by_spectrum`` on H x W images.

    It depends on the kernel and the image size only: a caller with a fixed kernel can cache it.
    """
    fft_size = correlation_fft_size(kernel.shape[-1], height, width)
    # Convolving with the flipped kernel is a correlation with the kernel, shifted by ksize - 1.
    flipped = kernel.flip(-1, -2).to(device=device, dtype=dtype)
    return torch.fft.rfft2(flipped, s=fft_size)


def correlate2d_reflect101_by_spectrum(images: torch.Tensor, ksize: int, spectrum: torch.Tensor) -> torch.Tensor:
    """``correlate2d_reflect101`` with the kernel given by its ``correlation_spectrum``."""
    pad = ksize // 2
    height, width = images.shape[-2:]
    fft_size = correlation_fft_size(ksize, height, width)
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")  # torch 'reflect' == OpenCV reflect-101
    full = torch.fft.irfft2(torch.fft.rfft2(padded, s=fft_size).mul_(spectrum), s=fft_size)
    return full[..., ksize - 1:ksize - 1 + height, ksize - 1:ksize - 1 + width]


def _smooth_size(n: int) -> int:
    """The smallest m >= n whose only prime factors are 2, 3 and 5."""
    m = n
    while True:
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 1


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
    rows = torch.add(padded[..., :, 0:width], padded[..., :, 1:width + 1]).add_(padded[..., :, 2:width + 2])
    return torch.add(rows[..., 0:height, :], rows[..., 1:height + 1, :]).add_(rows[..., 2:height + 2, :]).div_(9)



# ---------------------------------------------------------------------------------------------------
# Canny edges, distance transform, histogram equalisation


def canny_edges(layers: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(x, low, high) on uint8-valued layers: Sobel (aperture 3), L1 magnitude, hysteresis.

    Follows OpenCV 4: replicated border for Sobel, magnitude |gx| + |gy|, non-maximum suppression
    along one of four directions (ties broken as OpenCV: strictly greater than the neighbour before,
    at least the one after; diagonals strictly both), then pixels above ``high`` seed edges that
    grow through 8-connected pixels above ``low``.
    Shape: (B, 1, H, W) -> bool (B, 1, H, W). Deterministic.
    """
    grad_x, grad_y = _sobel(layers)
    abs_x, abs_y = grad_x.abs(), grad_y.abs()
    magnitude = abs_x + abs_y
    candidates = _non_maximum(magnitude, grad_x, grad_y, abs_x, abs_y).mul_(_above(magnitude, low))
    strong = _above(magnitude, high).mul_(candidates)
    return _hysteresis(_mask_to_bool(strong), _mask_to_bool(candidates))


def _above(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """1.0 where a > b, else 0.0: a float 0/1 mask (torch compares into float tensors ~4x faster than
    into bool or uint8 ones on the CPU; masks then combine exactly by products and sums)."""
    return torch.gt(a, b, out=torch.empty_like(a))


def _at_least(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """1.0 where a >= b, else 0.0 (see ``_above``)."""
    return torch.ge(a, b, out=torch.empty_like(a))


def _mask_to_bool(mask: torch.Tensor) -> torch.Tensor:
    """A float 0/1 mask as bool (a direct cast; float -> uint8 is ~10x slower on the CPU)."""
    return mask.to(torch.bool)


def _sobel(layers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV's 3x3 Sobel d/dx, d/dy (replicated border) as separable [1, 2, 1] x [-1, 0, 1] slices."""
    padded = F.pad(layers, (1, 1, 1, 1), mode="replicate")
    down = torch.add(padded[..., :-2, :], padded[..., 2:, :]).add_(padded[..., 1:-1, :], alpha=2)
    across = torch.add(padded[..., :-2], padded[..., 2:]).add_(padded[..., 1:-1], alpha=2)
    return down[..., 2:] - down[..., :-2], across[..., 2:, :] - across[..., :-2, :]


def _non_maximum(magnitude: torch.Tensor, grad_x: torch.Tensor, grad_y: torch.Tensor, abs_x: torch.Tensor,
                 abs_y: torch.Tensor) -> torch.Tensor:
    """OpenCV Canny's non-maximum test as a float 0/1 mask; the magnitude outside the image counts as 0.

    ``abs_x``, ``abs_y``: |grad_x|, |grad_y|. The gradients are integers (|g| <= 1020), so their
    products below are exact in float32.
    """
    height, width = magnitude.shape[-2:]
    padded = F.pad(magnitude, (1, 1, 1, 1))

    def neighbour(dy: int, dx: int) -> torch.Tensor:
        return padded[..., 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]

    horizontal = _above(abs_x * _TAN_22_5, abs_y)
    vertical = _above(abs_y, abs_x * _TAN_67_5)  # never with horizontal: |gy| < 0.42 |gx| and > 2.41 |gx|
    # Gradient along the main diagonal when gx and gy share a sign (OpenCV: (gx ^ gy) >= 0). Where
    # one of them is 0 and the other negative, gx * gy >= 0 says main where OpenCV says anti, but
    # such a gradient is horizontal or vertical, never diagonal.
    main_diagonal = _at_least(grad_x * grad_y, 0.0)
    keep_h = _above(magnitude, neighbour(0, -1)).mul_(_at_least(magnitude, neighbour(0, 1)))
    keep_v = _above(magnitude, neighbour(-1, 0)).mul_(_at_least(magnitude, neighbour(1, 0)))
    keep_main = _above(magnitude, neighbour(-1, -1)).mul_(_above(magnitude, neighbour(1, 1)))
    keep_anti = _above(magnitude, neighbour(-1, 1)).mul_(_above(magnitude, neighbour(1, -1)))
    keep_d = keep_main.sub_(keep_anti).mul_(main_diagonal).add_(keep_anti)  # main or anti by the signs
    diagonal = (1 - horizontal).sub_(vertical)  # the three directions are exclusive
    return keep_h.mul_(horizontal).addcmul_(keep_v, vertical).addcmul_(keep_d, diagonal)


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
    if not 0 < limit < 128:  # row distances in uint8 (below 2 * limit), squared ones in int16
        raise ValueError(f"distance cap must be in 1..127 pixels, got {limit}")
    height = edges.shape[-2]
    # Every distance of ``limit`` or more comes out as ``limit``, so row distances are capped there
    # and rows ``limit`` or more away are not looked at (they add limit^2 or more). A distance
    # below the cap is still exact: its nearest edge is less than ``limit`` away along both axes.
    # int16 halves the memory traffic of the loop; its largest value, limit^2 + (limit - 1)^2
    # (at most 32005), fits.
    along_row = _row_distance(edges, limit).to(torch.int16)
    squared = along_row.mul_(along_row)
    reach = limit - 1
    padded = F.pad(squared, (0, 0, reach, reach), value=limit * limit)
    best, nearer = squared, torch.empty_like(squared)
    for offset in range(1, reach + 1):
        torch.minimum(padded[..., reach - offset:reach - offset + height, :],
                      padded[..., reach + offset:reach + offset + height, :], out=nearer)
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
    # Level + 256 * image, in int32: one bincount and one lookup for the whole batch (on the CPU
    # ~4x faster than int64 indices with scatter_add and a float64 gather).
    index = levels.reshape(batch, -1).to(torch.int32, copy=True)
    index += torch.arange(0, 256 * batch, 256, dtype=torch.int32, device=levels.device)[:, None]
    counts = torch.bincount(index.view(-1), minlength=256 * batch).view(batch, 256).to(torch.float64)
    total = index.shape[1]
    lowest = (counts > 0).to(torch.uint8).argmax(dim=1, keepdim=True)
    lowest_count = counts.gather(1, lowest)
    spread = (total - lowest_count).clamp(min=1)
    table = torch.round((counts.cumsum(dim=1) - lowest_count) * (255.0 / spread)).clamp(0, 255)
    single_level = lowest_count == total
    table = torch.where(single_level, torch.arange(256, device=levels.device, dtype=torch.float64), table)
    return table.to(levels.dtype).view(-1).index_select(0, index.view(-1)).view(levels.shape)
