"""scipy.ndimage ``gaussian_filter(x, sigma, mode='constant', cval=c)`` (truncate 4) on batched planes.

With constant borders the filter is ``c + K_H (x - c) K_W`` (K: the n x n band matrix of the
normalised 1-D taps, symmetric), so each axis is one linear map. It runs the cheapest of three
exact forms of that map, chosen per (axis length, sigma) by a rough cost model measured on one CPU
core (a shifted-slice pass costs about as much as 7 multiply-adds per pixel of a matrix product):

- ``taps``: the sum of shifted slices (short filters);
- ``dense``: one matrix product with K;
- ``lowrank``: K = G - C, G the untruncated Gaussian matrix (smooth, so a few eigenvectors hold it
  to 1e-9 of its largest eigenvalue) and C the two corner blocks beyond scipy's truncation radius
  (|i - j| > radius), applied exactly as small matrix products. Wins for wide filters (sigma 40 on
  224: rank 16 plus 63 x 63 corners, against 224 for the dense product).

All three agree with scipy's float64 result to float32 rounding (tests/ops/test_geirhos.py).
"""

from __future__ import annotations

import functools
import math

import torch

TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default
TAP_COST = 7  # one shifted-slice pass ~ 7 multiply-adds per pixel of a matrix product (1 core, measured)
EIGEN_TOLERANCE = 1e-9  # eigenvalues of G kept: above this share of the largest


def scipy_gaussian_taps(sigma: float, truncate: float = TRUNCATE) -> torch.Tensor:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate * sigma + 0.5), weights summing to 1, float64."""
    raw = _gaussian(torch.arange(-_radius(sigma, truncate), _radius(sigma, truncate) + 1), sigma)
    return raw / raw.sum()


def _radius(sigma: float, truncate: float = TRUNCATE) -> int:
    return int(truncate * sigma + 0.5)


def _gaussian(offsets: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.exp(-0.5 / (sigma * sigma) * offsets.to(torch.float64) ** 2)


def gaussian_filter_constant(planes: torch.Tensor, sigma: float, cval: float) -> torch.Tensor:
    """scipy ``gaussian_filter(p, sigma, mode='constant', cval=cval)`` of each (H, W) plane of (..., H, W).

    ``sigma`` 0 returns a copy (scipy skips the axis). Output dtype and device are the input's.
    """
    if not (sigma >= 0 and math.isfinite(sigma)):
        raise ValueError(f"gaussian filter: sigma must be a finite number >= 0, got {sigma!r}")
    if sigma == 0:
        return planes.clone()
    shifted = planes - cval
    height, width = planes.shape[-2], planes.shape[-1]
    out = _apply_along(shifted, _axis_operator(width, float(sigma), planes.device, planes.dtype), dim=-1)
    out = _apply_along(out, _axis_operator(height, float(sigma), planes.device, planes.dtype), dim=-2)
    return out.add_(cval)


@functools.lru_cache(maxsize=64)
def _axis_operator(n: int, sigma: float, device: torch.device, dtype: torch.dtype) -> tuple:
    """The cheapest exact form of the 1-D filter on an axis of length n (see the module docstring)."""
    radius = _radius(sigma)
    raw = _gaussian(torch.arange(-radius, radius + 1), sigma)
    reach = min(radius, n - 1)  # taps further out only ever meet the zero padding
    taps = (raw / raw.sum())[radius - reach:radius + reach + 1]
    offsets = torch.arange(n)
    distance = (offsets[:, None] - offsets[None, :]).abs()
    costs = {"taps": TAP_COST * (2 * reach + 1), "dense": n}
    corner = n - radius - 1  # side of the corner blocks beyond the truncation radius
    if sigma >= 2:  # G's rank is only small for wide filters
        full = _gaussian(distance, sigma) / raw.sum()  # scipy's normalisation, untruncated
        values, vectors = torch.linalg.eigh(full)
        keep = values.abs() > EIGEN_TOLERANCE * values.abs().max()
        costs["lowrank"] = 2 * int(keep.sum()) + 2 * max(corner, 0) ** 2 / n
    form = min(costs, key=costs.get)
    if form == "taps":
        return ("taps", [float(t) for t in taps])
    if form == "dense":
        band = torch.zeros(n, n, dtype=torch.float64)
        inside = distance <= reach
        band[inside] = taps[(offsets[None, :] - offsets[:, None] + reach).clamp(0, 2 * reach)][inside]
        return ("dense", band.to(device=device, dtype=dtype))
    basis = vectors[:, keep]
    left = basis.to(device=device, dtype=dtype)
    right = (basis * values[keep]).T.contiguous().to(device=device, dtype=dtype)
    block = None
    if corner > 0:  # lower-left corner of G beyond the radius (rows radius+1.., columns ..corner-1)
        rows, cols = offsets[radius + 1:, None], offsets[None, :corner]
        block = torch.where(rows - cols > radius, full[radius + 1:, :corner], 0.0)
        block = block.to(device=device, dtype=dtype)
    return ("lowrank", left, right, block, radius)


def _apply_along(planes: torch.Tensor, operator: tuple, dim: int) -> torch.Tensor:
    """Apply a symmetric 1-D operator along ``dim`` (-1: rows, y = x K; -2: columns, y = K x)."""
    kind, n = operator[0], planes.shape[dim]
    if kind == "taps":
        taps = operator[1]
        reach = len(taps) // 2
        padded = torch.nn.functional.pad(planes, (reach, reach) if dim == -1 else (0, 0, reach, reach))
        out = padded.narrow(dim, 0, n) * taps[0]
        for k in range(1, len(taps)):
            out.add_(padded.narrow(dim, k, n), alpha=taps[k])
        return out
    if kind == "dense":
        return planes @ operator[1] if dim == -1 else operator[1] @ planes
    _, left, right, block, radius = operator
    if dim == -1:
        out = (planes @ left) @ right
    else:
        out = right.T @ (left.T @ planes)
    if block is not None:
        corner = block.shape[0]
        # K = G - C; C's lower-left block takes inputs radius+1.. to outputs ..corner-1, its
        # transpose (the upper-right block) the other way.
        if dim == -1:
            out[..., :corner] -= planes[..., radius + 1:] @ block
            out[..., radius + 1:] -= planes[..., :corner] @ block.T
        else:
            out[..., :corner, :] -= block.T @ planes[..., radius + 1:, :]
            out[..., radius + 1:, :] -= block @ planes[..., :corner, :]
    return out
