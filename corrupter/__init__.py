"""corrupter: reproducible corrupted test sets (ImageNet-C family, Fourier-basis noise, filters) at scale."""

from ._version import __version__
from .api import corrupt, corrupt_batch, get_corruption_names, list_corruptions
from .release import open_release

__all__ = ["__version__", "corrupt", "corrupt_batch", "get_corruption_names", "list_corruptions", "open_release"]
