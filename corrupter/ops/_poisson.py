"""Poisson variates by exact inverse CDF of one float64 uniform each, through guide tables.

The rate of an element is its 8-bit level / 255 * photons, so the 256 levels' CDFs make a table,
and a count is the smallest k with P(X <= k) >= u. A guide table answers that for most elements in
one lookup: with the unit interval cut into GUIDE_BINS bins per level, a bin whose u all share the
answer (settled) holds the answer's output code; the others (pending: the bins a CDF value falls
in, 0.3-1.5% of the elements of photos at the ImageNet-C severities) hold where the search
starts, at or below the answer. The codes are the output level of the count for the 8-bit kernel
(so it never makes a float image) and the count itself for the float one; both routes run the
same lookup, hence draw the same counts.
"""

from __future__ import annotations

import functools
import math

import torch

from ._common import quantize_uint8

GUIDE_SHIFT = 11
GUIDE_BINS = 2**GUIDE_SHIFT  # guide bins per level: fewer pending elements, a bigger table (1 MiB)


def poisson_support(max_rate: float) -> int:
    """Number of Poisson values 0..K-1 kept in the table: the tail beyond has probability < 1e-30."""
    return math.ceil(max_rate + 12 * math.sqrt(max_rate) + 40)


@functools.lru_cache(maxsize=16)
def poisson_cdf(photons: float) -> torch.Tensor:
    """(256, K) float64 on the CPU: P(X <= k) for X ~ Poisson(level / 255 * photons), k < K =
    ``poisson_support(photons)``. The last entry of each level is set to 1 (the cut tail) and
    level 0 (rate 0) is the point mass at 0. A pure function of ``photons``, hence cached."""
    levels = torch.arange(256, dtype=torch.float64)
    rates = (levels / 255 * photons)[:, None]
    k = torch.arange(poisson_support(photons), dtype=torch.float64)[None, :]
    log_pmf = k * torch.log(rates.clamp_min(1e-300)) - rates - torch.lgamma(k + 1)
    cdf = torch.cumsum(torch.exp(log_pmf), dim=1).clamp(max=1.0)
    cdf[0] = 1.0
    cdf[:, -1] = 1.0
    return cdf


def count_values(photons: float) -> torch.Tensor:
    """float32(k / photons) per count k < K: the float kernel's output for the count, before the clip."""
    return (torch.arange(poisson_support(photons), dtype=torch.float64) / photons).to(torch.float32)


