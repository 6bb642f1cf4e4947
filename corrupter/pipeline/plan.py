"""Config -> variants -> work units. Pure: no IO, no Ray."""

from __future__ import annotations

import decimal
import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from .. import ops
from ..config import ReleaseConfig, expand_name
from ..io.patterns import expand_shard_patterns
from ..release.layout import shard_path
from ..release.verify import PlannedShard


@dataclass(frozen=True)
class Variant:
    """One output variant of one corruption: a level of its table (name ``1``..``N``) or explicit
    parameters (name: their slug)."""

    corruption: str
    name: str
    params: tuple[tuple[str, Any], ...]
    level: int | None = None

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class OutputShard:
    variant: Variant
    path: str  # relative to the release root


@dataclass(frozen=True)
class WorkUnit:
    """One input shard decoded once and fanned out to a group of variants."""

    unit_id: str
    source: str
    source_index: int
    outputs: tuple[OutputShard, ...]


MAX_SLUG = 120  # a variant name is a directory name (255 bytes at most on most file systems)


def variant_slug(params: dict[str, Any]) -> str:
    """A readable, path-safe, sortable name for explicit parameters: ``i-31_j+05_norm+15.7``.

    Numbers carry a sign and at least two integer digits (``+05``, ``-31``, ``+15.7``, ``+00.25``),
    so names sort by parameter, then by sign, then by magnitude (``i+00`` ... ``i+31``, then ``i-01``
    ... ``i-31``) for magnitudes below 100; an integral float is written as the integer (4.0:
    ``+04``). A name longer than MAX_SLUG keeps its start and ends in a hash of the whole.
    """
    slug = "_".join(f"{k}{_slug_value(v)}" for k, v in sorted(params.items()))
    if len(slug) > MAX_SLUG:
        digest = hashlib.blake2b(slug.encode(), digest_size=6).hexdigest()
        slug = f"{slug[:MAX_SLUG - len(digest) - 1]}~{digest}"
    return slug


def _slug_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(_slug_value(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value).replace("/", "-").replace(" ", "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    sign = "-" if value < 0 else "+"
    digits = format(abs(decimal.Decimal(repr(value))), "f")  # positional: 1e-05 reads 0.00001
    whole, dot, fraction = digits.partition(".")
    return f"{sign}{whole.zfill(2)}{dot}{fraction}"


def _frozen(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def plan_variants(config: ReleaseConfig) -> list[Variant]:
    """Every (corruption, variant) the config asks for, in config order, duplicates refused."""
    variants: list[Variant] = []
    for request in config.corruptions:
        for name in expand_name(request.name):
            spec = ops.get_corruption(name)
            if request.grid:
                keys = sorted(request.grid)
                for combo in itertools.product(*(request.grid[k] for k in keys)):
                    explicit = {**request.params, **dict(zip(keys, combo))}
                    variants.append(Variant(name, variant_slug(explicit), _frozen(spec.params(None, **explicit))))
            elif request.params and not request.levels:
                params = spec.params(None, **request.params)
                variants.append(Variant(name, variant_slug(request.params), _frozen(params)))
            else:
                for level in request.levels or spec.level_numbers:
                    params = spec.params(level, **request.params)
                    suffix = f"-{variant_slug(request.params)}" if request.params else ""
                    variants.append(Variant(name, f"{level}{suffix}", _frozen(params), level))
    seen: set[tuple[str, str]] = set()
    for v in variants:
        if (v.corruption, v.name) in seen:
            raise ValueError(f"variant {v.corruption}/{v.name} is requested twice")
        seen.add((v.corruption, v.name))
    return variants


def output_path(variant: Variant, split: str, source_index: int) -> str:
    return shard_path(variant.corruption, variant.name, split, source_index)


def plan_units(config: ReleaseConfig) -> list[WorkUnit]:
    """One unit per (input shard, group of ``variants_per_unit`` variants), in a stable order."""
    sources = expand_shard_patterns(config.input.shards)
    if not sources:
        raise ValueError("input.shards names no shard")
    if len(set(sources)) != len(sources):
        raise ValueError("an input shard is listed twice")
    variants = plan_variants(config)
    group = config.run.variants_per_unit
    units = []
    for index, source in enumerate(sources):
        for start in range(0, len(variants), group):
            outputs = tuple(OutputShard(v, output_path(v, config.input.split, index))
                            for v in variants[start:start + group])
            units.append(WorkUnit(f"{index:06d}-{start // group:04d}", source, index, outputs))
    return units


def planned_shards(config: ReleaseConfig) -> list[PlannedShard]:
    """Every output shard the config makes, for `verify` (release/verify.py) to compare with a manifest."""
    return [PlannedShard(o.path, o.variant.corruption, o.variant.name, o.variant.level, o.variant.param_dict,
                         unit.source) for unit in plan_units(config) for o in unit.outputs]
