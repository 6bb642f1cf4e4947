"""ImageNet-C-bar's caustic_refraction: the image seen through rippled water, lit by its caustics.

C-bar (corrupt.py ``CausticRefraction``), per pixel, here on the whole grid in float64:
1. a caustic pattern (the well-known "tileable water caustic" shader: five iterations of a
   trigonometric map of the point's position in a tile of side ``size``, time-dependent), its colour
   clip(|1.17 - c^1.4|^8, 0, 1), blurred by scipy's gaussian_filter (sigma 1, 'reflect' borders);
2. the pattern is a height field: its luma differences to the four neighbours (0 outside the image)
   give a surface normal, and the vertical ray (0, 0, 1) is refracted through it (Snell, eta 4;
   no refraction where the normal is within 1e-3 of vertical); the image is sampled bilinearly (0
   outside) at the pixel plus lens_scale times the refracted ray's (row, column) components,
   rounded to 3 decimals as C-bar does;
3. lighting: plus lighting_amount times the pattern's differences (north - south) + (east - west),
   where C-bar's north/south are the column neighbours x - 1 / x + 1 and west/east the row
   neighbours y - 1 / y + 1; clipped to [0, 1].
Draws: time U(0.5, 2) and the tile size U(0.75, 1.25) * size. Other sizes: lens_scale (C-bar
pixels at 224) scales with the image (``_cbar``); the blur's sigma stays 1 px, as C-bar's
softening does not scale either.
"""

from __future__ import annotations

import torch

from ._cbar import (
    REFERENCE,
    REFERENCE_SIZE,
    cbar_levels,
    check_severity,
    float_parameter,
    image_size,
    pixel_scale,
    severity_rule,
)
from ._registry import Draws, register_corruption
from ._scipy import reflect_gaussian_filter

ETA = 4.0
SOFTENING = 1.0  # sigma of the pattern's blur, pixels
LUMA = (0.2126, 0.7152, 0.0722)


def caustic_physical(severity: float) -> dict[str, float]:
    return {"lens_scale": float_parameter(severity, 0.5 * REFERENCE_SIZE),  # C-bar pixels at 224
            "lighting_amount": float_parameter(severity, 2.0)}


