"""Every variant with explicit parameters, tried on a small image before the version is claimed.

The config checks each parameter's type against the registry (config/params.py); what only the
kernel knows (a value out of its range) would otherwise surface in the workers, after the release
directory has been claimed for this config. Level-table variants are covered by the contract
tests and are not rerun here.

An op that declares a ``check`` (the registry's cheap test of the values its kernel refuses, e.g.
fourier_basis_noise's frequency bounds) has every variant checked, and its kernel run once per
parameter signature (names and value types): a 63 x 63 heat-map grid costs one kernel call and
3,969 bounds checks, not 3,969 kernel calls. Any other op runs its kernel once per variant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from .. import ops
from ..config import ReleaseConfig
from ..io.assets import load_assets
from ..seeding import make_generator
from .plan import Variant, _frozen


def explicit(variant: Variant) -> bool:
    spec = ops.get_corruption(variant.corruption)
    return variant.level is None or variant.params != _frozen(spec.params(variant.level))


def dry_run_side(config: ReleaseConfig) -> int:
    """The side of the square the kernels will see: the crop, else the resize, else ImageNet's 224."""
    return config.preprocess.crop or config.preprocess.resize or 224


def signature(variant: Variant) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The op and its parameters' names and value types: variants alike in it take one code path."""
    return variant.corruption, tuple((name, type(value).__name__) for name, value in variant.params)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread while the kernels run on a tiny batch: on a busy 2-core machine torch's
    thread pool made each call 16 times slower (21 ms against 1.3 ms for fourier_basis_noise)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def dry_run_variants(config: ReleaseConfig, variants: Iterable[Variant]) -> int:
    """Check each explicit variant (see the module doc); ValueError names the first that fails.
    Returns how many kernel calls were made."""
    side = dry_run_side(config)
    ramp = torch.linspace(0, 1, side)
    image = torch.stack([ramp.expand(side, side), ramp.expand(side, side).T, torch.full((side, side), 0.5)])[None]
    ran: set[Any] = set()
    with one_thread():
        for variant in dict.fromkeys(v for v in variants if explicit(v)):
            spec = ops.get_corruption(variant.corruption)
            try:
                if spec.check is not None:
                    spec.check(side, side, **variant.param_dict)
                    if signature(variant) in ran:
                        continue
                _run_once(spec, variant, image)
            except Exception as exc:  # noqa: BLE001  (whatever the kernel raises, said before any work)
                raise ValueError(f"corruption {variant.corruption}, variant {variant.name} ({variant.param_dict}) "
                                 f"fails on a {side}x{side} test image: {type(exc).__name__}: {exc}; no work "
                                 f"was started and the version was not claimed") from None
            ran.add(signature(variant) if spec.check is not None else variant)
    return len(ran)


def _run_once(spec: ops.CorruptionSpec, variant: Variant, image: torch.Tensor) -> None:
    assets = load_assets(spec.assets) if spec.assets else None
    out, _ = ops.apply_batch(spec, image, variant.param_dict, [make_generator(0)], assets)
    if out.shape != image.shape or not torch.isfinite(out).all():
        raise ValueError(f"gives {tuple(out.shape)} {'finite' if torch.isfinite(out).all() else 'NaN'} output")
