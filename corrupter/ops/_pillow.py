"""Pillow behaviours the reference ops rely on: BOX resampling, and the JPEG round trip through libjpeg.

Two routes to the same bytes. On the CPU, Pillow itself (``*_with_pillow``): the reference's own C
code, faster than any reproduction of it. For tensors on a GPU, ``box_resize`` reproduces Pillow's
fixed-point BOX filter in torch, and ``jpeg_round_trip_with_torchvision`` runs the libjpeg that
torchvision bundles (on the CPU: nvJPEG would give other bytes). Tests pin each route against the
other and against Pillow's own calls.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
from PIL import Image

_PRECISION_BITS = 22  # Pillow's fixed-point coefficient precision for 8-bit images (32 - 8 - 2)


@functools.lru_cache(maxsize=64)
def box_taps(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
        weights.append(int(0.5 + (1.0 / len(taps)) * (1 << _PRECISION_BITS)))
    return torch.tensor(starts), torch.tensor(stops), torch.tensor(weights)


def box_resize_rows(levels: torch.Tensor, out_size: int) -> torch.Tensor:
    """Resize uint8 levels along dim -2 (rows) exactly as Pillow's BOX filter does.

    Output row i is the sum of input rows [start_i, stop_i) times the fixed-point weight, rounded
    and shifted back like Pillow. Runs are gathered as whole rows, the fast way to index on the CPU;
    a run shorter than the longest reads an appended zero row for its missing taps. The int32 sums
    cannot overflow (255 * 2^22 + 2^21 < 2^31).
    """
    starts, stops, weights = box_taps(levels.shape[-2], out_size)
    lengths = stops - starts
    if bool((lengths == 1).all()):  # upsampling: one tap of weight 2^22 each, i.e. a copy
        return levels.index_select(-2, starts.to(levels.device))
    zero_row = levels.shape[-2]
    padded = torch.cat([levels, levels.new_zeros(*levels.shape[:-2], 1, levels.shape[-1])], dim=-2)
    total = padded.index_select(-2, starts.to(levels.device)).to(torch.int32)
    for k in range(1, int(lengths.max())):
        total += padded.index_select(-2, torch.where(lengths > k, starts + k, zero_row).to(levels.device))
    weights = weights.to(device=levels.device, dtype=torch.int32)[:, None]
    total.mul_(weights).add_(1 << (_PRECISION_BITS - 1))
    return (total >> _PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


def box_resize(levels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``PIL.Image.resize((width, height), BOX)`` on uint8 levels: horizontal pass, then vertical.

    Shape: (B, C, H, W) -> (B, C, height, width); both passes round to 8 bits like Pillow. The
    pass order is Pillow's up to version 12 (the original ImageNet-C's): Pillow 13 resizes
    vertically first when the height loses more than twice as many pixels as the width
    (python-pillow/Pillow#9549), which moves some values of such images by one level; square
    images resize the same in both. The horizontal pass resizes the rows of the transposed image:
    a transposing copy and row gathers cost half of what gathering columns in place does.
    """
    if levels.dtype != torch.uint8:
        raise TypeError(f"box_resize takes uint8 levels, got {levels.dtype}")
    if levels.shape[-1] != width:
        levels = box_resize_rows(levels.transpose(-1, -2).contiguous(), width).transpose(-1, -2)
    if levels.shape[-2] != height:
        levels = box_resize_rows(levels.contiguous(), height)
    return levels


# ---------------------------------------------------------------------------------------------------
# Pillow itself, for batches on the CPU


def levels_to_pil(levels: torch.Tensor) -> Image.Image:
    """uint8 (3, H, W) levels on the CPU -> a Pillow RGB image (three bands merged: no strided copy)."""
    planes = levels.contiguous().numpy()
    height, width = planes.shape[1:]
    return Image.merge("RGB", [Image.frombuffer("L", (width, height), plane, "raw", "L", 0, 1) for plane in planes])


def pil_to_levels(image: Image.Image) -> torch.Tensor:
    """A Pillow RGB image -> uint8 (3, H, W) levels, one band at a time (no strided copy)."""
    width, height = image.size
    planes = np.stack([np.frombuffer(image.tobytes("raw", band), np.uint8) for band in "RGB"])
    return torch.from_numpy(planes.reshape(3, height, width))


