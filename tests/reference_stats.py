"""Fidelity against reference statistics: one harness for every family.

The reference files (tests/data/reference: make_imagecorruptions_reference.py's; the Geirhos and
C-bar references have the same layout) hold, per op, level key and photo, a list of per-seed dicts
of ``STATS`` (a value may be a per-channel list: it is averaged over channels). The ImageNet-C files
nest that table under ``"runs"``; others keep it at the top level next to metadata keys.

Protocol, the references': a run is one seed shared by all five photos (the reference seeded NumPy
before each photo), its statistics are averaged over the photos, and the seed is the independent
unit. Ours: ``SEEDS`` runs with ``make_generator(SEED_BASE + k)``, computed the pipeline's way,
``quantize_uint8(kernel(photo / 255))``.

The criterion, per cell (op, level, statistic):

    |mean(ours) - mean(ref)| <= Z * s * sqrt(1 / n_ours + 1 / n_ref) + FLOOR

with s the larger of the two sides' seed standard deviations (a side with few seeds may
underestimate its own). ``Z = 4``. ``FLOOR`` is one policy for every family: 2e-4, i.e. 5% of one
8-bit level (1/255 = 3.9e-3), room for what seeds cannot explain and no statistic notices: float32
against the reference's float64 moving a value across a truncation boundary, the guard of
``quantize_uint8``. It is not room for a different algorithm: ``assert_neighbours_rejected`` checks,
for every level, that the adjacent levels' parameters fail the same criterion against this level's
reference, so a tolerance that cannot tell severities apart is itself a failure. Where seed noise is
too large for that (fog, frost: their random textures dominate), the family's exact replay of the
reference's own random numbers makes the neighbour check instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from corrupter import ops
from corrupter.io.assets import load_assets
from corrupter.seeding import make_generator

STATS = ["mean", "std", "diff_mean", "diff_abs_mean", "diff_rms", "high_freq_ratio"]
Z = 4.0
FLOOR = 2e-4
SEEDS = 12
SEED_BASE = 1_000

Stats = dict[str, float]


def high_freq_ratio(img: np.ndarray) -> float:
    """Share of spectral energy (grey image, DC removed) outside the central 56x56 frequencies."""
    grey = img.astype(np.float64).mean(axis=2) / 255.0
    power = np.fft.fftshift(np.abs(np.fft.fft2(grey - grey.mean())) ** 2)
    c = power.shape[0] // 2
    return float(1.0 - power[c - 28:c + 28, c - 28:c + 28].sum() / power.sum())


def image_stats(clean: np.ndarray, out: np.ndarray) -> Stats:
    """The reference statistics of one uint8 output (channel means and stds averaged over channels)."""
    c, o = clean.astype(np.float64) / 255.0, out.astype(np.float64) / 255.0
    d = o - c
    return {"mean": float(o.mean(axis=(0, 1)).mean()), "std": float(o.std(axis=(0, 1)).mean()),
            "diff_mean": float(d.mean()), "diff_abs_mean": float(np.abs(d).mean()),
            "diff_rms": float(np.sqrt((d ** 2).mean())), "high_freq_ratio": high_freq_ratio(out)}


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float (B, 3, H, W) -> uint8 (B, H, W, 3), the pipeline's quantisation."""
    return ops.quantize_uint8(images).permute(0, 2, 3, 1).numpy()


def photo_average(per_photo: Sequence[Mapping[str, Any]]) -> Stats:
    """Each statistic averaged over photos (and over channels where a value is per channel)."""
    return {k: float(np.mean([np.mean(s[k]) for s in per_photo])) for k in STATS}


def reference_runs(table: Mapping[str, Any], name: str, level_key: str, photos: Sequence[str]) -> list[Stats]:
    """Per seed, the photo-averaged reference statistics: ``table[name][level_key][photo][seed]``."""
    by_photo = table[name][level_key]
    seeds = len(by_photo[photos[0]])
    return [photo_average([by_photo[p][s] for p in photos]) for s in range(seeds)]


def our_runs(name: str, photos: Mapping[str, np.ndarray], params: Mapping[str, Any], seeds: int = SEEDS,
             seed_base: int = SEED_BASE) -> list[Stats]:
    """Per seed (shared by the photos, sorted by name), our photo-averaged statistics at ``params``."""
    spec = ops.get_corruption(name)
    names = sorted(photos)
    batch = torch.stack([torch.from_numpy(photos[p]).permute(2, 0, 1) for p in names]).float() / 255
    generators = [make_generator(seed_base + k) for k in range(seeds) for _ in names]
    out, _ = ops.apply_batch(spec, batch.repeat(seeds, 1, 1, 1), dict(params), generators,
                             load_assets(spec.assets))
    out = to_uint8(out)
    return [photo_average([image_stats(photos[p], out[k * len(names) + i]) for i, p in enumerate(names)])
            for k in range(seeds)]


