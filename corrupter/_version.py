"""The package version, in a module of its own: the manifest records it, and nothing below the top
of the package may import ``corrupter`` itself (tests/test_layering.py)."""

__version__ = "0.1.0"
