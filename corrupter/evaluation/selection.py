"""``--cells``: which (corruption, variant) cells of a release to evaluate, by wildcard."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from ..release import Cell


class NoCellsMatch(ValueError):
    """A --cells filter that selects nothing; the message lists what the release holds."""


def select_cells(cells: Sequence[Cell], patterns: Sequence[str] | None, where: str) -> list[Cell]:
    """The cells matching any of ``patterns`` (all without any), in the release's order.

    A pattern with a ``/`` matches ``CORRUPTION/VARIANT`` (``fog/[1-3]``, ``fourier_basis_noise/i+00_*``);
    one without matches the corruption (``fog``, ``*_noise``: all its variants).
    """
    if not patterns:
        return list(cells)
    chosen = [c for c in cells if any(_matches(c, p) for p in patterns)]
    if not chosen:
        raise NoCellsMatch(f"--cells {' '.join(patterns)} matches no cell of {where}; it holds "
                           f"{_inventory(cells)}")
    return chosen


def _matches(cell: Cell, pattern: str) -> bool:
    return fnmatchcase(cell.name if "/" in pattern else cell.corruption, pattern)


def _inventory(cells: Sequence[Cell]) -> str:
    """``clean/1, fog/1..5 (5 variants), ...``: each corruption with its first and last variant."""
    variants: dict[str, list[str]] = {}
    for cell in cells:
        variants.setdefault(cell.corruption, []).append(cell.variant)
    parts = [f"{name}/{names[0]}" if len(names) == 1 else f"{name}/{names[0]}..{names[-1]} ({len(names)} variants)"
             for name, names in variants.items()]
    return ", ".join(parts) if parts else "no cells"
