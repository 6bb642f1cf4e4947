"""ImageNet-C-bar's perlin_noise: a grey turbulent Perlin-noise layer blended over the image.

C-bar's ``PerlinNoiseGenerator`` (Ken Perlin's 2-D reference noise: 256 lattice gradients, a
permutation table, s-curve interpolation, times 1.5) summed as turbulence over octaves 1, 2, 4, 8
and 16 (|noise(f p)| / f), then 0.5 * t + 0.5 clipped to [0, 1]. The lattice cell is 32 px at 224
(C-bar's m = I / (32 * im_size / 224)); C-bar's noise(x, y) takes the row as x and the column as y,
kept. Evaluated in float64 on the whole grid, lattice coordinates per row and per column.

Draws: the 256 gradients and the permutation. C-bar draws each gradient as an integer vector
uniform on {-256..255}^2 / 256, normalised (not uniform in angle), and permutes with 256 swaps of
p[i] and p[j], i = 255..0, j uniform on 0..255 (not a uniform permutation); both kept. Only
gradients 0..255 are ever read (its table has 514). A zero vector (probability 512^-2 each) stays
zero, where C-bar's normalisation makes NaN.
"""

from __future__ import annotations

import torch

from ._cbar import REFERENCE, cbar_levels, check_severity, float_parameter, image_size, severity_rule
from ._registry import Draws, register_corruption

LATTICE = 256
CELL = 32.0  # lattice cell in pixels at 224
OCTAVES = (1.0, 2.0, 4.0, 8.0, 16.0)  # C-bar's turbulence 16: f = 1, 2, ... while f <= 16
GAIN, BIAS = 0.5, 0.5


def perlin_physical(severity: float) -> dict[str, float]:
    return {"alpha": float_parameter(severity, 0.5)}


def sample_perlin(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """C-bar's gradient table (256 unit vectors) and permutation (256 naive swaps)."""
    vectors = torch.randint(-LATTICE, LATTICE, (LATTICE, 2), generator=generator).to(torch.float64) / LATTICE
    gradients = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-300)
    partners = torch.randint(0, LATTICE, (LATTICE,), generator=generator)
    return {"gradients": gradients, "permutation": swap_shuffle(partners.tolist())}


def swap_shuffle(partners: list[int]) -> torch.Tensor:
    """C-bar's permutation: starting from 0..255, swap p[i] and p[partners[255 - i]] for i = 255..0."""
    table = list(range(LATTICE))
    for i in range(LATTICE - 1, -1, -1):
        j = partners[LATTICE - 1 - i]
        table[i], table[j] = table[j], table[i]
    return torch.tensor(table)


def lattice(coordinates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """C-bar's t = c + 4096: (cell index mod 256, next cell index mod 256, fraction in the cell)."""
    t = coordinates + 16 * LATTICE
    cell = t.floor()
    first = cell.to(torch.int64) % LATTICE
    return first, (first + 1) % LATTICE, t - cell


def s_curve(t: torch.Tensor) -> torch.Tensor:
    return t ** 2 * (3.0 - 2.0 * t)


def perlin_noise_field(rows: torch.Tensor, cols: torch.Tensor, permutation: torch.Tensor,
                       gradients: torch.Tensor) -> torch.Tensor:
    """C-bar's ``noise(x=row coordinate, y=column coordinate)`` on the grid: (B, H, W) float64."""
    batch = permutation.shape[0]
    table = torch.cat([permutation, permutation[:, :LATTICE + 2]], dim=1)
    r0, r1, rf = lattice(rows)
    c0, c1, cf = lattice(cols)
    shape = (batch, rows.numel(), cols.numel())

    def corner(row_index: torch.Tensor, col_index: torch.Tensor) -> torch.Tensor:
        """(B, H*W) gradient index p[p[row] + col]."""
        first = table.gather(1, row_index.expand(batch, -1))
        return table.gather(1, (first[:, :, None] + col_index[None, None, :]).reshape(batch, -1))

    gx, gy = gradients[..., 0], gradients[..., 1]

    def dot(index: torch.Tensor, row_offset: torch.Tensor, col_offset: torch.Tensor) -> torch.Tensor:
        return (row_offset[None, :, None] * gx.gather(1, index).reshape(shape)
                + col_offset[None, None, :] * gy.gather(1, index).reshape(shape))

    sr, sc = s_curve(rf)[None, :, None], s_curve(cf)[None, None, :]
    u = dot(corner(r0, c0), rf, cf)
    v = dot(corner(r1, c0), rf - 1, cf)
    a = u + sr * (v - u)
    u = dot(corner(r0, c1), rf, cf - 1)
    v = dot(corner(r1, c1), rf - 1, cf - 1)
    b = u + sr * (v - u)
    return 1.5 * (a + sc * (b - a))


def turbulence(height: int, width: int, draws: Draws, device: torch.device) -> torch.Tensor:
    """sum over the octaves f of |noise(f * p)| / f, p in lattice units: (B, H, W) float64."""
    step = 1 / (CELL * image_size(height, width) / 224)  # C-bar's m
    rows = torch.arange(height, dtype=torch.float64, device=device) * step
    cols = torch.arange(width, dtype=torch.float64, device=device) * step
    permutation = draws["permutation"].to(torch.int64)
    gradients = draws["gradients"].to(torch.float64)
    total = torch.zeros(permutation.shape[0], height, width, dtype=torch.float64, device=device)
    for octave in OCTAVES:
        total += perlin_noise_field(octave * rows, octave * cols, permutation, gradients).abs_() / octave
    return total


@register_corruption("perlin_noise", family="noise", sample=sample_perlin,
                     levels=cbar_levels((4.6, 5.2, 5.8, 7.6, 8.8), perlin_physical),
                     tags=("imagenet-c-bar",),
                     derive=severity_rule("perlin_noise", perlin_physical),
                     reference=f"{REFERENCE} PerlinNoise (utils/perlin_noise.py)")
def perlin_noise(images: torch.Tensor, draws: Draws, *, severity: float | None, alpha: float) -> torch.Tensor:
    """Blend a grey turbulent Perlin-noise layer over the image: (1 - alpha) * x + alpha * layer.

    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (gradients and permutation).
    """
    check_severity("perlin_noise", severity, perlin_physical, {"alpha": alpha})
    layer = (GAIN * turbulence(*images.shape[-2:], draws, images.device) + BIAS).clamp_(0, 1)
    blended = (images * (1 - float(alpha))).add_(layer[:, None].to(images.dtype), alpha=float(alpha))
    return blended.clamp_(0, 1)
