"""Explicit corruption parameters checked against the registry's level tables, before any work.

A parameter must have the kind of value its table holds: an integer where every level has an
integer, a finite number where some level has a float, one of the table's words for a text
parameter, a short list of finite numbers for a list. Whatever a kernel still refuses, the dry run
before the version is claimed finds (pipeline/dryrun.py).
"""

from __future__ import annotations

import math
from typing import Any

from .. import ops

MAX_LIST_PARAM = 256  # values in one list parameter (zoom_blur's factors: a dozen or two)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(spec: ops.CorruptionSpec, name: str) -> str:
    values = [row[name] for row in spec.levels if name in row]
    if all(isinstance(v, (list, tuple)) for v in values):
        return "list"
    if all(isinstance(v, str) for v in values):
        return "word"
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(_is_number(v) for v in values):
        return "int" if all(isinstance(v, int) for v in values) else "number"
    return "any"


def check_param(spec: ops.CorruptionSpec, name: str, value: Any) -> None:
    """ValueError naming the corruption and the parameter unless ``value`` fits its table."""
    kind = _kind(spec, name)
    where = f"{spec.name}: parameter {name}"
    if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{where} must be an integer, got {_show(value)}")
    if kind == "number":
        if not _is_number(value):
            raise ValueError(f"{where} must be a number, got {_show(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{where} must be finite, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false, got {_show(value)}")
    if kind == "word":
        words = sorted({row[name] for row in spec.levels})
        if value not in words:
            raise ValueError(f"{where} must be one of {words}, got {_show(value)}")
    if kind == "list":
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LIST_PARAM:
            raise ValueError(f"{where} must be a list of 1 to {MAX_LIST_PARAM} numbers, got {_show(value)}")
        if not all(_is_number(v) and math.isfinite(v) for v in value):
            raise ValueError(f"{where} must hold finite numbers only, got {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
