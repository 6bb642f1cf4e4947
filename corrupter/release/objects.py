"""Every object a manifest lists with its sha256: its shards, and any other list of files it records
(metadata such as _info.json or a dataset card), found by shape, not by name: a top-level list whose
entries carry ``path`` and ``sha256`` (and ``bytes`` or ``size`` where known). The copy (`corrupter
publish`) and the comparison (`corrupter diff`) go through here, so a new kind of listed file is copied
and compared without either knowing it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..io.errors import StorageError
from ..io.paths import check_relative
from .errors import ManifestError
from .layout import MANIFEST, WORK
from .manifest import ReleaseManifest

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ListedObject:
    path: str  # relative to the release
    sha256: str
    size: int | None  # None where the manifest records no size
    kind: str  # the manifest field that lists it ("shards", ...)


def listed_objects(manifest: ReleaseManifest, where: str) -> list[ListedObject]:
    """Shards first, then other listed files, in manifest order; ManifestError on a path outside the
    release, the manifest's own name, or a path listed twice."""
    found: list[ListedObject] = []
    raw = manifest.model_dump()
    for field, value in raw.items():
        if not isinstance(value, list):
            continue
        for entry in value:
            if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                    and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])):
                continue
            size = entry.get("bytes", entry.get("size"))
            found.append(ListedObject(_checked(entry["path"], where), entry["sha256"],
                                      size if isinstance(size, int) and not isinstance(size, bool) else None, field))
    seen: set[str] = set()
    for obj in found:
        if obj.path in seen:
            raise ManifestError(f"{where}: {obj.path} is listed more than once")
        seen.add(obj.path)
    return sorted(found, key=lambda o: (o.kind != "shards", o.path))


def _checked(path: str, where: str) -> str:
    try:
        check_relative(path)
    except StorageError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    parts = path.split("/")
    if path in (MANIFEST, "") or parts[0] == WORK or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise ManifestError(f"{where}: {path!r} is not an object of the release (a relative path inside it, "
                            f"not {MANIFEST} or {WORK}/)")
    return path
