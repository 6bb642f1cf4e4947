"""The one rule both storage backends apply to an object's name under their root."""

from __future__ import annotations

from .errors import StorageError


def check_relative(rel: str) -> str:
    """``rel`` if it names something under the storage root: refuses absolute paths and ``..`` (a
    manifest or receipt naming ``../../etc/passwd`` must never reach a file outside the release)."""
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or ".." in parts or "\0" in rel:
        raise StorageError(f"{rel!r}: not a path inside the release (absolute or '..'); refused")
    return rel
