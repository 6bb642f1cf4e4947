"""Run a registered corruption on a batch: per-sample draws, one batched kernel call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ._registry import CorruptionSpec, Draws


def draw_batch(spec: CorruptionSpec, params: Mapping[str, Any], generators: Sequence[torch.Generator],
               height: int, width: int) -> Draws:
    """Each sample's random draws from its own generator, stacked along a new batch dimension.

    Drawing per sample (on the CPU) is what makes a sample's pixels independent of batch size,
    batch makeup, worker count and retries.
    """
    if spec.sample is None:
        return {}
    per_sample = [spec.sample(g, height, width, **params) for g in generators]
    if not per_sample:
        return {}
    return {k: torch.stack([d[k] for d in per_sample]) for k in per_sample[0]}


def apply_batch(spec: CorruptionSpec, images: torch.Tensor, params: Mapping[str, Any],
                generators: Sequence[torch.Generator] = (),
                assets: Mapping[str, Any] | None = None) -> tuple[torch.Tensor, Draws]:
    """Corrupt float (B, C, H, W) images in [0, 1]; returns the output and the draws used."""
    return _apply(spec, spec.apply, images, params, generators, assets)


def apply_batch_uint8(spec: CorruptionSpec, levels: torch.Tensor, params: Mapping[str, Any],
                      generators: Sequence[torch.Generator] = (),
                      assets: Mapping[str, Any] | None = None) -> tuple[torch.Tensor, Draws]:
    """Corrupt uint8 (B, C, H, W) levels through the op's 8-bit kernel (``spec.apply_uint8``).

    The same bytes as ``quantize_uint8(apply_batch(spec, levels / 255, ...)[0])``, without the two
    float conversions. Raises ValueError for an op without an 8-bit kernel (see ``spec.apply_uint8``).
    """
    if spec.apply_uint8 is None:
        raise ValueError(f"{spec.name} has no 8-bit kernel; use apply_batch")
    if levels.dtype != torch.uint8:
        raise TypeError(f"{spec.name}: the 8-bit kernel takes uint8 levels, got {levels.dtype}")
    return _apply(spec, spec.apply_uint8, levels, params, generators, assets)


def apply_batch_levels(spec: CorruptionSpec, images: torch.Tensor,
                       params_list: Sequence[Mapping[str, Any]]) -> list[torch.Tensor]:
    """Several levels of a deterministic op on the same (B, C, H, W) input, in one kernel call.

    On the route of the op's per-level kernel (see ``spec.apply_levels``): for an op with an 8-bit
    kernel, uint8 levels in and out, output i being ``apply_batch_uint8(spec, levels,
    params_list[i])[0]``; otherwise float images in [0, 1] in and out, output i being
    ``apply_batch(spec, images, params_list[i])[0]``; bit for bit, through the op's multi-level
    kernel, which computes the work its levels share once. Raises ValueError for an op without one,
    TypeError for input of the other route's dtype.
    """
    if spec.apply_levels is None:
        raise ValueError(f"{spec.name} has no multi-level kernel; use apply_batch per level")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    if spec.apply_uint8 is not None and images.dtype != torch.uint8:
        raise TypeError(f"{spec.name}: the multi-level kernel runs on the 8-bit route and takes uint8 "
                        f"levels, got {images.dtype}")
    if spec.apply_uint8 is None and not images.is_floating_point():
        raise TypeError(f"{spec.name}: the multi-level kernel takes float images in [0, 1], got {images.dtype}")
    if images.shape[0] == 0 or not params_list:
        return [images.clone() for _ in params_list]
    outputs = spec.apply_levels(images, [dict(p) for p in params_list])
    if len(outputs) != len(params_list):  # a broken kernel must not shift outputs between variants
        raise RuntimeError(f"{spec.name}: the multi-level kernel returned {len(outputs)} outputs "
                           f"for {len(params_list)} levels")
    return outputs


def _apply(spec: CorruptionSpec, kernel: Callable[..., torch.Tensor], images: torch.Tensor,
           params: Mapping[str, Any], generators: Sequence[torch.Generator],
           assets: Mapping[str, Any] | None) -> tuple[torch.Tensor, Draws]:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    if spec.stochastic and len(generators) != images.shape[0]:
        raise ValueError(f"{spec.name}: need one generator per sample, got {len(generators)} "
                         f"for a batch of {images.shape[0]}")
    draws = draw_batch(spec, params, generators, images.shape[-2], images.shape[-1])
    on_device = {k: v.to(images.device) for k, v in draws.items()}
    extra: dict[str, Any] = {}
    if spec.assets:
        missing = [a for a in spec.assets if not assets or a not in assets]
        if missing:
            raise ValueError(f"{spec.name}: needs assets {missing} (corrupter.io.assets.load_assets)")
        extra["assets"] = {a: assets[a] for a in spec.assets}  # type: ignore[index]
    if images.shape[0] == 0:
        return images.clone(), draws
    out = kernel(images, on_device, **params, **extra)
    return out, draws


def recordable_draws(draws: Draws, index: int, max_numel: int = 16) -> dict[str, Any]:
    """The small sampled values of one sample (angles, offsets, signs) for its JSON sidecar."""
    out: dict[str, Any] = {}
    for k, v in draws.items():
        item = v[index]
        if item.numel() <= max_numel:
            out[k] = item.tolist()
    return out