def sample_caustics(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's draws: time U(0.5, 2), then the tile size U(0.75, 1.25) * size in pixels."""
    time = 0.5 + torch.rand(1, generator=generator, dtype=torch.float64) * 1.5
    size = (0.75 + torch.rand(1, generator=generator, dtype=torch.float64) * 0.5) * image_size(height, width)
    return {"time": time, "size": size}


def caustic_pattern(height: int, width: int, time: torch.Tensor, size: torch.Tensor,
                    device: torch.device) -> torch.Tensor:
    """C-bar's caustic_noise_kernel at every pixel: (B, H, W) float64 in [0, 1]."""
    time, size = time.reshape(-1, 1, 1), size.reshape(-1, 1, 1)
    rows = torch.arange(height, dtype=torch.float64, device=device)[None, :, None]
    cols = torch.arange(width, dtype=torch.float64, device=device)[None, None, :]
    p0 = torch.remainder(rows / size, 1) * 6.28318530718 - 250
    p1 = torch.remainder(cols / size, 1) * 6.28318530718 - 250
    i0, i1 = p0, p1
    total = 1.0
    for n in range(5):
        t = time * (1.0 - (3.5 / (n + 1)))
        i0, i1 = p0 + (torch.cos(t - i0) + torch.sin(t + i1)), p1 + (torch.sin(t - i1) + torch.cos(t + i0))
        length = torch.sqrt((p0 / (torch.sin(i0 + t) / 0.005)) ** 2 + (p1 / (torch.cos(i1 + t) / 0.005)) ** 2)
        total = total + 1.0 / length
    total = 1.17 - (total / 5.0) ** 1.4
    return (total.abs() ** 8.0).clamp_(0, 1)


def neighbour(layer: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """layer[y + dy, x + dx], 0 outside the image: (B, H, W)."""
    padded = torch.nn.functional.pad(layer, (1, 1, 1, 1))
    height, width = layer.shape[-2:]
    return padded[:, 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]


def bilinear_zero(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """C-bar's bilinear_interpolation at float (row, column) positions (B, H, W), 0 outside: float64.

    Its weights and order of operations: the two columns mixed first, then the two rows.
    """
    batch, channels, height, width = images.shape
    top, left = rows.floor(), cols.floor()
    flat = images.reshape(batch, channels, -1)

    def pixel(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        inside = ((row >= 0) & (row < height) & (col >= 0) & (col < width)).reshape(batch, 1, -1)
        index = (row.clamp(0, height - 1) * width + col.clamp(0, width - 1)).to(torch.int64)
        values = flat.gather(2, index.reshape(batch, 1, -1).expand(-1, channels, -1)).to(torch.float64)
        return values * inside

    def weights(position: torch.Tensor, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        below, above = 1.0 - position + low, 1.0 - (low + 1) + position
        return below.reshape(batch, 1, -1), above.reshape(batch, 1, -1)

    col_low, col_high = weights(cols, left)
    row_low, row_high = weights(rows, top)
    upper = pixel(top, left) * col_low + pixel(top, left + 1) * col_high
    lower = pixel(top + 1, left) * col_low + pixel(top + 1, left + 1) * col_high
    return (upper * row_low + lower * row_high).reshape(batch, channels, height, width)


def refracted_offsets(gradient_row: torch.Tensor, gradient_col: torch.Tensor,
                      lens_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, column) offsets lens_scale * refract((0, 0, 1), normal, ETA), rounded to 3 decimals.

    normal = (east - west, south - north, 1) normalised. C-bar's refract rotates (cos o, sin o, 0),
    o = asin(sin(acos(n_z)) / eta), into the frame (n, n x s, s), s = (0, 0, 1) x n normalised;
    in closed form the refracted ray is cos(o) n + sin(o) (-n_z n_x / r, -n_z n_y / r, r),
    r = |(n_x, n_y)|.
    """
    norm = torch.sqrt(gradient_row ** 2 + gradient_col ** 2 + 1.0)
    nx, ny, nz = gradient_row / norm, gradient_col / norm, 1.0 / norm
    out_angle = torch.asin(torch.sin(torch.acos(nz)) / ETA)
    spread = torch.sqrt(nx ** 2 + ny ** 2)
    bend = torch.sin(out_angle) * nz / torch.where(spread > 0, spread, 1.0)
    straight = nz.abs() >= 1.0 - 1e-3  # C-bar returns the incident ray unchanged
    rows = torch.where(straight, 0.0, torch.cos(out_angle) * nx - bend * nx)
    cols = torch.where(straight, 0.0, torch.cos(out_angle) * ny - bend * ny)
    return torch.round(rows * lens_scale, decimals=3), torch.round(cols * lens_scale, decimals=3)


@register_corruption("caustic_refraction", family="weather", sample=sample_caustics,
                     levels=cbar_levels((2.35, 3.2, 4.9, 6.6, 9.15), caustic_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("caustic_refraction", caustic_physical),
                     reference=f"{REFERENCE} CausticRefraction")
def caustic_refraction(images: torch.Tensor, draws: Draws, *, severity: float | None, lens_scale: float,
                       lighting_amount: float) -> torch.Tensor:
    """Refract the image through a rippled caustic height field and light it by the caustics' slopes.

    ``lens_scale``: refraction displacement in C-bar pixels at 224; ``lighting_amount``: the weight
    of the slopes added as light. Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (time, tile size).
    """
    check_severity("caustic_refraction", severity, caustic_physical,
                   {"lens_scale": lens_scale, "lighting_amount": lighting_amount})
    height, width = images.shape[-2:]
    pattern = caustic_pattern(height, width, draws["time"].to(torch.float64), draws["size"].to(torch.float64),
                              images.device)
    pattern = reflect_gaussian_filter(pattern, SOFTENING, 4.0)
    red, green, blue = LUMA
    luma = pattern * red + pattern * green + pattern * blue  # np.dot([v, v, v], LUMA), summed in order
    north, south = neighbour(luma, 0, -1), neighbour(luma, 0, 1)
    west, east = neighbour(luma, -1, 0), neighbour(luma, 1, 0)
    drow, dcol = refracted_offsets(east - west, south - north, float(lens_scale) * pixel_scale(height, width))
    rows = torch.arange(height, dtype=torch.float64, device=images.device)[None, :, None] + drow
    cols = torch.arange(width, dtype=torch.float64, device=images.device)[None, None, :] + dcol
    out = bilinear_zero(images, rows, cols)
    out += ((north - south) * float(lighting_amount))[:, None]
    out += ((east - west) * float(lighting_amount))[:, None]
    return out.clamp_(0, 1).to(images.dtype)
