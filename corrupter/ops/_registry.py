"""The corruption registry: one frozen spec per corruption name, filed by a decorator on its kernel."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

Draws = dict[str, torch.Tensor]
Params = Mapping[str, Any]

FAMILIES = ("noise", "blur", "weather", "digital", "fourier", "filter")


@dataclass(frozen=True)
class CorruptionSpec:
    """What a corruption is: its kernel, its sampler and its severity table.

    Attributes:
        name: registry name; ImageNet-C names where the algorithm matches the reference.
        family: one of FAMILIES.
        tags: extra selectors a config can name (``imagenet-c``, ``imagenet-c-extra``, ``yin2019``...).
        apply: ``apply(images, draws, **params) -> images``; deterministic, batched math.
        sample: ``sample(generator, height, width, **params) -> draws`` for ONE sample, on the CPU;
            None for corruptions that draw no random numbers.
        severities: the physical parameters of severities 1..5.
        distortion_order: severities ordered from mildest to strongest as the reference defines them
            (not always 1..5: e.g. saturate's severity 3 is milder than 2).
        assets: names of bundled data (e.g. ``frost``) passed to ``apply`` as ``assets=``.
        reference: where the definition comes from.
    """

    name: str
    family: str
    apply: Callable[..., torch.Tensor]
    severities: tuple[Mapping[str, Any], ...]
    sample: Callable[..., Draws] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    distortion_order: tuple[int, ...] = (1, 2, 3, 4, 5)
    assets: tuple[str, ...] = ()
    reference: str = ""

    @property
    def summary(self) -> str:
        doc = (self.apply.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def stochastic(self) -> bool:
        return self.sample is not None

    def params(self, severity: int | None = None, **overrides: Any) -> dict[str, Any]:
        """Physical parameters of a severity (1..5), with explicit overrides on top."""
        base: dict[str, Any] = {}
        if severity is not None:
            if not 1 <= int(severity) <= len(self.severities):
                raise ValueError(f"{self.name}: severity must be 1..{len(self.severities)}, got {severity!r}")
            base = dict(self.severities[int(severity) - 1])
        elif not overrides:
            raise ValueError(f"{self.name}: give a severity or explicit parameters")
        else:
            base = dict(self.severities[0])
        unknown = set(overrides) - set(base)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {sorted(unknown)}; known: {sorted(base)}")
        base.update(overrides)
        return base


_REGISTRY: dict[str, CorruptionSpec] = {}


def register_corruption(
    name: str,
    *,
    family: str,
    severities: tuple[Mapping[str, Any], ...] | list[Mapping[str, Any]],
    sample: Callable[..., Draws] | None = None,
    tags: tuple[str, ...] = (),
    distortion_order: tuple[int, ...] = (1, 2, 3, 4, 5),
    assets: tuple[str, ...] = (),
    reference: str = "",
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator filing a kernel under ``name``. A duplicate name is an error, never an overwrite."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")
    if len(severities) != 5:
        raise ValueError(f"{name}: a severity table has five entries, got {len(severities)}")

    def decorate(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if name in _REGISTRY:
            raise ValueError(f"corruption {name!r} is already registered")
        _REGISTRY[name] = CorruptionSpec(
            name=name, family=family, apply=fn, severities=tuple(dict(s) for s in severities),
            sample=sample, tags=frozenset((family, *tags)), distortion_order=tuple(distortion_order),
            assets=tuple(assets), reference=reference)
        return fn

    return decorate


def get_corruption(name: str) -> CorruptionSpec:
    """The spec registered under ``name``; a KeyError suggests close names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown corruption {name!r}{hint} (see `corrupter list`)") from None


def list_corruptions(pattern: str = "*", tag: str | None = None) -> list[str]:
    """Registered names matching a wildcard pattern and, optionally, a family or tag; sorted."""
    return sorted(n for n, s in _REGISTRY.items()
                  if fnmatch.fnmatchcase(n, pattern) and (tag is None or tag in s.tags))


def list_tags() -> list[str]:
    """Every family and tag a config may name instead of a corruption."""
    return sorted({t for s in _REGISTRY.values() for t in s.tags})
