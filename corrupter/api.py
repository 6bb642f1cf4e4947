"""The Python API for corrupting images in your own code.

``corrupt`` has the call shape of imagecorruptions' ``corrupt`` (uint8 H x W x 3 in, uint8 out), so it
is a drop-in; ``corrupt_batch`` is the batched tensor API.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from . import ops
from .seeding import make_generator

# imagecorruptions' corruption_number order: the 15 ImageNet-C corruptions, then the 4 extras.
IMAGENET_C_ORDER = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression", "speckle_noise", "gaussian_blur", "spatter", "saturate",
)


def list_corruptions(pattern: str = "*", tag: str | None = None) -> list[str]:
    """Registered corruption names (wildcard ``pattern``, optional family or tag), sorted."""
    return ops.list_corruptions(pattern, tag)


# imagecorruptions' subsets: slices of that order. Its noise/blur/weather/digital are ImageNet-C's
# groups of the 15 (brightness is weather there, the four extras are in none), not our families.
IMAGECORRUPTIONS_SUBSETS = {
    "common": slice(0, 15), "validation": slice(15, 19), "all": slice(0, 19),
    "noise": slice(0, 3), "blur": slice(3, 7), "weather": slice(7, 11), "digital": slice(11, 15),
}


def get_corruption_names(subset: str = "common") -> list[str]:
    """imagecorruptions' subsets, in its order: ``common`` (15), ``validation`` (4), ``all`` (19),
    ``noise``, ``blur``, ``weather``, ``digital`` (ImageNet-C's groups of the 15); any other family
    or tag of ours (``fourier``, ``filter``, ``yin2019``...) gives its corruptions, sorted."""
    if subset in IMAGECORRUPTIONS_SUBSETS:
        return list(IMAGENET_C_ORDER[IMAGECORRUPTIONS_SUBSETS[subset]])
    if subset in ops.list_tags():
        return ops.list_corruptions(tag=subset)
    raise ValueError(f"unknown subset {subset!r}; use one of {sorted(IMAGECORRUPTIONS_SUBSETS)} "
                     f"or a tag: {ops.list_tags()}")


def corrupt_batch(images: torch.Tensor, corruption_name: str, level: int | None = 3,
                  seeds: Sequence[int] | None = None, **params: Any) -> torch.Tensor:
    """Corrupt float (B, 3, H, W) images in [0, 1] on any device; one seed per sample.

    ``level`` numbers the op's table (ImageNet-C: severity 1..5); None with explicit ``params``.
    Returns float images in [0, 1] (apply ``corrupter.ops.quantize_uint8`` for ImageNet-C's uint8).
    """
    spec = ops.get_corruption(corruption_name)
    seeds = list(seeds) if seeds is not None else [secrets.randbits(63) for _ in range(images.shape[0])]
    if len(seeds) != images.shape[0]:
        raise ValueError(f"got {len(seeds)} seeds for {images.shape[0]} images")
    assets = {}
    if spec.assets:
        from .io.assets import load_assets  # PIL stays out of `import corrupter.ops`

        assets = load_assets(spec.assets, images.device)
    out, _ = ops.apply_batch(spec, images, spec.params(level, **params),
                             [make_generator(s) for s in seeds], assets)
    return out


def corrupt(image: np.ndarray, severity: int | str = 1, corruption_name: str | int | None = None,
            corruption_number: int = -1, *, seed: int | None = None, **params: Any) -> np.ndarray:
    """Corrupt one uint8 H x W x 3 (or H x W greyscale) image; returns uint8 H x W x 3.

    Accepts imagecorruptions' ``corrupt(image, severity, corruption_name)`` and the
    ``corrupt(image, corruption_name, severity)`` order. ``seed=None`` draws fresh randomness, as
    imagecorruptions does; pass a seed for reproducible output.
    """
    if isinstance(severity, str):
        severity, corruption_name = (corruption_name if corruption_name is not None else 1), severity
    if corruption_name is None:
        if not 0 <= corruption_number < len(IMAGENET_C_ORDER):
            raise ValueError("give corruption_name, or corruption_number in 0..18")
        corruption_name = IMAGENET_C_ORDER[corruption_number]
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 or H x W image, got shape {array.shape}")
    # Contiguous NCHW (the permuted view would be channels-last, which some kernels run slower on).
    images = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None].contiguous().float() / 255
    levels = ops.get_corruption(str(corruption_name)).level_numbers
    if isinstance(severity, bool) or int(severity) not in levels:
        raise ValueError(f"{corruption_name}: severity must be 1..{len(levels)}, got {severity!r}")
    out = corrupt_batch(images, str(corruption_name), int(severity),
                        None if seed is None else [seed], **params)
    return ops.quantize_uint8(out)[0].permute(1, 2, 0).numpy()