@functools.lru_cache(maxsize=16)
def guide_tables(photons: float, eight_bit: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(guide, outputs) for ``poisson_lookup``, on the CPU; cached like ``poisson_cdf``.

    The output code of count k is, with ``eight_bit``, its output level
    ``quantize_uint8(clamp(float32(k / photons), 0, 1))`` (what the float kernel and the
    quantisation give for it), else k itself. ``outputs`` (256 * K,) holds the code of flat index
    ``level * K + k``. ``guide`` (256 * GUIDE_BINS,), entry (level, j) for u in
    [j, j + 1) / GUIDE_BINS: with k the smallest count with P(X <= k) >= j / GUIDE_BINS, the code
    of k where k is the answer for every u of the bin (P(X <= k) >= (j + 1) / GUIDE_BINS), else
    ~k = -1 - k, negative, where the search starts. int16 while the counts fit (the guide's
    random reads then need half the cache of int32), else int32.
    """
    cdf = poisson_cdf(photons)
    support = cdf.shape[1]
    if 256 * support >= 2**31:
        raise ValueError(f"shot_noise: photons={photons} needs a Poisson table beyond int32 indexing")
    if eight_bit:
        values = count_values(photons)
        if values.isnan().any():  # photons 0 or NaN: the float kernel's NaN has no 8-bit level
            raise ValueError(f"shot_noise: photons={photons} gives NaN output; it must be positive")
        codes = quantize_uint8(values.clamp(0, 1))
    else:
        codes = torch.arange(support)
    dtype = torch.int16 if support <= 2**15 else torch.int32
    outputs = codes.to(dtype).repeat(256)
    bins = (torch.arange(GUIDE_BINS, dtype=torch.float64) / GUIDE_BINS).expand(256, GUIDE_BINS).contiguous()
    first = torch.searchsorted(cdf, bins)
    settled = cdf.gather(1, first) >= bins + 1 / GUIDE_BINS
    guide = torch.where(settled, codes.to(dtype)[first], first.bitwise_not().to(dtype))
    return guide.reshape(-1), outputs


def poisson_lookup(levels: torch.Tensor, uniform: torch.Tensor, photons: float,
                   eight_bit: bool) -> torch.Tensor:
    """The output codes (``guide_tables``) of the counts of Poisson(level / 255 * photons) drawn by
    exact inverse CDF of ``uniform`` (float64, the shape of the uint8 ``levels``), elementwise.

    The pending elements start at the guide's count; nearly all of them are there or one step
    above. The remainder (u in a level's last guide bins, where the far tail crowds) search their
    whole row. Returns int16 or int32 codes, the shape of ``levels``, on their device.
    """
    device = uniform.device
    cdf = poisson_cdf(float(photons))
    support = cdf.shape[1]
    cdf = cdf.to(device).reshape(-1)
    guide, outputs = (t.to(device) for t in guide_tables(float(photons), eight_bit))
    # u * bins is exact (bins is a power of two) and truncation floors it: the start never
    # overshoots. int32 indices and index_select: 2.5x faster than int64 and take on the CPU.
    start = (uniform * GUIDE_BINS).to(torch.int32).add_(levels.to(torch.int32), alpha=GUIDE_BINS).reshape(-1)
    count, per_word = start.numel(), 8 // guide.element_size()
    padded = torch.empty(-(-count // per_word) * per_word, dtype=guide.dtype, device=device)
    padded[count:] = 0
    codes = torch.index_select(guide, 0, start, out=padded[:count])
    pending = negative_entries(padded)
    row_start = start.index_select(0, pending).bitwise_right_shift_(GUIDE_SHIFT).mul_(support)
    flat = codes.index_select(0, pending).to(torch.int32).bitwise_not_().add_(row_start)
    flat_uniform = uniform.reshape(-1).index_select(0, pending)
    flat += cdf.index_select(0, flat) < flat_uniform
    beyond = (cdf.index_select(0, flat) < flat_uniform).nonzero().squeeze(1)
    if beyond.numel():
        row = row_start.index_select(0, beyond)
        rows = cdf.view(256, support).index_select(0, row.div(support, rounding_mode="floor"))
        found = torch.searchsorted(rows, flat_uniform.index_select(0, beyond)[:, None], out_int32=True)
        flat.index_copy_(0, beyond, found.squeeze(1).add_(row))
    codes.index_copy_(0, pending, outputs.index_select(0, flat))
    return codes.view(levels.shape)


def negative_entries(codes: torch.Tensor) -> torch.Tensor:
    """Indices of the negative entries of a 1-D int16 or int32 tensor that fills whole int64
    words, in increasing order (int64).

    ``nonzero`` over the words masked to their entries' sign bits, then over the entries of the few
    words found: on the CPU a quarter (int16) or half (int32) of the scan of
    ``(codes < 0).nonzero()``, and no comparison pass over all entries (a comparison with a scalar
    costs about six elementwise passes there).
    """
    per_word, bits = 8 // codes.element_size(), 8 * codes.element_size()
    signs = sum(1 << (bits * (i + 1) - 1) for i in range(per_word)) - 2**64  # as a signed int64
    words = torch.bitwise_and(codes.view(torch.int64), signs).nonzero().squeeze(1)
    candidates = (words[:, None] * per_word + torch.arange(per_word, device=codes.device)).reshape(-1)
    return candidates.index_select(0, (codes.index_select(0, candidates) < 0).nonzero().squeeze(1))


def poisson_sample(levels: torch.Tensor, uniform: torch.Tensor, photons: float) -> torch.Tensor:
    """Poisson(level / 255 * photons) / photons by exact inverse CDF of ``uniform``, elementwise:
    float32 of the shape of ``levels`` (uint8), not clipped."""
    counts = poisson_lookup(levels, uniform, photons, eight_bit=False).reshape(-1).to(torch.int32)
    return count_values(float(photons)).to(uniform.device).index_select(0, counts).view(levels.shape)


def poisson_levels(levels: torch.Tensor, uniform: torch.Tensor, photons: float) -> torch.Tensor:
    """``quantize_uint8(poisson_sample(levels, uniform, photons).clamp(0, 1))`` straight from the
    tables: uint8 of the shape of ``levels``, no float image made."""
    return poisson_lookup(levels, uniform, photons, eight_bit=True).to(torch.uint8)
