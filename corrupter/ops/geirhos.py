"""Geirhos et al. 2018, "Generalisation in humans and deep neural networks": the pixel-domain distortions.

Definitions: rgeirhos/generalisation-humans-DNNs ``code/image_manipulation.py`` (commit 0b88343);
levels: the data conditions of bethgelab/model-vs-human ``datasets/experiments.py`` (mildest first;
salt-and-pepper from the paper's training experiments). The Fourier-domain ones (phase_noise,
power_equalisation) are in geirhos_spectral.py. What the original does, and we do too:

- Greyscale first (scikit-image rgb2gray: 0.2125 R + 0.7154 G + 0.0721 B) in every op but
  false_colour; the grey result is stacked to 3 equal channels.
- Its background grey 0.4423 (the stimuli's mean): the constant padding of the Gaussian filters
  and the mean the high-pass output is reset to.
- Its clipping to [0, 1] (grayscale and grayscale_contrast, which the original does not clip,
  cannot leave [0, 1] but by float32 rounding, which a clamp removes).
- Its uint8 step truncates (``(x * 255).astype(uint8)``), as ``ops.quantize_uint8`` does.

The random ops draw one uniform per pixel from the sample's own generator; the original's NumPy
streams cannot be reproduced, their statistics are (tests/ops/test_geirhos.py).

Every op has an 8-bit kernel (``apply_uint8``, the worker's route): the grey ops compute their one
grey plane (``*_plane``) and truncate it to 8 bits before stacking (``on_levels``), rotation turns the
8-bit plane, false_colour reads and writes levels directly; the same bytes as the float kernels'.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch

from ._common import quantize_uint8
from ._gaussian_constant import gaussian_filter_constant
from ._geirhos_common import BACKGROUND_GREY, REFERENCE, TAG, grey, number, on_levels, stacked
from ._registry import Draws, register_corruption

NOISE_CONTRAST = 0.3  # contrast the noise experiments apply before the noise (paper; code examples)

CONTRAST_LEVELS = tuple({"contrast": c} for c in (1.0, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01))
UNIFORM_NOISE_LEVELS = tuple({"width": w} for w in (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9))
LOW_PASS_LEVELS = tuple({"sigma": s} for s in (0, 1, 3, 5, 7, 10, 15, 40))
# "inf" (a string: JSON has no infinity) is model-vs-human's unfiltered level: the grey image.
HIGH_PASS_LEVELS = tuple({"sigma": s} for s in ("inf", 3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4))
ROTATION_LEVELS = tuple({"degrees": d} for d in (0, 90, 180, 270))
SALT_AND_PEPPER_LEVELS = tuple({"probability": p} for p in (0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95))


def sample_pixel_uniform(generator: torch.Generator, height: int, width: int, /, **_: object) -> Draws:
    """One U[0, 1) per pixel (the noise lands on the grey image), (H, W) float32.

    Positional-only size: the ops' own parameter ``width`` (the noise width) arrives in ``_``.
    """
    return {"uniform": torch.rand(height, width, generator=generator)}


def grayscale_plane(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    return grey(images).clamp_(0, 1)


@register_corruption("grayscale", family="digital", levels=({},), tags=TAG,
                     reference=f"{REFERENCE} rgb2gray (model-vs-human colour experiment, 'bw')",
                     apply_uint8=on_levels(grayscale_plane))
def grayscale(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    """Greyscale: 0.2125 R + 0.7154 G + 0.0721 B on all three channels.

    Shape: (B, 3, H, W) -> (B, 3, H, W). Deterministic; one level, no parameters.
    """
    return stacked(grayscale_plane(images, draws))


def grayscale_contrast_plane(images: torch.Tensor, draws: Draws, *, contrast: float) -> torch.Tensor:
    c = number("grayscale_contrast", "contrast", contrast, 0.0, 1.0)
    return grey(images).mul_(c).add_((1 - c) / 2).clamp_(0, 1)


@register_corruption("grayscale_contrast", family="digital", levels=CONTRAST_LEVELS, tags=TAG,
                     reference=f"{REFERENCE} grayscale_contrast",
                     apply_uint8=on_levels(grayscale_contrast_plane))
def grayscale_contrast(images: torch.Tensor, draws: Draws, *, contrast: float) -> torch.Tensor:
    """Greyscale, then contrast scaled about mid-grey 0.5: (1 - c) / 2 + c * grey.

    Unlike ImageNet-C's ``contrast`` (per-channel mean) the pivot is 0.5, whatever the image.
    Shape: (B, 3, H, W) -> (B, 3, H, W). Deterministic.
    """
    return stacked(grayscale_contrast_plane(images, draws, contrast=contrast))


def uniform_noise_plane(images: torch.Tensor, draws: Draws, *, width: float) -> torch.Tensor:
    w = number("uniform_noise", "width", width, 0.0)
    base = grey(images).mul_(NOISE_CONTRAST).add_((1 - NOISE_CONTRAST) / 2)
    # rng.uniform(-w, w) = -w + 2w * u
    return base.add_(draws["uniform"].to(base.dtype), alpha=2 * w).sub_(w).clamp_(0, 1)


@register_corruption("uniform_noise", family="noise", levels=UNIFORM_NOISE_LEVELS,
                     sample=sample_pixel_uniform, tags=TAG,
                     reference=f"{REFERENCE} uniform_noise(x, width, 0.3, rng)",
                     apply_uint8=on_levels(uniform_noise_plane))
def uniform_noise(images: torch.Tensor, draws: Draws, *, width: float) -> torch.Tensor:
    """Greyscale at contrast 0.3, plus U(-width, width) per pixel, clipped to [0, 1].

    Shape: (B, 3, H, W) -> (B, 3, H, W). Stochastic (one uniform per pixel).
    """
    return stacked(uniform_noise_plane(images, draws, width=width))


def salt_and_pepper_noise_plane(images: torch.Tensor, draws: Draws, *, probability: float) -> torch.Tensor:
    p = number("salt_and_pepper_noise", "probability", probability, 0.0, 1.0)
    base = grey(images).mul_(NOISE_CONTRAST).add_((1 - NOISE_CONTRAST) / 2)
    uniform = draws["uniform"].to(base.dtype)
    # floor(u + p/2) is 1 exactly where salt falls (u + p/2 < 1.5), floor(u - p/2) is -1 exactly where
    # pepper does: +1 / -1 on a base in [0, 1], clipped, is the original's image + salt + pepper.
    # floor is vectorised on the CPU where float comparisons are not.
    salt = torch.floor(uniform + p / 2)
    pepper = torch.floor(uniform - p / 2)
    return base.add_(salt).add_(pepper).clamp_(0, 1)


@register_corruption("salt_and_pepper_noise", family="noise", levels=SALT_AND_PEPPER_LEVELS,
                     sample=sample_pixel_uniform, tags=TAG,
                     reference=f"{REFERENCE} salt_and_pepper_noise(x, p, 0.3, rng) "
                               f"(the paper's training experiments)",
                     apply_uint8=on_levels(salt_and_pepper_noise_plane))
def salt_and_pepper_noise(images: torch.Tensor, draws: Draws, *, probability: float) -> torch.Tensor:
    """Greyscale at contrast 0.3, then each pixel white with probability p/2, black with p/2.

    The original's rule on one uniform u per pixel: salt where u >= 1 - p/2, pepper where
    u < p/2 (thresholds up to float32 rounding). Shape: (B, 3, H, W) -> (B, 3, H, W).
    Stochastic (one uniform per pixel).
    """
    return stacked(salt_and_pepper_noise_plane(images, draws, probability=probability))


def gaussian_low_pass_plane(images: torch.Tensor, draws: Draws, *, sigma: float) -> torch.Tensor:
    s = number("gaussian_low_pass", "sigma", sigma, 0.0, 1e6)
    if s == 0:  # scipy skips the filter: the grey image (a copy saved)
        return grey(images).clamp_(0, 1)
    return gaussian_filter_constant(grey(images), s, BACKGROUND_GREY).clamp_(0, 1)


@register_corruption("gaussian_low_pass", family="filter", levels=LOW_PASS_LEVELS, tags=TAG,
                     reference=f"{REFERENCE} low_pass_filter", apply_uint8=on_levels(gaussian_low_pass_plane))
def gaussian_low_pass(images: torch.Tensor, draws: Draws, *, sigma: float) -> torch.Tensor:
    """Greyscale, Gaussian blur of std sigma px (borders padded with grey 0.4423), clipped.

    scipy ``gaussian_filter(grey, sigma, mode='constant', cval=0.4423)`` (truncate 4); sigma 0 is
    the grey image. Shape: (B, 3, H, W) -> (B, 3, H, W). Deterministic.
    """
    return stacked(gaussian_low_pass_plane(images, draws, sigma=sigma))


def high_pass_sigma(sigma: object) -> float:
    """A level's sigma as a float: the string "inf" (any case) or infinity means no filter."""
    if isinstance(sigma, str) and sigma.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(sigma, float) and sigma == math.inf:
        return math.inf
    return number("gaussian_high_pass", "sigma", sigma, 0.0, 1e6)


