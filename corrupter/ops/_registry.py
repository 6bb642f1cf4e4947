"""The corruption registry: one frozen spec per corruption name, filed by a decorator on its kernel."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

Draws = dict[str, torch.Tensor]
Params = Mapping[str, Any]

FAMILIES = ("noise", "blur", "weather", "digital", "fourier", "filter", "identity")  # identity: clean


@dataclass(frozen=True)
class CorruptionSpec:
    """What a corruption is: its kernel, its sampler and its table of levels.

    A level is a numbered variant with fixed physical parameters. ImageNet-C's five severities are
    levels 1..5; other batteries have other counts (Geirhos et al. 2018: eight contrasts, two colour
    conditions, four rotations), so the table's length is the op's own.

    Attributes:
        name: registry name; ImageNet-C names where the algorithm matches the reference.
        family: one of FAMILIES.
        tags: extra selectors a config can name (``imagenet-c``, ``imagenet-c-extra``, ``yin2019``...).
        apply: ``apply(images, draws, **params) -> images``; deterministic, batched math.
        sample: ``sample(generator, height, width, **params) -> draws`` for ONE sample, on the CPU;
            None for corruptions that draw no random numbers.
        levels: the physical parameters of levels 1..N (N >= 1), mildest first where the source
            orders them so.
        distortion_order: levels ordered from mildest to strongest by distortion of the image
            (not always 1..N: e.g. ImageNet-C saturate's severity 3 is milder than 2).
        assets: names of bundled data (e.g. ``frost``) passed to ``apply`` as ``assets=``.
        reference: where the definition comes from.
        derive: ``derive(params, given) -> params``, run by ``params()`` on the merged parameters with
            the names given explicitly: fills in what follows from them (ImageNet-C-bar: the
            physical parameters of a given severity) or refuses a contradiction. None: nothing to do.
        apply_uint8: for ops with 8-bit semantics (they read the input at its 8-bit level; most
            also put their output on the 8-bit grid): the same corruption on uint8 levels,
            ``apply_uint8(levels, draws, **params) -> levels``, uint8 (B, 3, H, W) in and out, on
            the input's device. It must give exactly ``quantize_uint8(apply(levels / 255))``
            (tests/ops/test_contract.py); a worker, whose input and output are 8-bit anyway, calls
            it and skips both float conversions. ``apply`` stays the op's definition. None: float only.
        check: ``check(height, width, **params)``, a cheap test that raises ValueError for every
            parameter value ``apply`` refuses on an image of that size (a frequency outside the
            spectrum), so the dry run before a release need not run the kernel once per value
            (pipeline/dryrun.py). None: the dry run runs the kernel for every explicit variant.
        apply_levels: for deterministic ops (no ``sample``, no ``assets``) whose levels share
            work: several levels of the op on the same images in one call,
            ``apply_levels(images, params_list) -> list[images]``, one output per entry of
            ``params_list`` (levels or explicit parameters, in any order, repeats allowed). It is
            the multi-level form of the kernel a worker calls per level, so it runs on that
            kernel's route: for an op with ``apply_uint8``, uint8 levels in and out, and element
            i must be exactly ``apply_uint8(levels, {}, **params_list[i])``; otherwise float
            images in and out, and element i must be exactly ``apply(images, {}, **params_list[i])``;
            bit for bit either way (tests/ops/test_contract.py). A worker holding several variants
            of the op calls it once per chunk (``ops.apply_batch_levels``; zoom_blur computes each
            zoom its levels share once, brightness and saturate the HSV planes their levels
            share). None: one kernel call per level.
    """

    name: str
    family: str
    apply: Callable[..., torch.Tensor]
    levels: tuple[Mapping[str, Any], ...]
    sample: Callable[..., Draws] | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    distortion_order: tuple[int, ...] = ()
    assets: tuple[str, ...] = ()
    reference: str = ""
    derive: Callable[[dict[str, Any], frozenset[str]], dict[str, Any]] | None = None
    apply_uint8: Callable[..., torch.Tensor] | None = None
    check: Callable[..., None] | None = None
    apply_levels: Callable[[torch.Tensor, list[Params]], list[torch.Tensor]] | None = None

    @property
    def summary(self) -> str:
        doc = (self.apply.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def stochastic(self) -> bool:
        return self.sample is not None

    @property
    def level_numbers(self) -> list[int]:
        """1..N, the numbers configs, variant names and manifests use for the levels."""
        return list(range(1, len(self.levels) + 1))

    def params(self, level: int | None = None, **overrides: Any) -> dict[str, Any]:
        """Physical parameters of a level (1..N), with explicit overrides on top."""
        base: dict[str, Any] = {}
        if level is not None:
            if isinstance(level, bool) or not 1 <= int(level) <= len(self.levels):
                raise ValueError(f"{self.name}: level must be 1..{len(self.levels)}, got {level!r}")
            base = dict(self.levels[int(level) - 1])
        elif not overrides:
            raise ValueError(f"{self.name}: give a level or explicit parameters")
        else:
            base = dict(self.levels[0])
        unknown = set(overrides) - set(base)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {sorted(unknown)}; known: {sorted(base)}")
        base.update(overrides)
        return self.derive(base, frozenset(overrides)) if self.derive else base


_REGISTRY: dict[str, CorruptionSpec] = {}


def register_corruption(
    name: str,
    *,
    family: str,
    levels: tuple[Mapping[str, Any], ...] | list[Mapping[str, Any]],
    sample: Callable[..., Draws] | None = None,
    tags: tuple[str, ...] = (),
    distortion_order: tuple[int, ...] | None = None,
    assets: tuple[str, ...] = (),
    reference: str = "",
    derive: Callable[[dict[str, Any], frozenset[str]], dict[str, Any]] | None = None,
    apply_uint8: Callable[..., torch.Tensor] | None = None,
    check: Callable[..., None] | None = None,
    apply_levels: Callable[[torch.Tensor, list[Params]], list[torch.Tensor]] | None = None,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator filing a kernel under ``name``. A duplicate name is an error, never an overwrite."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")
    if not levels:
        raise ValueError(f"{name}: a level table needs at least one level")
    if any(set(level) != set(levels[0]) for level in levels):
        raise ValueError(f"{name}: every level must set the same parameters")
    order = tuple(distortion_order or range(1, len(levels) + 1))
    if sorted(order) != list(range(1, len(levels) + 1)):
        raise ValueError(f"{name}: distortion_order must list each of the levels 1..{len(levels)} once")
    if apply_levels is not None and (sample is not None or assets):
        # Levels of a stochastic op draw from per-variant generators, which one call would have to
        # take; no op needs that (or assets) yet, so the contract stays apply(images, {}, **params).
        raise ValueError(f"{name}: apply_levels is for deterministic ops without assets")

    def decorate(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        if name in _REGISTRY:
            raise ValueError(f"corruption {name!r} is already registered")
        _REGISTRY[name] = CorruptionSpec(
            name=name, family=family, apply=fn, levels=tuple(dict(s) for s in levels),
            sample=sample, tags=frozenset((family, *tags)), distortion_order=order,
            assets=tuple(assets), reference=reference, derive=derive, apply_uint8=apply_uint8,
            check=check, apply_levels=apply_levels)
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
