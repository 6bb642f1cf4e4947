"""`corrupter verify`: every shard re-read against the manifest, and the manifest against itself.

A manifest is not trusted: it must follow the schema (paths that leave the release are refused before
anything is read), its config must still produce its config digest and plan exactly its shards, its
totals and per-source counts must add up, every shard must hash to its sha256 and hold the number
of samples it claims (counted while hashing: one read per shard), and every metadata file (the card,
croissant.json, _info.json...) must hash to its sha256. A file the manifest does not list is reported
(format /2, which lists them all).

Planning a config is the pipeline's (pipeline/plan.py), above this package, so the caller hands in
the planner: ``verify_release(storage, planned_shards)`` with ``corrupter.pipeline.plan.planned_shards``.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..config import ConfigError, ReleaseConfig, validate_config
from ..config.loading import identity_digest
from ..io.errors import NotFound, StorageError
from ..io.shards import HashingReader, split_member_name
from ..io.storage import Storage
from .layout import MANIFEST
from .manifest import FORMATS, ReleaseManifest, read_manifest, totals_of


@dataclass
class Mismatch:
    path: str
    problem: str


@dataclass(frozen=True)
class PlannedShard:
    """What a config makes at one shard path, as the planner says."""

    path: str
    corruption: str
    variant: str
    level: int | None
    params: dict[str, Any]
    source: str  # the input shard's URI


Planner = Callable[[ReleaseConfig], Iterable[PlannedShard]]


def verify_release(release: Storage, planner: Planner) -> tuple[ReleaseManifest, list[Mismatch]]:
    """The manifest (schema-checked; ManifestError otherwise) and every problem found."""
    manifest = read_manifest(release)
    problems = check_config(manifest, planner) + check_counts(manifest)
    listed = set()
    for shard in manifest.shards:
        listed.add(shard.path)
        samples, problem = read_against(release, shard.path, shard.bytes, shard.sha256, digest_and_count)
        if problem is not None:
            problems.append(problem)
        elif samples is None:
            problems.append(Mismatch(shard.path, "not a readable tar archive"))
        elif samples != shard.samples:
            problems.append(Mismatch(shard.path, f"holds {samples} samples, manifest says {shard.samples}"))
    problems += check_files(release, manifest)
    files = {f.path for f in manifest.files}
    for rel in release.list():
        if rel.endswith(".tar") and rel not in listed:
            problems.append(Mismatch(rel, "shard not listed in the manifest"))
        elif (not rel.endswith(".tar") and rel not in files and rel != MANIFEST
              and manifest.format != FORMATS[0]):
            problems.append(Mismatch(rel, "file not listed in the manifest"))
    return manifest, problems


def check_files(release: Storage, manifest: ReleaseManifest) -> list[Mismatch]:
    """Every metadata file the manifest lists is there, with its size and sha256."""
    found = (read_against(release, f.path, f.bytes, f.sha256, digest_and_size) for f in manifest.files)
    return [problem for _, problem in found if problem is not None]


def read_against(release: Storage, path: str, size: int, sha256: str,
                 read: Callable[[BinaryIO], tuple[str, int, Any]]) -> tuple[Any, Mismatch | None]:
    """Read one listed object with ``read(fh) -> (sha256, size, extra)``: (extra, None) when it has
    the manifest's size and sha256, else (None, the problem: missing, unreadable, size, sha256)."""
    try:
        with release.open_read(path) as fh:
            digest, found, extra = read(fh)
    except NotFound:
        return None, Mismatch(path, "missing")
    except StorageError as exc:
        return None, Mismatch(path, f"unreadable ({exc})")
    if found != size:
        return None, Mismatch(path, f"size {found} != manifest {size}")
    if digest != sha256:
        return None, Mismatch(path, f"sha256 {digest} != manifest {sha256}")
    return extra, None


def digest_and_size(fh: BinaryIO) -> tuple[str, int, None]:
    """(sha256 hex, size, None) of any object, in one pass."""
    reader = HashingReader(fh)
    reader.drain()
    return reader.sha256.hexdigest(), reader.bytes, None


def digest_and_count(fh: BinaryIO) -> tuple[str, int, int | None]:
    """(sha256 hex, size, samples) of a shard in one pass; samples is None if it is not a tar.
    A sample is a run of adjacent members with one key (how WebDataset groups them)."""
    reader = HashingReader(fh)
    samples: int | None = 0
    try:
        last = None
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[arg-type]
            for info in tar:
                parts = split_member_name(info.name) if info.isfile() else None
                if parts is not None and parts[0] != last:
                    samples, last = (samples or 0) + 1, parts[0]
    except (tarfile.TarError, EOFError):
        samples = None
    reader.drain()
    return reader.sha256.hexdigest(), reader.bytes, samples


