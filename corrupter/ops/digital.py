"""Digital corruptions of ImageNet-C (Hendrycks & Dietterich 2019).

contrast works on float pixels. brightness, saturate, pixelate and jpeg_compression keep the
8-bit semantics of make_imagenet_c.py, where they act on the uint8 PIL image: the input is read at
its 8-bit level (``quantize_uint8``, the level the pipeline stores), the arithmetic mirrors the
reference (skimage's float64 HSV conversion, Pillow's fixed-point BOX resampling, libjpeg through
torchvision), and the output is the reference's truncated 8-bit level divided by 255. On 8-bit
inputs they reproduce the reference byte for byte at 224x224 (tests/ops/test_digital.py), and
pixelate and jpeg_compression match Pillow at any size.

Deliberate deviations from make_imagenet_c.py:
- A float input between 8-bit levels is first truncated to its level (the reference only ever sees
  8-bit images); the output of these four ops is always on the 8-bit grid.
- pixelate at sizes other than 224: the intermediate size is int(W * factor) x int(H * factor)
  (imagecorruptions' generalisation of the hard-coded int(224 * factor)); identical at 224.
- jpeg_compression on a GPU input is encoded and decoded on the CPU (libjpeg, as Pillow), so the
  bytes do not depend on the device; nvjpeg would give different ones.
"""

from __future__ import annotations

import functools

import torch

from ._common import quantize_uint8, truncate_to_uint8
from ._registry import Draws, register_corruption

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
    red, green, blue = levels.unbind(1)
    top = torch.maximum(torch.maximum(red, green), blue)
    bottom = torch.minimum(torch.minimum(red, green), blue)
    value = _level_to_float(top)
    delta = value - _level_to_float(bottom)
    # Dividing by max(x, tiny) changes nothing where x > 0, and gives skimage's 0 (not NaN) where
    # x = 0 (black; grey for delta).
    saturation = delta / value.clamp_min(_TINY)
    # skimage assigns red-max, then green-max, then blue-max, so later channels win ties. Masks are
    # 0xFF where true; comparisons against tensors (not Python scalars) are the vectorised ones.
    blue_max = (blue == top).view(torch.uint8).neg_()
    green_max = (green == top).view(torch.uint8).neg_() & ~blue_max
    red_max = ~(blue_max | green_max)
    # Hue before the / 6: (g - b) / delta, 2 + (b - r) / delta or 4 + (r - g) / delta by branch.
    # Choosing the two 8-bit operands first and converting them gives the very doubles skimage
    # subtracts; grey pixels (delta = 0) get 0 - 0 and offset 0, i.e. skimage's hue 0.
    first = _select(red_max, green, green_max, blue, blue_max, red)
    second = _select(red_max, blue, green_max, red, blue_max, green)
    grey = (top == bottom).view(torch.uint8).neg_()
    offset = ((green_max & 2) | (blue_max & 4)) & ~grey
    hue = (_level_to_float(first) - _level_to_float(second)).div_(delta.clamp_min(_TINY))
    hue = hue.add_(offset.to(torch.float64)).div_(6.0)
    # NumPy's ``x % 1.`` for x in (-1, 1): x itself, or x + 1 (rounded) when negative, which only
    # the red branch with g < b gives; -x + 1 can round up to 1.0, which hsv_to_rgb_levels wraps
    # to sector 0 as skimage's uint8 % 6 does. Adding 0.0 elsewhere leaves every hue unchanged
    # (none is -0.0: x - x is +0.0).
    negative = (green < blue).view(torch.uint8) & red_max
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


@register_corruption("brightness", family="digital", levels=BRIGHTNESS_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} brightness")
def brightness(images: torch.Tensor, draws: Draws, *, shift: float) -> torch.Tensor:
    """Brighten in HSV space: V <- clip(V + shift, 0, 1), hue and saturation kept.

    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    hue, saturation, value = rgb_to_hsv(quantize_uint8(images))
    levels = hsv_to_rgb_levels(hue, saturation, (value + float(shift)).clamp_(0, 1))
    return levels.to(images.dtype).div_(255)


@register_corruption("saturate", family="digital", levels=SATURATE_SEVERITIES, tags=("imagenet-c-extra",),
                     distortion_order=(3, 1, 4, 2, 5), reference=f"{_REFERENCE} saturate")
def saturate(images: torch.Tensor, draws: Draws, *, scale: float, shift: float) -> torch.Tensor:
    """Rescale HSV saturation: S <- clip(S * scale + shift, 0, 1); desaturates for scale < 1.

    Severities are not ordered by strength: by mean absolute change on real photos the order is
    3 (x2), 1 (x0.3), 4, 2 (x0.1), 5.
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    hue, saturation, value = rgb_to_hsv(quantize_uint8(images))
    saturation = (saturation * float(scale) + float(shift)).clamp_(0, 1)
    return hsv_to_rgb_levels(hue, saturation, value).to(images.dtype).div_(255)


_PIL_PRECISION_BITS = 22  # Pillow's fixed-point coefficient precision for 8-bit images (32 - 8 - 2)


