"""``{range: [first, last], step: k}``: an inclusive run of integers, written once in a config.

A sweep such as the 63 frequencies -31..31 of the Fourier heat map is a grid axis (or a list of
levels) written as ``{range: [-31, 31]}`` instead of 63 numbers. Both ends are included; the step
(default 1) may be negative to count down. Only integers: a float range would need a rule for
rounding its end, and then a variant name would depend on it. Ranges are counted before they are
expanded, so ``{range: [0, 1000000000000]}`` is refused without building anything.
"""

from __future__ import annotations

from typing import Any

RANGE_KEYS = {"range", "step"}


def is_range(value: Any) -> bool:
    """A mapping with a ``range`` key (anything else in a list's place is left to the field's type)."""
    return isinstance(value, dict) and "range" in value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"{what} must be an integer, got {type(value).__name__} {shown}")  # noqa: TRY004  (pydantic reports ValueErrors by field)
    return value


def range_bounds(value: dict[str, Any], where: str) -> tuple[int, int, int]:
    """(first, last, step) of a range mapping; ValueError naming ``where`` if it is not one."""
    unknown = sorted(str(k) for k in set(value) - RANGE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} in a range; write {{range: [first, last], step: k}}")
    ends = value["range"]
    if not isinstance(ends, list) or len(ends) != 2:
        raise ValueError(f"{where}: range must be a list of two integers [first, last] (both included), "
                         f"got {str(ends)[:60]}")
    first = _integer(ends[0], f"{where}: range first")
    last = _integer(ends[1], f"{where}: range last")
    step = _integer(value.get("step", 1), f"{where}: range step")
    if step == 0:
        raise ValueError(f"{where}: range step must not be 0")
    if (last - first) * step < 0:
        raise ValueError(f"{where}: range [{first}, {last}] with step {step} holds no value (count down with a "
                         f"negative step)")
    return first, last, step


def range_length(value: dict[str, Any], where: str) -> int:
    first, last, step = range_bounds(value, where)
    return (last - first) // step + 1


def count_values(value: Any, where: str) -> int | None:
    """How many values a list or a range holds, without expanding a range; None for anything else."""
    if is_range(value):
        return range_length(value, where)
    if isinstance(value, list):
        return len(value)
    return None


def expand(value: Any, where: str, limit: int) -> Any:
    """A range as its list of integers (refused if it holds more than ``limit``); anything else as is."""
    if not is_range(value):
        return value
    count = range_length(value, where)
    if count > limit:
        raise ValueError(f"{where}: range holds {count:,} values; the limit is {limit:,}")
    first, _, step = range_bounds(value, where)
    return list(range(first, first + count * step, step))
