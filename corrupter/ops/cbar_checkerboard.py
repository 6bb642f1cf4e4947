"""ImageNet-C-bar's checkerboard_cutout: grey out a random share of one colour of a rotated checkerboard.

C-bar (corrupt.py ``CheckerBoardCutOut``) rotates the pixel grid by a random angle about the
top-left pixel, divides by a random cell size, and at (nx, ny) = (cos a * y + sin a * x,
-sin a * y + cos a * x) / cell (y the row, x the column) keeps the pixel unless the two cell
parities int(nx mod 2), int(ny mod 2) are equal AND the cell's uniform, read at the truncated
indices [int(nx), int(ny)], is below ``fraction``; then the pixel becomes grey 128.

Its quirks, kept: indices truncate towards zero, so the cells on either side of a rotated axis
(-1 < n < 0 and 0 <= n < 1, opposite parities) read the same uniform; negative indices read C-bar's
table from its end (Python indexing), which only ever reaches entries no positive index reaches, so
every reachable cell has its own uniform. We draw exactly those: a (2R + 1)^2 table for indices
-R..R, R = ceil(sqrt(H^2 + W^2) / smallest cell), where C-bar draws an (int(4 size // cell))^2 table
(224 x 224: R = 15, 961 uniforms; C-bar 16^2 to 40^2). Cell size U(0.1, 0.25) * size, at least 1 px.
"""

from __future__ import annotations

import math

import torch

from ._cbar import REFERENCE, cbar_levels, check_severity, float_parameter, image_size, severity_rule
from ._registry import Draws, register_corruption

CELL_RANGE = (0.1, 0.25)  # C-bar: uniform(0.1, 0.25) * im_size
GREY = 128 / 255


def checkerboard_physical(severity: float) -> dict[str, float]:
    return {"fraction": float_parameter(severity, 1.0)}


def reach(height: int, width: int) -> int:
    """The largest |cell index| a pixel of an H x W image can fall in, at the smallest cell size."""
    smallest = max(CELL_RANGE[0] * image_size(height, width), 1.0)
    return math.ceil(math.hypot(height, width) / smallest)


def sample_checkerboard(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's draws: the angle U(0, 2 pi), the cell size in pixels, then one uniform per reachable cell
    (indices -R..R along both rotated axes, row-major)."""
    angle = torch.rand(1, generator=generator, dtype=torch.float64) * (2 * math.pi)
    low, high = CELL_RANGE
    cell = torch.rand(1, generator=generator, dtype=torch.float64) * (high - low) + low
    cell = (cell * image_size(height, width)).clamp_(min=1.0)
    side = 2 * reach(height, width) + 1
    cells = torch.rand(side, side, generator=generator, dtype=torch.float64)
    return {"angle": angle, "cell": cell, "cell_uniforms": cells}


@register_corruption("checkerboard_cutout", family="digital", sample=sample_checkerboard,
                     levels=cbar_levels((2.0, 3.0, 4.0, 5.0, 6.0), checkerboard_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("checkerboard_cutout", checkerboard_physical),
                     reference=f"{REFERENCE} CheckerBoardCutOut")
def checkerboard_cutout(images: torch.Tensor, draws: Draws, *, severity: float | None,
                        fraction: float) -> torch.Tensor:
    """Turn a fraction of the cells of one colour of a random rotated checkerboard grey (128).

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (angle, cell size, which cells).
    """
    check_severity("checkerboard_cutout", severity, checkerboard_physical, {"fraction": fraction})
    height, width = images.shape[-2:]
    uniforms = draws["cell_uniforms"].to(torch.float64)
    side = uniforms.shape[-1]
    radius = side // 2
    ys = torch.arange(height, dtype=torch.float64, device=images.device)[None, :, None]
    xs = torch.arange(width, dtype=torch.float64, device=images.device)[None, None, :]
    angle = draws["angle"].reshape(-1, 1, 1).to(torch.float64)
    cell = draws["cell"].reshape(-1, 1, 1).to(torch.float64)
    cos, sin = torch.cos(angle), torch.sin(angle)
    nx = (cos * ys + sin * xs) / cell
    ny = (-sin * ys + cos * xs) / cell
    same_colour = torch.remainder(nx, 2).floor() == torch.remainder(ny, 2).floor()
    index = (nx.trunc().to(torch.int64) + radius) * side + ny.trunc().to(torch.int64) + radius
    chosen = uniforms.reshape(len(uniforms), -1).gather(1, index.reshape(len(uniforms), -1)) < float(fraction)
    grey = (same_colour & chosen.reshape(same_colour.shape))[:, None]
    return torch.where(grey, torch.full_like(images[:1, :1, :1, :1], GREY), images)
