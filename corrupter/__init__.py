"""corrupter: reproducible corrupted test sets (ImageNet-C family, Fourier-basis noise, filters) at scale."""

__version__ = "0.1.0"

from .api import corrupt, corrupt_batch, get_corruption_names, list_corruptions  # noqa: E402

__all__ = ["__version__", "corrupt", "corrupt_batch", "get_corruption_names", "list_corruptions"]
