"""Every variant with explicit parameters, run once on a small image before the version is claimed.

The config checks each parameter's type against the registry (config/params.py); what only the
kernel knows (a value out of its range) would otherwise surface in the workers, after the release
directory has been claimed for this config. Level-table variants are covered by the contract
tests and are not rerun here.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def dry_run_variants(config: ReleaseConfig, variants: Iterable[Variant]) -> int:
    """Run each explicit variant once on a mid-grey-and-gradient image; ValueError names the first
    that fails. Returns how many ran."""
    side = dry_run_side(config)
    ramp = torch.linspace(0, 1, side)
    image = torch.stack([ramp.expand(side, side), ramp.expand(side, side).T, torch.full((side, side), 0.5)])[None]
    ran = 0
    for variant in dict.fromkeys(v for v in variants if explicit(v)):
        spec = ops.get_corruption(variant.corruption)
        try:
            assets = load_assets(spec.assets) if spec.assets else None
            out, _ = ops.apply_batch(spec, image, variant.param_dict, [make_generator(0)], assets)
            if out.shape != image.shape or not torch.isfinite(out).all():
                raise ValueError(f"gives {tuple(out.shape)} {'finite' if torch.isfinite(out).all() else 'NaN'} output")
        except Exception as exc:  # noqa: BLE001  (whatever the kernel raises, said before any work)
            raise ValueError(f"corruption {variant.corruption}, variant {variant.name} ({variant.param_dict}) "
                             f"fails on a {side}x{side} test image: {type(exc).__name__}: {exc}; no work "
                             f"was started and the version was not claimed") from None
        ran += 1
    return ran