@functools.lru_cache(maxsize=64)
def pil_box_taps(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pillow's BOX resampling coefficients along one axis (Resample.c ``precompute_coeffs``).

    Output pixel i averages the input pixels whose centres fall in its box (the filter is point
    sampled, not area weighted: each tap has weight 1 or 0), i.e. a contiguous run
    [start_i, stop_i), with Pillow's fixed-point weight round(2^22 / count). Computed with Python
    floats, i.e. the same double arithmetic as Pillow. Returns int64 ``start``, ``stop`` and
    ``weight``, each (out_size,).
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 0.5 * filter_scale
    inverse = 1.0 / filter_scale
    starts, stops, weights = [], [], []
    for i in range(out_size):
        centre = (i + 0.5) * scale
        first, last = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
        taps = [x for x in range(first, last) if -0.5 < (x - centre + 0.5) * inverse <= 0.5]
        starts.append(taps[0])
        stops.append(taps[-1] + 1)
        weights.append(int(0.5 + (1.0 / len(taps)) * (1 << _PIL_PRECISION_BITS)))
    return torch.tensor(starts), torch.tensor(stops), torch.tensor(weights)


def pil_box_resize_rows(levels: torch.Tensor, out_size: int) -> torch.Tensor:
    """Resize uint8 levels along dim -2 (rows) exactly as Pillow's BOX filter does.

    Output row i is the sum of input rows [start_i, stop_i) times the fixed-point weight, rounded
    and shifted back like Pillow. Runs are gathered as whole rows, the fast way to index on the CPU;
    a run shorter than the longest reads an appended zero row for its missing taps. The int32 sums
    cannot overflow (255 * 2^22 + 2^21 < 2^31).
    """
    starts, stops, weights = pil_box_taps(levels.shape[-2], out_size)
    lengths = stops - starts
    if bool((lengths == 1).all()):  # upsampling: one tap of weight 2^22 each, i.e. a copy
        return levels.index_select(-2, starts.to(levels.device))
    zero_row = levels.shape[-2]
    padded = torch.cat([levels, levels.new_zeros(*levels.shape[:-2], 1, levels.shape[-1])], dim=-2)
    total = padded.index_select(-2, starts.to(levels.device)).to(torch.int32)
    for k in range(1, int(lengths.max())):
        total += padded.index_select(-2, torch.where(lengths > k, starts + k, zero_row).to(levels.device))
    weights = weights.to(device=levels.device, dtype=torch.int32)[:, None]
    total.mul_(weights).add_(1 << (_PIL_PRECISION_BITS - 1))
    return (total >> _PIL_PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


def pil_box_resize(levels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``PIL.Image.resize((width, height), BOX)`` on uint8 levels: horizontal pass, then vertical.

    Shape: (B, C, H, W) -> (B, C, height, width); both passes round to 8 bits like Pillow. The
    pass order is Pillow's up to version 12 (the original ImageNet-C's): Pillow 13 resizes
    vertically first when the height loses more than twice as many pixels as the width
    (python-pillow/Pillow#9549), which moves some values of such images by one level; square
    images resize the same in both. The horizontal pass resizes the rows of the transposed image:
    a transposing copy and row gathers cost half of what gathering columns in place does.
    """
    if levels.dtype != torch.uint8:
        raise TypeError(f"pil_box_resize takes uint8 levels, got {levels.dtype}")
    if levels.shape[-1] != width:
        levels = pil_box_resize_rows(levels.transpose(-1, -2).contiguous(), width).transpose(-1, -2)
    if levels.shape[-2] != height:
        levels = pil_box_resize_rows(levels.contiguous(), height)
    return levels


@register_corruption("pixelate", family="digital", levels=PIXELATE_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} pixelate")
def pixelate(images: torch.Tensor, draws: Draws, *, factor: float) -> torch.Tensor:
    """Pixelate: BOX-downsample to int(factor * size), then BOX-upsample back (Pillow, bit-exact).

    Pillow's BOX upsampling picks one source pixel per output pixel (nearest neighbour with
    Pillow's tie rule), hence the blocks.
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    height, width = images.shape[-2:]
    small = (max(1, int(height * float(factor))), max(1, int(width * float(factor))))
    blocky = pil_box_resize(pil_box_resize(quantize_uint8(images), *small), height, width)
    return blocky.to(images.dtype, memory_format=torch.contiguous_format).div_(255)


@register_corruption("jpeg_compression", family="digital", levels=JPEG_SEVERITIES, tags=("imagenet-c",),
                     reference=f"{_REFERENCE} jpeg_compression")
def jpeg_compression(images: torch.Tensor, draws: Draws, *, quality: int) -> torch.Tensor:
    """JPEG round trip at ``quality`` (libjpeg defaults: 4:2:0 chroma, islow DCT), as Pillow does.

    torchvision's encoder produces the same bytes as ``PIL.Image.save(..., 'JPEG', quality=q)``.
    Shape: (B, C, H, W) -> (B, C, H, W). Deterministic. 8-bit semantics (see the module docstring).
    """
    # Imported here: torchvision pulls in PIL and takes seconds to import; only this op needs it.
    from torchvision.io import decode_jpeg, encode_jpeg

    levels = quantize_uint8(images).cpu()
    decoded = decode_jpeg(encode_jpeg(list(levels), quality=int(quality)))
    return torch.stack(decoded).to(images.dtype).div_(255).to(images.device)