def gaussian_high_pass_plane(images: torch.Tensor, draws: Draws, *, sigma: float | str) -> torch.Tensor:
    s = high_pass_sigma(sigma)
    luminance = grey(images)
    if s == math.inf:
        return luminance.clamp_(0, 1)
    detail = luminance - gaussian_filter_constant(luminance, s, BACKGROUND_GREY)
    detail += BACKGROUND_GREY - detail.mean(dim=(-2, -1), keepdim=True)
    return detail.clamp_(0, 1)


@register_corruption("gaussian_high_pass", family="filter", levels=HIGH_PASS_LEVELS, tags=TAG,
                     reference=f"{REFERENCE} high_pass_filter; sigma inf as model-vs-human "
                               f"(plot_stimuli_levels.high_pass_filter_with_inf)",
                     apply_uint8=on_levels(gaussian_high_pass_plane))
def gaussian_high_pass(images: torch.Tensor, draws: Draws, *, sigma: float | str) -> torch.Tensor:
    """Greyscale minus its Gaussian blur (std sigma px), mean reset to grey 0.4423, clipped.

    h = g - gaussian_filter(g, sigma, mode='constant', cval=0.4423); h + (0.4423 - mean(h)),
    clipped to [0, 1]. ``sigma: "inf"`` (a string, as JSON has no infinity) is the unfiltered grey
    image, model-vs-human's first level (no mean reset: the original's gaussian_filter cannot take
    infinity, and its plotting script shows the grey image). Shape: (B, 3, H, W) -> (B, 3, H, W).
    Deterministic.
    """
    return stacked(gaussian_high_pass_plane(images, draws, sigma=sigma))