def check_config(manifest: ReleaseManifest, planner: Planner) -> list[Mismatch]:
    """The config must still give the recorded digest, be a config this tool reads, name this
    release, and plan exactly the manifest's shards."""
    problems = []
    digest = identity_digest(manifest.config)
    if digest != manifest.config_digest:
        problems.append(Mismatch(MANIFEST, f"config_digest {manifest.config_digest} does not match the "
                                           f"manifest's config ({digest}): the config was edited"))
    try:
        config = validate_config(manifest.config, "the manifest's config")
        planned = {p.path: p for p in planner(config)}
    except (ConfigError, ValueError, KeyError) as exc:
        return problems + [Mismatch(MANIFEST, f"config is not a valid release config: {exc}")]
    if (config.name, config.version) != (manifest.name, manifest.version):
        problems.append(Mismatch(MANIFEST, f"name/version {manifest.name}/{manifest.version} differ from the "
                                           f"config's {config.name}/{config.version}"))
    if config.input.select is None:
        for source in manifest.sources:
            if source.samples_selected != source.samples_read:
                problems.append(Mismatch(MANIFEST, f"source {source.uri}: {source.samples_selected} of "
                                                   f"{source.samples_read} samples selected, but the config "
                                                   f"selects every sample (no input.select)"))
    listed = {s.path: s for s in manifest.shards}
    for path in sorted(set(planned) - set(listed)):
        problems.append(Mismatch(path, "an output of the config, missing from the manifest"))
    for path in sorted(set(listed) - set(planned)):
        problems.append(Mismatch(path, "listed in the manifest, but not an output of its config"))
    for path in sorted(set(listed) & set(planned)):
        plan, shard = planned[path], listed[path]
        expected = (plan.corruption, plan.variant, plan.level, json.loads(json.dumps(plan.params)), plan.source)
        found = (shard.corruption, shard.variant, shard.level, shard.params, shard.source.uri)
        if found != expected:
            problems.append(Mismatch(path, f"recorded as {found}, the config makes {expected}"))
    return problems


def check_counts(manifest: ReleaseManifest) -> list[Mismatch]:
    """Per-source counts add up, every shard holds its source's written samples, totals are sums."""
    problems = []
    counts = Counter(s.path for s in manifest.shards)
    for path in sorted(p for p, n in counts.items() if n > 1):
        problems.append(Mismatch(path, "listed more than once"))
    sources = {s.uri: s for s in manifest.sources}
    if len(sources) != len(manifest.sources):
        problems.append(Mismatch(MANIFEST, "an input shard is listed more than once in sources"))
    set_aside: dict[str, int] = {}
    for q in manifest.quarantined:
        set_aside[q.source] = set_aside.get(q.source, 0) + 1
    for uri in sorted(set(set_aside) - set(sources)):
        problems.append(Mismatch(MANIFEST, f"quarantined samples of {uri}, which is not among the sources"))
    for uri, source in sources.items():
        if source.samples_selected > source.samples_read:
            problems.append(Mismatch(MANIFEST, f"source {uri}: samples_selected {source.samples_selected} > read "
                                               f"{source.samples_read}"))
        if source.samples_ok != source.samples_selected - source.samples_quarantined:
            problems.append(Mismatch(MANIFEST, f"source {uri}: samples_ok {source.samples_ok} != selected "
                                               f"{source.samples_selected} - quarantined {source.samples_quarantined}"))
        if set_aside.get(uri, 0) != source.samples_quarantined:
            problems.append(Mismatch(MANIFEST, f"source {uri}: {set_aside.get(uri, 0)} quarantined samples listed, "
                                               f"samples_quarantined says {source.samples_quarantined}"))
    for shard in manifest.shards:
        source = sources.get(shard.source.uri)
        if source is None:
            problems.append(Mismatch(shard.path, f"its source {shard.source.uri} is not among the sources"))
        elif source.sha256 != shard.source.sha256:
            problems.append(Mismatch(shard.path, f"source sha256 {shard.source.sha256} != the source's "
                                                 f"{source.sha256}"))
        elif shard.samples != source.samples_ok:
            problems.append(Mismatch(shard.path, f"samples {shard.samples} != the {source.samples_ok} samples "
                                                 f"written from {shard.source.uri}"))
    unused = set(sources) - {s.source.uri for s in manifest.shards}
    for uri in sorted(unused):
        problems.append(Mismatch(MANIFEST, f"source {uri} has no shard"))
    expected = totals_of([s.model_dump() for s in manifest.shards], [s.model_dump() for s in manifest.sources])
    recorded = manifest.totals.model_dump()
    for name in sorted(expected):
        if recorded[name] != expected[name]:
            problems.append(Mismatch(MANIFEST, f"totals.{name} {recorded[name]} != {expected[name]} (from the "
                                               f"shards and sources)"))
    return problems