@dataclass(frozen=True)
class Cell:
    """One statistic of one comparison: the two seed means and the tolerance between them."""

    statistic: str
    ours: float
    reference: float
    tolerance: float

    @property
    def gap(self) -> float:
        """How far the difference exceeds the tolerance (<= 0: inside)."""
        return abs(self.ours - self.reference) - self.tolerance

    def __str__(self) -> str:
        return (f"{self.statistic}: ours {self.ours:.5f} vs reference {self.reference:.5f} "
                f"(tolerance {self.tolerance:.5f}, {'inside' if self.gap <= 0 else 'OUTSIDE'} by {abs(self.gap):.5f})")


def seed_spread_cells(ours: Sequence[Stats], reference: Sequence[Stats], *, shift: Mapping[str, float] | None = None,
                      statistics: Sequence[str] = STATS, z: float = Z, floor: float = FLOOR) -> list[Cell]:
    """The criterion of the module docstring, per statistic. ``shift`` is subtracted from ours first
    (a documented, deliberate offset, e.g. motion_blur rounding where the reference truncates)."""
    shift = shift or {}
    cells = []
    for k in statistics:
        a = np.array([r[k] for r in ours]) - shift.get(k, 0.0)
        b = np.array([r[k] for r in reference])
        spread = max(a.std(ddof=1) if len(a) > 1 else 0.0, b.std(ddof=1) if len(b) > 1 else 0.0)
        tolerance = z * spread * np.sqrt(1 / len(a) + 1 / len(b)) + floor
        cells.append(Cell(k, float(a.mean()), float(b.mean()), float(tolerance)))
    return cells


def assert_cells_inside(cells: Sequence[Cell], context: str = "") -> None:
    outside = [c for c in cells if c.gap > 0]
    assert not outside, f"{context}: " + "; ".join(str(c) for c in outside)


def neighbours(levels: Sequence[int], level: int) -> list[int]:
    """The levels adjacent to ``level`` in its table (ImageNet-C severity 3: 2 and 4; severity 1: 2)."""
    index = list(levels).index(level)
    return [levels[i] for i in (index - 1, index + 1) if 0 <= i < len(levels)]


def assert_neighbours_rejected(level: int, levels: Sequence[int], accepts: Callable[[int, int], bool],
                               context: str = "") -> None:
    """``accepts(ours_level, reference_level)`` holds for ``level`` itself and fails for its neighbours.

    ``accepts`` is the family's own fidelity criterion with our output at ``ours_level``'s parameters
    and the reference at ``reference_level``; a criterion that also accepts a neighbour cannot tell the
    severities apart.
    """
    assert accepts(level, level), f"{context}: level {level} does not match its own reference"
    wrong = [n for n in neighbours(levels, level) if accepts(n, level)]
    assert not wrong, (f"{context}: the criterion accepts level(s) {wrong}'s parameters against level "
                       f"{level}'s reference: it cannot tell them apart")


class SeedSpreadCheck:
    """Our runs and the reference's for one reference table, memoised per (op, level).

    ``table`` is ``stats["runs"]`` for the ImageNet-C files (the op -> level key -> photo -> seeds
    mapping); ``level_key(name, level)`` names a level in it (default ``str(level)``: the severity)
    and ``reference_name(name)`` the op (default: ours; the Geirhos files say ``contrast`` for our
    ``grayscale_contrast``, ``colour`` for ``grayscale``).
    One instance per test module (a module-scoped fixture) computes each (op, level) once, shared by
    the match test and the neighbour tests of the adjacent levels.
    """

    def __init__(self, table: Mapping[str, Any], photos: Mapping[str, np.ndarray], *, seeds: int = SEEDS,
                 seed_base: int = SEED_BASE, level_key: Callable[[str, int], str] = lambda name, level: str(level),
                 reference_name: Callable[[str], str] = lambda name: name,
                 shift: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.table, self.photos, self.seeds, self.seed_base = table, photos, seeds, seed_base
        self.level_key, self.reference_name, self.shift = level_key, reference_name, dict(shift or {})
        self._ours: dict[tuple[str, int], list[Stats]] = {}

    def ours(self, name: str, level: int) -> list[Stats]:
        if (name, level) not in self._ours:
            params = ops.get_corruption(name).params(level)
            self._ours[name, level] = our_runs(name, self.photos, params, self.seeds, self.seed_base)
        return self._ours[name, level]

    def reference(self, name: str, level: int) -> list[Stats]:
        return reference_runs(self.table, self.reference_name(name), self.level_key(name, level), sorted(self.photos))

    def cells(self, name: str, level: int, ours_level: int | None = None) -> list[Cell]:
        """Ours at ``ours_level`` (default: the same level) against the reference at ``level``."""
        return seed_spread_cells(self.ours(name, level if ours_level is None else ours_level),
                                 self.reference(name, level), shift=self.shift.get(name))

    def accepts(self, name: str, ours_level: int, reference_level: int) -> bool:
        return all(c.gap <= 0 for c in self.cells(name, reference_level, ours_level))

    def assert_matches(self, name: str, level: int) -> None:
        assert_cells_inside(self.cells(name, level), f"{name} level {level}")

    def assert_neighbours_rejected(self, name: str, level: int) -> None:
        levels = ops.get_corruption(name).level_numbers
        assert_neighbours_rejected(level, levels, lambda mine, ref: self.accepts(name, mine, ref),
                                   f"{name} (seed-spread statistics)")