def rotation_levels(levels: torch.Tensor, draws: Draws, *, degrees: int) -> torch.Tensor:
    """rotation on uint8 levels (the worker's 8-bit route): the grey plane truncated to 8 bits, then
    turned; the canvas is the background grey's 8-bit level (quantize_uint8 works pixel by pixel)."""
    plane = quantize_uint8(grey(levels.float().div_(255)))
    fill = int(quantize_uint8(torch.tensor(BACKGROUND_GREY)))
    return stacked(turned(plane, degrees, fill))


@register_corruption("rotation", family="digital", levels=ROTATION_LEVELS, tags=TAG,
                     distortion_order=(1, 2, 4, 3), reference=f"{REFERENCE} rotate90/180/270 (np.rot90)",
                     apply_uint8=rotation_levels)
def rotation(images: torch.Tensor, draws: Draws, *, degrees: int) -> torch.Tensor:
    """Greyscale, rotated counter-clockwise by a multiple of 90 degrees (np.rot90).

    Non-square images keep their shape: a 90 / 270 degree turn is centred on the (H, W) canvas,
    cropped where it is longer and padded with the stimuli's background grey 0.4423 where it is
    shorter (the original only ever rotated square images; grey is what its viewers saw around a
    stimulus). Levels 0, 90, 180, 270; 180 moves the image furthest from the original.
    Shape: (B, 3, H, W) -> (B, 3, H, W). Deterministic.
    """
    return stacked(turned(grey(images).clamp_(0, 1), degrees, BACKGROUND_GREY))


