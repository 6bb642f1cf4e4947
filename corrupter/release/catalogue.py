"""The catalogue of a benchmark: ``OUTPUT/NAME/index.json``, every published version of NAME and which
is latest by semantic-version order (a pre-release ranks below its release).

    {"format": "corrupter-catalogue/1", "name": "demo", "latest": "1.1.0",
     "versions": [{"version", "manifest_sha256", "created", "totals", "corruptions"}, ...]}

``corrupter run`` records a release when its manifest commits, ``corrupter publish`` when the copy's
manifest lands. The file is the one object ever replaced, and only by compare-and-swap (S3: If-Match on
its ETag, If-None-Match for the first write; locally: a lock and an atomic rename): an update that lost a
race re-reads and tries again, so two publishers at once both appear. Recording a version that is
already there with the same manifest changes nothing; with another manifest it is refused (a version
names one release).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Annotated, Literal

from pydantic import AfterValidator, ValidationError

from ..config.semver import check_semver, semver_key
from ..io.errors import ChangedMeanwhile, StorageError
from ..io.storage import Storage
from ._schema import Closed, Sha256
from .manifest import ReleaseManifest, Totals

INDEX = "index.json"
FORMAT = "corrupter-catalogue/1"
CAS_ATTEMPTS = 30  # lost races in a row before giving up (each costs one GET and one PUT)

SemVer = Annotated[str, AfterValidator(check_semver)]


class CatalogueError(StorageError):
    """An index.json that does not parse, or a version recorded there with another manifest."""


class CatalogueEntry(Closed):
    version: SemVer
    manifest_sha256: Sha256
    created: str
    totals: Totals
    corruptions: list[str]


class Catalogue(Closed):
    format: Literal["corrupter-catalogue/1"]
    name: str
    latest: SemVer | None
    versions: list[CatalogueEntry]  # by semver precedence, oldest first


def entry_for(manifest: ReleaseManifest, manifest_sha256: str) -> CatalogueEntry:
    return CatalogueEntry(version=manifest.version, manifest_sha256=manifest_sha256, created=manifest.created,
                          totals=manifest.totals, corruptions=sorted({s.corruption for s in manifest.shards}))


def with_entry(catalogue: Catalogue | None, name: str, entry: CatalogueEntry, where: str) -> Catalogue | None:
    """The catalogue with ``entry`` in it; None when it is already there (nothing to write)."""
    versions = {e.version: e for e in (catalogue.versions if catalogue else [])}
    known = versions.get(entry.version)
    if known is not None:
        if known.manifest_sha256 == entry.manifest_sha256:
            return None
        raise CatalogueError(f"{where} records version {entry.version} with manifest sha256 "
                             f"{known.manifest_sha256}, not {entry.manifest_sha256}: a version names one release; "
                             f"choose a new version")
    versions[entry.version] = entry
    ordered = sorted(versions.values(), key=lambda e: semver_key(e.version))
    return Catalogue(format=FORMAT, name=name, latest=ordered[-1].version, versions=ordered)


def dump_catalogue(catalogue: Catalogue) -> bytes:
    return (json.dumps(catalogue.model_dump(), indent=2) + "\n").encode()


def parse_catalogue(data: bytes, where: str) -> Catalogue:
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise CatalogueError(f"{where}: not a catalogue of format {FORMAT} (found {str(found)[:80]!r})")
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = [f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                    for err in exc.errors()[:20]]
        raise CatalogueError(f"{where}: invalid catalogue\n" + "\n".join(problems)) from None
    if len({e.version for e in catalogue.versions}) != len(catalogue.versions):
        raise CatalogueError(f"{where}: a version is listed more than once")
    return catalogue


def read_catalogue(benchmark: Storage) -> Catalogue:
    """``NAME/index.json`` of the benchmark whose root (``OUTPUT/NAME``) is ``benchmark``."""
    where = f"{benchmark.uri}/{INDEX}"
    found = benchmark.read_tagged(INDEX)
    if found is None:
        raise CatalogueError(f"{where}: no catalogue there (no release of this benchmark has been built or "
                             f"published at {benchmark.uri})")
    return parse_catalogue(found[0], where)


def record_release(benchmark: Storage, manifest: ReleaseManifest, manifest_sha256: str) -> bool:
    """Add the release to ``benchmark``'s index.json by compare-and-swap, retried on a lost race.
    True if this call wrote it, False if it was already recorded."""
    where = f"{benchmark.uri}/{INDEX}"
    entry = entry_for(manifest, manifest_sha256)
    for attempt in range(CAS_ATTEMPTS):
        found = benchmark.read_tagged(INDEX)
        current, tag = (parse_catalogue(found[0], where), found[1]) if found else (None, None)
        if current is not None and current.name != manifest.name:
            raise CatalogueError(f"{where} is the catalogue of {current.name!r}, not of {manifest.name!r}")
        updated = with_entry(current, manifest.name, entry, where)
        if updated is None:
            return False
        try:
            benchmark.replace_tagged(INDEX, dump_catalogue(updated), tag)
            return True
        except ChangedMeanwhile:
            time.sleep(random.uniform(0, min(0.02 * 2 ** attempt, 1.0)))  # jitter: racers spread out
    raise CatalogueError(f"{where}: lost the race to update it {CAS_ATTEMPTS} times in a row; rerun to record "
                         f"version {manifest.version}")


def manifest_sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
