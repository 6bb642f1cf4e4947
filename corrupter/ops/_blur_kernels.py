"""Building blocks of the blur corruptions: Gaussian and disk filters, centred zoom, glass-blur copy chains.

Each helper reproduces one library call of the reference code (scikit-image ``gaussian``, OpenCV
``GaussianBlur`` / ``filter2D``, SciPy ``zoom``) in batched torch, with the reference's conventions
for borders and sample positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------
# Gaussian blur (scikit-image ``gaussian`` = scipy.ndimage.gaussian_filter)


def gaussian_taps(sigma: float, truncate: float = 4.0) -> list[float]:
    """SciPy's 1-D Gaussian weights: exp(-x^2 / 2 sigma^2) for |x| <= int(truncate * sigma + 0.5), normalised."""
    radius = int(truncate * float(sigma) + 0.5)
    weights = [math.exp(-0.5 * (x * x) / (sigma * sigma)) for x in range(-radius, radius + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def correlate_separable(images: torch.Tensor, taps: list[float], mode: str = "replicate") -> torch.Tensor:
    """Filter rows then columns with the same odd-length 1-D taps, padding by ``mode``.

    Shift-and-add instead of ``F.conv2d``: with one input channel per map, PyTorch's CPU convolution
    is about 10x slower than a few dozen strided in-place adds.
    """
    radius = len(taps) // 2
    height, width = images.shape[-2:]
    padded = F.pad(images, (radius, radius, radius, radius), mode=mode)
    rows = _shift_add(padded, taps, width, dim=-1)
    return _shift_add(rows, taps, height, dim=-2)


def _shift_add(padded: torch.Tensor, taps: list[float], size: int, dim: int) -> torch.Tensor:
    """sum_k taps[k] * padded[k : k + size] along ``dim`` (a correlation with 'valid' borders)."""
    out = padded.narrow(dim, 0, size) * taps[0]
    for k in range(1, len(taps)):
        out.add_(padded.narrow(dim, k, size), alpha=taps[k])
    return out


def gaussian_blur_nearest(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """scikit-image ``gaussian(x, sigma, mode='nearest', truncate=4.0, channel_axis=-1)``, per channel."""
    if sigma <= 0:
        return images.clone()
    return correlate_separable(images, gaussian_taps(sigma), mode="replicate")


# ---------------------------------------------------------------------------------------------------
# Defocus blur (ImageNet-C ``disk`` + OpenCV ``filter2D``)


def opencv_gaussian_taps(ksize: int, sigma: float) -> torch.Tensor:
    """``cv2.getGaussianKernel(ksize, sigma)`` for sigma > 0: exp(-(i - (ksize-1)/2)^2 / 2 sigma^2), normalised."""
    centre = (ksize - 1) / 2
    taps = torch.tensor([math.exp(-((i - centre) ** 2) / (2 * sigma * sigma)) for i in range(ksize)],
                        dtype=torch.float64)
    return taps / taps.sum()


def defocus_disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """ImageNet-C's anti-aliased disk, (K, K) float64, K = 17 (radius <= 8) or 2 * radius + 1.

    Indicator of X^2 + Y^2 <= radius^2 on the integer grid [-8, 8]^2 (or [-r, r]^2 when r > 8),
    normalised to sum 1, then ``cv2.GaussianBlur`` with a 3x3 (5x5 when r > 8) kernel of sigma
    ``alias_blur`` and OpenCV's default reflect-101 border (which matters where the disk touches
    the grid edge). The reference builds it in float32; float64 here changes < 1e-7.
    """
    if radius <= 8:
        half, ksize = 8, 3
    else:
        half, ksize = int(radius), 5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    disk = ((grid[None, :] ** 2 + grid[:, None] ** 2) <= radius ** 2).to(torch.float64)
    disk = disk / disk.sum()
    taps = opencv_gaussian_taps(ksize, float(alias_blur)).tolist()
    return correlate_separable(disk[None, None], taps, mode="reflect")[0, 0]


def correlate2d_reflect101(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``cv2.filter2D(x, -1, kernel)`` per channel: 2-D correlation, centred anchor, reflect-101 border.

    Done with real FFTs on a reflect-padded image (a 17x17 or 21x21 kernel costs ~300-450 multiply-adds
    per pixel as a direct convolution). The FFT size is rounded up to a 5-smooth number, which is
    fast in pocketFFT/cuFFT; zeros beyond the reflected border never reach the kept window.
    """
    ksize = kernel.shape[-1]
    pad = ksize // 2
    height, width = images.shape[-2:]
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")  # torch 'reflect' == OpenCV reflect-101
    fft_h, fft_w = _smooth_size(height + 2 * pad), _smooth_size(width + 2 * pad)
    # Convolving with the flipped kernel is a correlation with the kernel, shifted by ksize - 1.
    flipped = kernel.flip(-1, -2).to(device=images.device, dtype=images.dtype)
    spectrum = torch.fft.rfft2(padded, s=(fft_h, fft_w)) * torch.fft.rfft2(flipped, s=(fft_h, fft_w))
    full = torch.fft.irfft2(spectrum, s=(fft_h, fft_w))
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


# ---------------------------------------------------------------------------------------------------
# Zoom blur (ImageNet-C ``clipped_zoom``)


def numpy_arange(start: float, stop: float, step: float) -> list[float]:
    """``np.arange(start, stop, step)`` value for value (NumPy fills start + i * ((start + step) - start)).

    The float quirks matter: ``np.arange(1, 1.11, 0.01)`` has 12 values (1.00 ... 1.11), and the
    exact float factors decide ``ceil(224 / z)`` crop sizes.
    """
    count = math.ceil((stop - start) / step)
    delta = (start + step) - start
    return [start + i * delta for i in range(count)]


def centred_clipped_zoom(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom into the centre by ``factor`` and keep the central H x W (ImageNet-C ``clipped_zoom``).

    Central crop of ceil(H / z) x ceil(W / z) pixels (top-left at (H - ch) // 2), resized with
    SciPy's ``zoom(order=1)``: output size round(ch * z), output index o samples input coordinate
    o * (ch - 1) / (out - 1) -- exactly ``F.interpolate(bilinear, align_corners=True)``. Then the
    centre H x W is kept (trim (out - H) // 2), as in the original; imagecorruptions keeps the top-left.
    """
    height, width = images.shape[-2:]
    (top, crop_h, out_h, trim_h), (left, crop_w, out_w, trim_w) = (
        _zoom_geometry(height, factor), _zoom_geometry(width, factor))
    crop = images[..., top:top + crop_h, left:left + crop_w]
    zoomed = F.interpolate(crop, size=(out_h, out_w), mode="bilinear", align_corners=True)
    return zoomed[..., trim_h:trim_h + height, trim_w:trim_w + width]


def _zoom_geometry(size: int, factor: float) -> tuple[int, int, int, int]:
    """(crop start, crop length, zoomed length, trim start) of one axis, in the reference's float maths."""
    crop = int(math.ceil(size / float(factor)))
    zoomed = int(round(crop * float(factor)))  # scipy.ndimage.zoom's output length
    return (size - crop) // 2, crop, zoomed, (zoomed - size) // 2


# ---------------------------------------------------------------------------------------------------
# Glass blur (ImageNet-C's sequential pixel "swap", which is a one-way copy)


def glass_copy_sources(dy: torch.Tensor, dx: torch.Tensor, height: int, width: int, max_delta: int) -> torch.Tensor:
    """Where each pixel's value comes from after one pass of ImageNet-C's glass-blur copy loop. Exact.

    The reference visits h = H - d ... d + 1 (outer, descending) and w = W - d ... d + 1 (inner,
    descending) and sets x[h, w] = x[h + dy, w + dx] in place, so a pixel reads its neighbour's
    *current* value. A neighbour later in raster order (dy > 0, or dy == 0 and dx > 0) inside the
    visited region has already been overwritten, so the pixel inherits that neighbour's source
    (a copy chain); any other neighbour still holds its value from the start of the pass.

    Every pixel points either to a pixel visited before it or to a terminal "start-of-pass value of
    q"; pointer doubling (``ptr = ptr[ptr]``, O(log chain length) vectorised gathers) resolves all
    chains at once and gives the same result as the sequential loop, bit for bit.

    Args:
        dy, dx: (B, H - 2d, W - 2d) integer offsets in [-d, d - 1] of the visited pixels
            (rows d + 1 ... H - d, columns d + 1 ... W - d), indexed in image order.
        height, width: image size.
        max_delta: d.

    Returns:
        (B, H * W) int64 flat index of the start-of-pass pixel each output pixel copies.
    """
    batch = dy.shape[0]
    n = height * width
    d = max_delta
    device = dy.device
    dy, dx = dy.to(torch.int32), dx.to(torch.int32)
    rows = torch.arange(d + 1, height - d + 1, device=device, dtype=torch.int32)[:, None]
    cols = torch.arange(d + 1, width - d + 1, device=device, dtype=torch.int32)
    source = (rows + dy) * width + (cols + dx)                                    # (B, RH, RW) flat q
    # Nodes 0..n-1 mean "the final value of pixel p"; nodes n..2n-1 are terminals "the start-of-pass
    # value of pixel (index - n)" and point to themselves. Unvisited pixels keep their own value, so
    # a link to a neighbour outside the visited rectangle resolves to its start-of-pass value.
    pointer = (torch.arange(2 * n, device=device) % n + n).repeat(batch, 1)
    # Link p to q's final value when q comes later in raster order (dy > 0, or dy == 0 and dx > 0):
    # the loop has already reached q, if q is in the visited rectangle at all. With |dx| <= d that
    # is dy * 2d + dx > 0, and for integers clamp(., 0, 1) is that test: arithmetic, because torch's
    # comparisons and where are several times slower on the CPU.
    later = (dy * (2 * d) + dx).clamp_(0, 1)
    grid = pointer[:, :n].view(batch, height, width)
    grid[:, d + 1:height - d + 1, d + 1:width - d + 1] = source.add_((1 - later) * n)
    # Chains are short (4 doublings resolve the 16-long ones at 224x224); checking for unresolved
    # links (a pointer still below n) costs a device sync, so it is done every second doubling.
    while batch and int(pointer[:, :n].min()) < n:
        for _ in range(2):
            pointer[:, :n] = torch.gather(pointer, 1, pointer[:, :n])
    return pointer[:, :n] - n