def turned(planes: torch.Tensor, degrees: int, fill: float) -> torch.Tensor:
    """(B, H, W) planes turned counter-clockwise by ``degrees`` (a multiple of 90), centred on an
    (H, W) canvas of ``fill`` where a quarter turn changes the shape."""
    d = number("rotation", "degrees", degrees, -math.inf)
    if d % 90:
        raise ValueError(f"rotation: degrees must be a multiple of 90 (the original turns by 90, 180, "
                         f"270), got {degrees!r}")
    out = torch.rot90(planes, int(d // 90) % 4, dims=(-2, -1))
    if out.shape == planes.shape:
        return out.contiguous()
    return centred_on_canvas(out, planes.shape[-2:], fill)


def centred_on_canvas(planes: torch.Tensor, size: tuple[int, int] | torch.Size, fill: float) -> torch.Tensor:
    """(..., h, w) planes centred on a (..., H, W) canvas of ``fill``: cropped or padded per axis."""
    canvas = planes.new_full((*planes.shape[:-2], *size), fill)
    windows = []
    for have, want in zip(planes.shape[-2:], size):
        start = abs(have - want) // 2
        # (slice of the source, slice of the canvas)
        windows.append((slice(start, start + want), slice(None)) if have >= want
                       else (slice(None), slice(start, start + have)))
    (src_h, dst_h), (src_w, dst_w) = windows
    canvas[..., dst_h, dst_w] = planes[..., src_h, src_w]
    return canvas


# ------------------------------------------------------------------------------------------ false colour

# Cone sensitivities of the monitor primaries (L, M, S rows x R, G, B columns), the white point's
# cone activations, and the cone -> opponent (luminance, L-M, S-(L+M)) matrix: get_opponent_colours.
_CONES = ((0.1619982647, 0.208049264, 0.0389347448),
          (0.0330275785, 0.2496504557, 0.0618343518),
          (0.0015524055, 0.0198861001, 0.1890224274))
_WHITE = (0.20449114, 0.17225619, 0.10523047)
_OPPONENT = ((9.27590805, 9.27590805, 0.0),
             (7.86421647, -9.33587662, 0.0),
             (-3.39709047, -3.39709047, 12.16230246))


def opponent_colour_map() -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b), float64, with rgb' = A rgb + b: the original's chain of 3x3 maps with the two
    opponent channels negated (cones -> minus white -> opponent -> negate L-M and S -> back)."""
    cones = torch.tensor(_CONES, dtype=torch.float64)
    opponent = torch.tensor(_OPPONENT, dtype=torch.float64)
    white = torch.tensor(_WHITE, dtype=torch.float64)
    negate = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    swap = torch.linalg.inv(opponent) @ negate @ opponent  # in cone space
    back = torch.linalg.inv(cones)
    return back @ swap @ cones, back @ (white - swap @ white)


NEAREST_CELLS = 2 ** 17  # finer than the closest two midpoints of the gamma table (8.9e-6 apart)


@functools.lru_cache(maxsize=8)
def nearest_level_tables(gamma: tuple[float, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Tables answering "nearest gamma entry to v" for v in [0, 1] with one lookup per value.

    The nearest entry (ties to the lower, as argmin) is the count of midpoints m_j = (g_j + g_j+1) / 2
    below v. Cell c = floor(v * NEAREST_CELLS) holds at most one midpoint: ``below[c]`` counts the
    midpoints under the cell, ``inside[c]`` is the one in it (+inf if none); the answer is
    below[c] + (v > inside[c]).
    """
    table = torch.tensor(gamma, dtype=torch.float64)
    midpoints = (table[1:] + table[:-1]) / 2
    if not bool((torch.diff(midpoints) > 1 / NEAREST_CELLS).all()):
        raise ValueError("gamma table: two midpoints share a lookup cell; raise NEAREST_CELLS")
    edges = torch.arange(NEAREST_CELLS + 1, dtype=torch.float64) / NEAREST_CELLS
    below = torch.searchsorted(midpoints, edges)  # midpoints < edge (left side: equal ones not counted)
    inside = torch.full((NEAREST_CELLS + 1,), math.inf, dtype=torch.float64)
    cells = (midpoints * NEAREST_CELLS).floor().to(torch.int64)
    inside[cells] = midpoints
    return below.to(device=device, dtype=torch.float64), inside.to(device)


def false_colour_levels(levels: torch.Tensor, draws: Draws, *,
                       assets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """false_colour on uint8 levels (the worker's 8-bit route): the levels go straight to the gamma
    table, and the nearest entries' indices are the output levels."""
    return opponent_levels(levels.to(torch.int32), assets).to(torch.uint8)


def opponent_levels(levels: torch.Tensor, assets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The false_colour output levels (float64, integral) of int32 input levels (see false_colour)."""
    table = assets["geirhos_gamma_table"].to(device=levels.device, dtype=torch.float64)
    below, inside = nearest_level_tables(tuple(table.tolist()), levels.device)
    matrix, offset = (t.to(levels.device) for t in opponent_colour_map())
    # int32 indices and index_select: the fast gather on the CPU
    linear = table.index_select(0, levels.reshape(-1)).view(levels.shape)  # (B, 3, H, W) float64
    swapped = torch.einsum("ij,bjhw->bihw", matrix, linear).add_(offset[:, None, None]).clamp_(0, 1)
    flat = swapped.reshape(-1)
    cells = (flat * NEAREST_CELLS).to(torch.int32)
    # v > inside[c] as sign(v - inside[c]) clipped at 0 (+inf: -1 -> 0): float comparisons are not
    # vectorised on the CPU
    above = torch.sign(flat - inside.index_select(0, cells)).clamp_(min=0)
    return below.index_select(0, cells).add_(above).view(levels.shape)


@register_corruption("false_colour", family="digital", levels=({},), tags=TAG,
                     assets=("geirhos_gamma_table",), apply_uint8=false_colour_levels,
                     reference=f"{REFERENCE} false_colour (model-vs-human false-colour 'False')")
def false_colour(images: torch.Tensor, draws: Draws, *,
                 assets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Opponent colours: red <-> green and blue <-> yellow swapped in cone space, luminance kept.

    As the original: each 8-bit level k goes through the monitor gamma table (``x_gamma_function``)
    to luminance, the linear cone/opponent map with both chromatic opponent channels negated is
    applied, the result is clipped to [0, 1] and mapped back to the level whose gamma entry is
    nearest (ties to the lower level, as its argmin), so the output is exactly level / 255. Input
    off the 8-bit grid is rounded to the nearest level (the original asserts it is on the grid).
    Computed in float64; the nearest entry comes from midpoint tables (``nearest_level_tables``),
    the same answer as comparing the two bracketing entries for every one of the 2^24 8-bit
    colours (checked once, all three channels; tests/ops/test_geirhos.py checks a sample).
    Shape: (B, 3, H, W) -> (B, 3, H, W). Deterministic; colour.
    """
    levels = (images * 255).round_().clamp_(0, 255).to(torch.int32)
    return opponent_levels(levels, assets).to(images.dtype) / 255
