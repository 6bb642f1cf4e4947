"""Pure, batched torch corruption kernels and their registry.

No files, network, Ray or global RNG in here: randomness arrives as per-sample draws made from
explicit generators (see ``_batch.draw_batch``), assets arrive as tensors.
"""

from . import (  # noqa: F401  (registration side effect)
    blur, digital, elastic, filters, fourier, geirhos, geirhos_spectral, noise, weather)
from . import clean  # noqa: F401  (registration side effect: the identity, for a release's clean cell)
from . import (  # noqa: F401  (registration side effect: ImageNet-C-bar)
    cbar_caustics, cbar_checkerboard, cbar_perlin, cbar_sparkles, cbar_spectral, cbar_waves)
from ._batch import apply_batch, draw_batch, recordable_draws
from ._common import quantize_uint8
from ._registry import FAMILIES, CorruptionSpec, get_corruption, list_corruptions, list_tags, register_corruption

__all__ = [
    "FAMILIES", "CorruptionSpec", "apply_batch", "draw_batch", "get_corruption", "list_corruptions",
    "list_tags", "quantize_uint8", "recordable_draws", "register_corruption",
]
