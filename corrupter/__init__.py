"""corrupter: reproducible corrupted test sets (ImageNet-C family, Fourier-basis noise, filters) at scale."""

from ._version import __version__
from .api import corrupt, corrupt_batch, get_corruption_names, list_corruptions
from .release import open_release

__all__ = ["__version__", "corrupt", "corrupt_batch", "evaluate", "get_corruption_names", "list_corruptions",
           "open_release"]


def __getattr__(name: str):
    # corrupter.evaluate, imported on first use: `import corrupter` stays light (no matplotlib, no Ray)
    if name == "evaluate":
        from .evaluation.run import evaluate

        return evaluate
    raise AttributeError(f"module 'corrupter' has no attribute {name!r}")