def _resize_box_like_pillow12(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image.resize((width, height), BOX)`` with Pillow 12's pass order: horizontal, then vertical.

    Pillow 13 runs the vertical pass first when the height loses more than twice as many pixels as
    the width (python-pillow/Pillow#9549; the rule, in pixel counts, matched all 1,474 random size
    pairs whose two orders differ), which moves some values by one level. There this makes one
    call per axis, each a single pass; elsewhere one call does the same as Pillow 12.
    """
    in_width, in_height = image.size
    if in_height - height <= 2 * (in_width - width):
        return image.resize((width, height), Image.Resampling.BOX)
    return image.resize((width, in_height), Image.Resampling.BOX).resize((width, height), Image.Resampling.BOX)


def box_resize_with_pillow(levels: torch.Tensor, *sizes: tuple[int, int]) -> torch.Tensor:
    """Pillow's BOX resize of uint8 (B, 3, H, W) CPU levels through each (height, width) in ``sizes`` in turn.

    Same bytes as ``box_resize`` applied size after size; one trip into Pillow per image. The
    results come back interleaved (Pillow's layout) and are split into channels in one transposing
    copy for the whole batch, cheaper than three band extractions per image.
    """
    if levels.dtype != torch.uint8 or levels.device.type != "cpu":
        raise TypeError(f"box_resize_with_pillow takes uint8 CPU levels, got {levels.dtype} on {levels.device}")
    out = []
    for image in levels:
        pil = levels_to_pil(image)
        for height, width in sizes:
            pil = _resize_box_like_pillow12(pil, width, height)
        out.append(np.asarray(pil))  # (h, w, 3)
    if not out:
        return levels.new_empty(levels.shape[0], 3, *sizes[-1])
    return torch.from_numpy(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)))


def box_enlarge_on_cpu(levels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``box_resize`` of uint8 (B, C, h, w) CPU levels to a size no smaller on either axis: a gather.

    BOX upsampling reads one input pixel per output pixel (``box_taps``), so the columns, then
    the rows (whole rows at a time) are gathered with numpy's take: half the cost of torch's
    index_select, a third along the last axis. Same bytes as ``box_resize``; an axis that shrinks
    goes through it. Returns new contiguous levels.
    """
    if levels.dtype != torch.uint8 or levels.device.type != "cpu":
        raise TypeError(f"box_enlarge_on_cpu takes uint8 CPU levels, got {levels.dtype} on {levels.device}")
    if height < levels.shape[-2] or width < levels.shape[-1]:
        return box_resize(levels, height, width).contiguous()
    planes = levels.numpy()
    if planes.shape[-2:] == (height, width):
        return levels.clone(memory_format=torch.contiguous_format)
    if planes.shape[-1] != width:
        planes = np.take(planes, box_taps(planes.shape[-1], width)[0].numpy(), axis=-1)
    if planes.shape[-2] != height:
        planes = np.take(planes, box_taps(planes.shape[-2], height)[0].numpy(), axis=-2)
    return torch.from_numpy(np.ascontiguousarray(planes))


# ---------------------------------------------------------------------------------------------------
# JPEG round trip (libjpeg, Pillow's defaults: 4:2:0 chroma, islow DCT)


def jpeg_round_trip_with_pillow(levels: torch.Tensor, quality: int) -> torch.Tensor:
    """``Image.save(buffer, 'JPEG', quality=q)`` then decode, per image of uint8 (B, 3, H, W) CPU levels."""
    out = []
    for image in levels:
        pil = levels_to_pil(image)
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=int(quality))
        # Pillow's JPEG decoder called directly, as Image.open would after parsing the markers in Python.
        out.append(pil_to_levels(Image.frombytes("RGB", pil.size, buffer.getvalue(), "jpeg", "RGB", "")))
    return torch.stack(out) if out else levels.clone()


def jpeg_round_trip_with_torchvision(levels: torch.Tensor, quality: int) -> torch.Tensor:
    """The same round trip through torchvision's libjpeg (the bytes of Pillow's), run on the CPU.

    Returns CPU levels whatever the input's device: nvJPEG, torchvision's GPU codec, gives other bytes.
    """
    # Imported here: torchvision pulls in much and takes seconds to import; only this path needs it.
    from torchvision.io import decode_jpeg, encode_jpeg

    images = list(levels.cpu())
    return torch.stack(decode_jpeg(encode_jpeg(images, quality=int(quality)))) if images else levels.cpu().clone()
