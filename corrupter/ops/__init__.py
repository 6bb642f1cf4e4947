"""Pure, batched torch corruption kernels and their registry.

No files, network, Ray or global RNG in here: randomness arrives as per-sample draws made from
explicit generators (see ``_batch.draw_batch``), assets arrive as tensors.
"""

# The family modules register their corruptions on import. One per line: a new family is a line of its own.
from . import (  # noqa: F401
    blur,
    cbar_caustics,
    cbar_checkerboard,
    cbar_perlin,
    cbar_sparkles,
    cbar_spectral,
    cbar_waves,
    clean,
    digital,
    elastic,
    filters,
    fourier,
    geirhos,
    geirhos_spectral,
    noise,
    weather,
)
from ._batch import apply_batch, apply_batch_levels, apply_batch_uint8, draw_batch, recordable_draws
from ._common import quantize_uint8
from ._registry import (
    FAMILIES,
    CorruptionSpec,
    get_corruption,
    list_corruptions,
    list_tags,
    register_corruption,
)

__all__ = [
    "FAMILIES", "CorruptionSpec", "apply_batch", "apply_batch_levels", "apply_batch_uint8", "draw_batch",
    "get_corruption", "list_corruptions", "list_tags", "quantize_uint8", "recordable_draws",
    "register_corruption",
]
