"""Digital corruptions of ImageNet-C (Hendrycks & Dietterich 2019).

contrast works on float pixels. brightness, saturate, pixelate and jpeg_compression keep the
8-bit semantics of make_imagenet_c.py, where they act on the uint8 PIL image: the input is read at
its 8-bit level (``quantize_uint8``, the level the pipeline stores), the arithmetic mirrors the
reference (skimage's float64 HSV conversion; Pillow's BOX resampling and libjpeg, called directly
on the CPU and reproduced in torch or torchvision for other devices, see ``_pillow``), and the
output is the reference's truncated 8-bit level divided by 255. Each is written as a kernel on
uint8 levels (``*_levels``, registered as the op's ``apply_uint8``: the worker's route, with no
float conversion on either side) and the float form around it (``_from_levels``); brightness and
saturate also have a multi-level kernel on uint8 levels (``*_multi_level``, registered as the op's
``apply_levels``), which computes the HSV planes their levels share once. On 8-bit inputs
they reproduce the reference byte for byte at 224x224 (tests/ops/test_digital.py), and pixelate
and jpeg_compression match Pillow at any size.

Deliberate deviations from make_imagenet_c.py:
- A float input between 8-bit levels is first truncated to its level (the reference only ever sees
  8-bit images); the output of these four ops is always on the 8-bit grid.
- pixelate at sizes other than 224: the intermediate size is int(W * factor) x int(H * factor)
  (imagecorruptions' generalisation of the hard-coded int(224 * factor)); identical at 224.
- jpeg_compression on a GPU input is encoded and decoded on the CPU (torchvision's libjpeg, the
  bytes of Pillow's), so the bytes do not depend on the device; nvJPEG would give different ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import quantize_uint8, truncate_to_uint8
from ._pillow import (
    box_enlarge_on_cpu,
    box_resize,
    box_resize_with_pillow,
    jpeg_round_trip_with_pillow,
    jpeg_round_trip_with_torchvision,
)
from ._registry import Draws, Params, register_corruption

CONTRAST_SEVERITIES = tuple({"factor": c} for c in (0.4, 0.3, 0.2, 0.1, 0.05))


@register_corruption("contrast", family="digital", levels=CONTRAST_SEVERITIES, tags=("imagenet-c",),
                     reference="hendrycks/robustness make_imagenet_c.py contrast")
def contrast(images: torch.Tensor, draws: Draws, *, factor: float) -> torch.Tensor:
    """Contract each channel toward its own spatial mean: (x - m_c) * factor + m_c.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic.
    """
    means = images.mean(dim=(-2, -1), keepdim=True, dtype=torch.float64).to(images.dtype)
    return (images - means).mul_(float(factor)).add_(means).clamp_(0, 1)  # in place: same values, 40% faster


_REFERENCE = "hendrycks/robustness make_imagenet_c.py"
BRIGHTNESS_SEVERITIES = tuple({"shift": c} for c in (0.1, 0.2, 0.3, 0.4, 0.5))
SATURATE_SEVERITIES = tuple({"scale": a, "shift": b}
                            for a, b in ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)))
PIXELATE_SEVERITIES = tuple({"factor": c} for c in (0.6, 0.5, 0.4, 0.3, 0.25))
JPEG_SEVERITIES = tuple({"quality": q} for q in (25, 18, 15, 10, 7))

_TINY = torch.finfo(torch.float64).tiny


def _level_to_float(levels: torch.Tensor) -> torch.Tensor:
    """uint8 level k -> float64 k / 255, the same double as the reference's ``np.array(pil) / 255.``."""
    return levels.to(torch.float64).div_(255)


