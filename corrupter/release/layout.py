"""Where everything of a release lives, relative to its root ``OUTPUT/NAME/VERSION``:

    CORRUPTION/VARIANT/SPLIT-NNNNNN.tar    one shard per input shard and variant
    CORRUPTION/VARIANT/_info.json ...      the metadata of a cell (timm, open_clip, wids: publish/)
    README.md, croissant.json, ...         the metadata of the release (card, Croissant, CITATION.cff)
    manifest.json                          written last: the commit marker, listing all of the above
    ../index.json                          the benchmark's catalogue of versions (catalogue.py)
    _work/config.json                      while unfinished: the digest of the config building it
    _work/receipts/SHARD.json              while unfinished: one receipt per published shard
    _work/runs/START.json                  while unfinished: one per run of the job, when it started

The work area goes when the manifest is written; a finished release holds shards, metadata files and
its manifest.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from ..config import ReleaseConfig
from ..io.storage import Storage, is_s3_uri, open_storage

MANIFEST = "manifest.json"
WORK = "_work"
CONFIG_MARKER = f"{WORK}/config.json"
RECEIPTS = f"{WORK}/receipts"
RUNS = f"{WORK}/runs"

_DRIVE = re.compile(r"^[A-Za-z]:")


def shard_path(corruption: str, variant: str, split: str, source_index: int) -> str:
    """The output shard of input shard number ``source_index`` for one variant."""
    return posixpath.join(corruption, variant, f"{split}-{source_index:06d}.tar")


def receipt_path(shard: str) -> str:
    """Where the receipt of a published shard is kept until the release is committed."""
    return posixpath.join(RECEIPTS, shard + ".json")


def check_release_path(path: str) -> str:
    """A shard path a reader may open: relative, forward slashes, inside the release, not the work
    area. Anything else (``../../etc/hostname``, ``/abs``, ``a\\b``, ``C:x``) is refused before it
    is read."""
    _inside(path)
    if not path.endswith(".tar"):
        raise ValueError(f"{path!r} is not a .tar shard")
    return path


def check_file_path(path: str) -> str:
    """A metadata file's path: inside the release as a shard's is, and neither a shard nor the manifest."""
    _inside(path)
    if path.endswith(".tar") or path == MANIFEST:
        raise ValueError(f"{path!r} is a shard or the manifest, not a metadata file")
    return path


def _inside(path: str) -> None:
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path or _DRIVE.match(path)
            or any(p in ("", ".", "..") for p in parts) or parts[0] == WORK):
        raise ValueError(f"{path!r} is not a path inside the release (relative, '/'-separated, no '..', "
                         f"no backslash, not under {WORK}/)")


def release_storage(config: ReleaseConfig) -> Storage:
    """The release's root: ``output.uri/NAME/VERSION``."""
    return open_storage(config.output.uri, config.s3).child(f"{config.name}/{config.version}")


def benchmark_storage(config: ReleaseConfig) -> Storage:
    """The benchmark's root ``output.uri/NAME``: every version, and the catalogue (index.json)."""
    return open_storage(config.output.uri, config.s3).child(config.name)


def release_ancestors(config: ReleaseConfig) -> list[str]:
    """Every location above the release (its parent first), as a URI: where an enclosing release's
    manifest would be."""
    return uri_ancestors(f"{config.output.uri.rstrip('/')}/{config.name}/{config.version}")


def uri_ancestors(uri: str) -> list[str]:
    """Every location above ``uri`` (a directory or ``s3://bucket/prefix``), its parent first."""
    if is_s3_uri(uri):
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        parts = [p for p in prefix.split("/") if p]
        return [f"s3://{bucket}/" + "/".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)]
    return [str(p) for p in Path(uri).resolve().parents]