def _select(mask_a: torch.Tensor, a: torch.Tensor, mask_b: torch.Tensor, b: torch.Tensor,
            mask_c: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Per element, the uint8 of whichever 0x00/0xFF mask is set (exactly one is)."""
    return (a & mask_a) | (b & mask_b) | (c & mask_c)


def _hue_branches(levels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """rgb2hsv's per-pixel branch choices, made on the uint8 levels: (top, bottom, first, second,
    offset, negative), uint8 (B, H, W) each.

    top / bottom: the largest / smallest channel. Hue before the / 6 is (first - second) / delta +
    offset: (g - b), 2 + (b - r) or 4 + (r - g) by which channel is the maximum; skimage assigns
    red-max, then green-max, then blue-max, so later channels win ties. Grey pixels (delta = 0) get
    offset 0, i.e. skimage's hue 0. negative is 1 where NumPy's ``x % 1.`` adds 1: only the red
    branch with g < b gives a negative hue. Masks are 0xFF where true; comparisons against tensors
    (not Python scalars) are the vectorised ones.
    """
    red, green, blue = levels.unbind(1)
    top = torch.maximum(torch.maximum(red, green), blue)
    bottom = torch.minimum(torch.minimum(red, green), blue)
    blue_max = (blue == top).view(torch.uint8).neg_()
    green_max = (green == top).view(torch.uint8).neg_() & ~blue_max
    red_max = ~(blue_max | green_max)
    first = _select(red_max, green, green_max, blue, blue_max, red)
    second = _select(red_max, blue, green_max, red, blue_max, green)
    grey = (top == bottom).view(torch.uint8).neg_()
    offset = ((green_max & 2) | (blue_max & 4)) & ~grey
    negative = (green < blue).view(torch.uint8) & red_max
    return top, bottom, first, second, offset, negative


def rgb_to_hsv(levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """skimage ``rgb2hsv`` of ``levels / 255``, bit-identical float64 results.

    The input is the 8-bit image (uint8 (B, 3, H, W)): every test skimage makes on floats (which
    channel is the maximum, grey pixels, negative hues) is made on the uint8 levels instead, which
    gives the same answers (k / 255 is increasing in k) and costs a tenth of a float64 comparison;
    the float64 arithmetic itself is skimage's, operation for operation.
    Shape: (B, 3, H, W) uint8 -> three (B, H, W) float64 planes, hue in [0, 1].
    """
    if levels.dtype != torch.uint8:
        raise TypeError(f"rgb_to_hsv takes 8-bit levels (uint8), got {levels.dtype}")
    top, bottom, first, second, offset, negative = _hue_branches(levels)
    value = _level_to_float(top)
    delta = value - _level_to_float(bottom)
    # Dividing by max(x, tiny) changes nothing where x > 0, and gives skimage's 0 (not NaN) where
    # x = 0 (black; grey for delta).
    saturation = delta / value.clamp_min(_TINY)
    # Choosing the two 8-bit operands first and converting them gives the very doubles skimage
    # subtracts; grey pixels get 0 - 0.
    hue = (_level_to_float(first) - _level_to_float(second)).div_(delta.clamp_min(_TINY))
    hue = hue.add_(offset.to(torch.float64)).div_(6.0)
    # NumPy's ``x % 1.`` for x in (-1, 1): x itself, or x + 1 (rounded) when negative; -x + 1 can
    # round up to 1.0, which hsv_to_rgb_levels wraps to sector 0 as skimage's uint8 % 6 does.
    # Adding 0.0 elsewhere leaves every hue unchanged (none is -0.0: x - x is +0.0).
    hue = hue.add_(negative.to(torch.float64))
    return hue, saturation, value


def hsv_to_rgb_levels(hue: torch.Tensor, saturation: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """skimage ``hsv2rgb`` operation for operation, then the reference's ``np.uint8(x * 255)``.

    Each output channel is one of v, p, q, t chosen by hue sector (skimage's ``np.choose``).
    Truncating the four candidates first and choosing among the uint8 levels gives the same bytes
    (the choice copies a value, truncation is per element), and lets the choice be bitwise masking:
    torch's ``where`` or ``gather`` over float64 planes cost more than all the arithmetic.
    Shape: three (B, H, W) planes -> uint8 (B, 3, H, W).
    """
    hue6 = hue * 6
    sector = torch.floor(hue6)
    fraction = hue6.sub_(sector)
    p = value * (1 - saturation)
    q = value * (1 - fraction * saturation)
    t = value * (1 - (1 - fraction) * saturation)
    sector = truncate_to_uint8(sector)
    # All four are in [0, 1] (v is, and p, q, t are v times a factor in [0, 1]), so the uint8
    # conversion, which truncates, is np.uint8(np.clip(x, 0, 1) * 255).
    v8 = truncate_to_uint8(value.mul(255))
    p8, q8, t8 = (truncate_to_uint8(plane.mul_(255)) for plane in (p, q, t))
    # 0xFF where the sector is k. Against a tensor of k: torch's uint8 comparison with a Python
    # scalar is not vectorised (10x slower). hue = 1.0 exactly gives sector 6, which skimage's
    # uint8 % 6 wraps to 0.
    m0, m1, m2, m3, m4, m5, m6 = ((sector == torch.full_like(sector, k)).view(torch.uint8).neg_()
                                  for k in range(7))
    m0 |= m6
    levels = v8.new_empty((v8.shape[0], 3, *v8.shape[1:]))
    torch.bitwise_or((v8 & (m0 | m5)) | (q8 & m1) | (p8 & (m2 | m3)), t8 & m4, out=levels[:, 0])
    torch.bitwise_or((t8 & m0) | (v8 & (m1 | m2)) | (q8 & m3), p8 & (m4 | m5), out=levels[:, 1])
    torch.bitwise_or((p8 & (m0 | m1)) | (t8 & m2) | (v8 & (m3 | m4)), q8 & m5, out=levels[:, 2])
    return levels


def _from_levels(kernel: Callable[..., torch.Tensor], images: torch.Tensor, draws: Draws,
                 **params: Any) -> torch.Tensor:
    """An op's float form from its 8-bit kernel: the input read at its 8-bit level, the output's
    levels / 255 (see the module docstring)."""
    levels = kernel(quantize_uint8(images), draws, **params)
    return levels.to(device=images.device, dtype=images.dtype, memory_format=torch.contiguous_format).div_(255)


def _shared_hsv_planes(levels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What ``edit_in_hsv`` computes before the edit, none of which an edit of s or v changes:
    (saturation, value, g, sector, spare), float64 (B, H, W) planes but the uint8 sector; spare is
    a free float64 plane. g is f or |f - 1| (the rounded 1 - f), the factor of q or t that the
    pixel's sector uses (see ``edit_in_hsv``)."""
    if levels.dtype != torch.uint8:
        raise TypeError(f"the HSV edits take 8-bit levels (uint8), got {levels.dtype}")
    top, bottom, first, second, offset, negative = _hue_branches(levels)
    value = _level_to_float(top)
    bottom_float = _level_to_float(bottom)
    delta = torch.sub(value, bottom_float, out=bottom_float)
    spare = torch.empty_like(value)
    hue = _level_to_float(first).sub_(_level_to_float(second))
    hue = hue.div_(torch.clamp_min(delta, _TINY, out=spare))
    saturation = delta.div_(torch.clamp_min(value, _TINY, out=spare))
    hue = hue.add_(spare.copy_(offset)).div_(6.0).add_(spare.copy_(negative))
    hue6 = hue.mul_(6)
    sector = torch.floor(hue6, out=spare)
    fraction = hue6.sub_(sector)
    sector = truncate_to_uint8(sector)
    g = fraction.sub_(spare.copy_((sector & 1) ^ 1)).abs_()
    return saturation, value, g, sector, spare


def _sector_masks(sector: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The 0xFF masks ``_choose_by_sector`` takes, by channel: which of v, m, p each channel is.

    hsv_to_rgb_levels's choice by sector, with m for q and t: (v, m, p), (m, v, p), (p, v, m),
    (p, m, v), (m, p, v), (v, p, m); sector 6 wraps to 0. Against a tensor of k: torch's uint8
    comparison with a Python scalar is not vectorised (10x slower).
    """
    m0, m1, m2, m3, m4, m5, m6 = ((sector == torch.full_like(sector, k)).view(torch.uint8).neg_()
                                  for k in range(7))
    m0 |= m6
    return (m0 | m5, m1 | m4, m2 | m3,  # red: v, m, p
            m1 | m2, m0 | m3, m4 | m5,  # green
            m3 | m4, m2 | m5, m0 | m1)  # blue


def _choose_by_sector(v8: torch.Tensor, m8: torch.Tensor, p8: torch.Tensor,
                      masks: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """uint8 (B, 3, H, W) of each channel's level among v8, m8, p8 (B, H, W), by ``_sector_masks``."""
    out = v8.new_empty((v8.shape[0], 3, *v8.shape[1:]))
    for channel in range(3):
        for_v, for_m, for_p = masks[3 * channel:3 * channel + 3]
        torch.bitwise_or((v8 & for_v) | (m8 & for_m), p8 & for_p, out=out[:, channel])
    return out


def edit_in_hsv(levels: torch.Tensor, edit: Callable[[torch.Tensor, torch.Tensor], object]) -> torch.Tensor:
    """``hsv_to_rgb_levels`` of ``rgb_to_hsv(levels)`` after ``edit(saturation, value)`` (in place),
    the same bytes for every colour in a third fewer float64 passes.

    The float64 operations are theirs, in the same order, rearranged only where the result is the
    same double: in place into three reused planes (fresh planes cost as much as the arithmetic);
    v - b and 1 - x as one subtraction, not a negation and an addition; and only one of q, t, the
    one the pixel's sector uses (q in odd sectors, t in even ones): v * (1 - g * s) with g = f or
    |f - 1|, which is the rounded 1 - f. Identical to the composition on all 2^24 colours at every
    severity of brightness and saturate (``python bench/fidelity_checks.py hsv-cube``, against
    scikit-image itself; tests/ops/test_digital.py samples it).
    Shape: uint8 (B, 3, H, W) -> uint8 (B, 3, H, W).
    """
    saturation, value, g, sector, spare = _shared_hsv_planes(levels)
    edit(saturation, value)
    one = torch.ones((), dtype=torch.float64, device=levels.device)
    m8 = truncate_to_uint8(torch.sub(one, g.mul_(saturation), out=g).mul_(value).mul_(255))
    v8 = truncate_to_uint8(torch.mul(value, 255, out=spare))
    p8 = truncate_to_uint8(torch.sub(one, saturation, out=saturation).mul_(value).mul_(255))
    return _choose_by_sector(v8, m8, p8, _sector_masks(sector))


def brightness_levels(levels: torch.Tensor, draws: Draws, *, shift: float) -> torch.Tensor:
    """brightness on uint8 levels (the worker's 8-bit route, see CorruptionSpec.apply_uint8)."""
    return edit_in_hsv(levels, lambda saturation, value: value.add_(float(shift)).clamp_(0, 1))


def brightness_multi_level(levels: torch.Tensor, params_list: list[Params]) -> list[torch.Tensor]:
    """brightness at several levels on the same uint8 levels (CorruptionSpec.apply_levels): output
    i is ``brightness_levels(levels, {}, **params_list[i])``, bit for bit.

    Only v is edited, so everything before the edit (``_shared_hsv_planes``), the sector masks and
    the factors 1 - g * s and 1 - s are computed once; per level, ``edit_in_hsv``'s operations on
    the edited v, in its order, into two reused planes (the shared ones are never written).
    """
    saturation, value, g, sector, edited = _shared_hsv_planes(levels)
    masks = _sector_masks(sector)
    one = torch.ones((), dtype=torch.float64, device=levels.device)
    for_m = torch.sub(one, g.mul_(saturation), out=g)
    for_p = torch.sub(one, saturation, out=saturation)
    work = torch.empty_like(value)
    outputs = []
    for params in params_list:
        shifted = torch.add(value, float(params["shift"]), out=edited).clamp_(0, 1)
        m8 = truncate_to_uint8(torch.mul(for_m, shifted, out=work).mul_(255))
        v8 = truncate_to_uint8(torch.mul(shifted, 255, out=work))
        p8 = truncate_to_uint8(torch.mul(for_p, shifted, out=work).mul_(255))
        outputs.append(_choose_by_sector(v8, m8, p8, masks))
    return outputs


@register_corruption("brightness", family="digital", levels=BRIGHTNESS_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} brightness", apply_uint8=brightness_levels,
                     apply_levels=brightness_multi_level)
def brightness(images: torch.Tensor, draws: Draws, *, shift: float) -> torch.Tensor:
    """Brighten in HSV space: V <- clip(V + shift, 0, 1), hue and saturation kept.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    return _from_levels(brightness_levels, images, draws, shift=shift)


def saturate_levels(levels: torch.Tensor, draws: Draws, *, scale: float, shift: float) -> torch.Tensor:
    """saturate on uint8 levels (the worker's 8-bit route, see CorruptionSpec.apply_uint8)."""
    return edit_in_hsv(levels, lambda saturation, value:
                       saturation.mul_(float(scale)).add_(float(shift)).clamp_(0, 1))


def saturate_multi_level(levels: torch.Tensor, params_list: list[Params]) -> list[torch.Tensor]:
    """saturate at several levels on the same uint8 levels (CorruptionSpec.apply_levels): output
    i is ``saturate_levels(levels, {}, **params_list[i])``, bit for bit.

    Only s is edited, so everything before the edit (``_shared_hsv_planes``), the sector masks and
    v's level are computed once; per level, ``edit_in_hsv``'s operations on the edited s, in its
    order, into two reused planes (the shared ones are never written).
    """
    saturation, value, g, sector, edited = _shared_hsv_planes(levels)
    masks = _sector_masks(sector)
    one = torch.ones((), dtype=torch.float64, device=levels.device)
    v8 = truncate_to_uint8(torch.mul(value, 255))
    work = torch.empty_like(value)
    outputs = []
    for params in params_list:
        scaled = torch.mul(saturation, float(params["scale"]), out=edited)
        scaled = scaled.add_(float(params["shift"])).clamp_(0, 1)
        m8 = truncate_to_uint8(torch.sub(one, torch.mul(g, scaled, out=work), out=work).mul_(value).mul_(255))
        p8 = truncate_to_uint8(torch.sub(one, scaled, out=work).mul_(value).mul_(255))
        outputs.append(_choose_by_sector(v8, m8, p8, masks))
    return outputs


@register_corruption("saturate", family="digital", levels=SATURATE_SEVERITIES, tags=("imagenet-c-extra",),
                     distortion_order=(3, 1, 4, 2, 5), reference=f"{_REFERENCE} saturate",
                     apply_uint8=saturate_levels, apply_levels=saturate_multi_level)
def saturate(images: torch.Tensor, draws: Draws, *, scale: float, shift: float) -> torch.Tensor:
    """Rescale HSV saturation: S <- clip(S * scale + shift, 0, 1); desaturates for scale < 1.

    Severities are not ordered by strength: by mean absolute change on real photos the order is
    3 (x2), 1 (x0.3), 4, 2 (x0.1), 5.
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    return _from_levels(saturate_levels, images, draws, scale=scale, shift=shift)


def pixelate_levels(levels: torch.Tensor, draws: Draws, *, factor: float) -> torch.Tensor:
    """pixelate on uint8 levels (the worker's 8-bit route, see CorruptionSpec.apply_uint8)."""
    height, width = levels.shape[-2:]
    small = (max(1, int(height * float(factor))), max(1, int(width * float(factor))))
    if levels.device.type == "cpu":
        return box_enlarge_on_cpu(box_resize_with_pillow(levels, small), height, width)
    return box_resize(box_resize(levels, *small), height, width).contiguous()


@register_corruption("pixelate", family="digital", levels=PIXELATE_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} pixelate", apply_uint8=pixelate_levels)
def pixelate(images: torch.Tensor, draws: Draws, *, factor: float) -> torch.Tensor:
    """Pixelate: BOX-downsample to int(factor * size), then BOX-upsample back (Pillow, bit-exact).

    Pillow's BOX upsampling picks one source pixel per output pixel (nearest neighbour with
    Pillow's tie rule), hence the blocks. The downsampling, the real work, is Pillow's own on the
    CPU and its fixed-point filter reproduced in torch elsewhere (``_pillow.box_resize``); the
    upsampling, a gather, is numpy's on the CPU (``_pillow.box_enlarge_on_cpu``) and torch's
    elsewhere. The same bytes either way.
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    return _from_levels(pixelate_levels, images, draws, factor=factor)


def jpeg_compression_levels(levels: torch.Tensor, draws: Draws, *, quality: int) -> torch.Tensor:
    """jpeg_compression on uint8 levels (the worker's 8-bit route, see CorruptionSpec.apply_uint8)."""
    check_jpeg_quality(*levels.shape[-2:], quality=int(quality))
    if levels.device.type == "cpu":
        return jpeg_round_trip_with_pillow(levels, int(quality))
    return jpeg_round_trip_with_torchvision(levels, int(quality)).to(levels.device)


def check_jpeg_quality(height: int, width: int, *, quality: int, **_: object) -> None:
    """ValueError unless 1 <= quality <= 100: libjpeg (the CPU path) would clamp 500 to 100 where
    torchvision (other devices) refuses it, so one config would mean two things."""
    if not 1 <= quality <= 100:
        raise ValueError(f"jpeg_compression quality must be 1..100, got {quality}")


@register_corruption("jpeg_compression", family="digital", levels=JPEG_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} jpeg_compression", apply_uint8=jpeg_compression_levels,
                     check=check_jpeg_quality)
def jpeg_compression(images: torch.Tensor, draws: Draws, *, quality: int) -> torch.Tensor:
    """JPEG round trip at ``quality`` (libjpeg defaults: 4:2:0 chroma, islow DCT), as Pillow does.

    On the CPU through Pillow itself; other devices' batches through torchvision's libjpeg on the
    CPU, which writes the same bytes (``_pillow.jpeg_round_trip_with_torchvision``).
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    return _from_levels(jpeg_compression_levels, images, draws, quality=quality)
