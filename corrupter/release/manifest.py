"""The release manifest: its schema (a pydantic model with the format version), how it is built from
the per-shard receipts, and how it is read back. Written last: the commit marker of a release."""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from ..io.errors import NotFound
from ..io.storage import Storage
from ._schema import Closed, Count, Sha256
from .errors import ManifestError, ReleaseNotFinished
from .layout import CONFIG_MARKER, MANIFEST, WORK, check_file_path, check_release_path
from .receipts import Receipt

# /2 adds ``files``: the metadata written with the release (README.md, croissant.json, _info.json...).
# A /1 manifest (no metadata files) is still read, as a release with no files.
FORMAT = "corrupter-release/2"
FORMATS = ("corrupter-release/1", FORMAT)


class ShardSource(Closed):
    uri: str
    sha256: Sha256


class ShardEntry(Closed):
    path: Annotated[str, AfterValidator(check_release_path)]
    corruption: str
    variant: str
    level: Annotated[int, Field(ge=1)] | None
    params: dict[str, Any]
    sha256: Sha256
    bytes: Count
    samples: Count
    source: ShardSource  # last: the order fields are written in (same config, same bytes)


class SourceEntry(Closed):
    uri: str
    sha256: Sha256
    bytes: Count
    samples_read: Count
    samples_selected: Count  # by input.select (all read without one); read - selected were left out
    samples_quarantined: Count
    errors: list[str]
    samples_ok: Count  # written: selected - quarantined


class FileEntry(Closed):
    """A file of the release other than a shard (its metadata: the card, croissant.json, _info.json...)."""

    path: Annotated[str, AfterValidator(check_file_path)]
    sha256: Sha256
    bytes: Count


class QuarantineEntry(Closed):
    source: str
    key: str
    reason: str


class Totals(Closed):
    shards: Count
    samples: Count
    bytes: Count
    sources: Count
    source_samples_read: Count
    source_samples_selected: Count
    source_samples_quarantined: Count


class ReleaseManifest(Closed):
    """manifest.json of format corrupter-release/2 (or /1, which has no ``files``); ``config`` is
    checked by verify (it needs the config models and the corruption registry)."""

    format: Literal["corrupter-release/1", "corrupter-release/2"]
    name: str
    version: str
    created: str
    config: dict[str, Any]
    config_digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    software: dict[str, str]
    device_type: str
    seed_scheme: str
    sources: list[SourceEntry]
    shards: list[ShardEntry]
    quarantined: list[QuarantineEntry]
    totals: Totals
    files: list[FileEntry] = []  # written before the manifest, sorted by path; none in format /1

    @model_validator(mode="before")
    @classmethod
    def _files_by_format(cls, data: Any) -> Any:
        """Format /2 must list its files (even none), format /1 cannot: neither is left to a default."""
        if isinstance(data, dict):
            if data.get("format") == FORMAT and "files" not in data:
                raise ValueError(f"files: required in format {FORMAT}")
            if data.get("format") == FORMATS[0] and "files" in data:
                raise ValueError(f"files: not part of format {FORMATS[0]}")
        return data

    def with_files(self, files: Iterable[FileEntry]) -> ReleaseManifest:
        """This manifest listing ``files`` (sorted by path; a path listed twice is refused)."""
        ordered = sorted(files, key=lambda f: f.path)
        paths = [f.path for f in ordered]
        if len(set(paths)) != len(paths) or set(paths) & {s.path for s in self.shards}:
            raise ValueError(f"a metadata file is listed twice, or has a shard's path: {paths}")
        return self.model_copy(update={"files": ordered})


def software_versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import torchvision

    from .._version import __version__

    return {"corrupter": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "pillow": PIL.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def build_manifest(*, name: str, version: str, config: dict[str, Any], digest: str, seed_scheme: str,
                   receipts: Iterable[Receipt]) -> ReleaseManifest:
    """Assemble the manifest from the per-shard receipts; order-independent, so deterministic.

    Every unit that reads an input shard reports the same samples set aside, so the quarantine of a
    source is taken once (from its first receipt by path), not once per unit; a sample is one entry
    even when its key repeats in the shard (duplicate keys are separate samples). Totals are sums of
    the per-source counts. Refuses receipts that disagree about an input shard (it changed between a
    run and its resume) and records the device type the shards were computed on ("mixed" if a resume
    changed it).
    """
    receipts = sorted(receipts, key=lambda r: r.path)
    shards: list[dict[str, Any]] = []
    sources: dict[str, dict[str, Any]] = {}
    quarantined: dict[str, list[dict[str, str]]] = {}
    devices = sorted({r.device_type for r in receipts})
    for r in receipts:
        src = r.source.uri
        keys = [q.key for q in r.quarantined]
        earlier = sources.get(src)
        if earlier is None:
            sources[src] = {"uri": src, "sha256": r.source.sha256, "bytes": r.source.bytes,
                            "samples_read": r.samples_read, "samples_selected": r.samples_selected,
                            "samples_quarantined": len(keys), "errors": list(r.source.errors)}
            quarantined[src] = [{"source": src, "key": q.key, "reason": q.reason} for q in r.quarantined]
        elif ((earlier["sha256"], earlier["samples_read"], earlier["samples_selected"])
              != (r.source.sha256, r.samples_read, r.samples_selected)):
            raise ValueError(f"input shard {src} changed while the release was being built "
                             f"(sha256 {earlier['sha256']} for some outputs, {r.source.sha256} for "
                             f"{r.path}); build a new version from the current input")
        elif [q["key"] for q in quarantined[src]] != keys:
            raise ValueError(f"input shard {src}: the units that read it set aside different samples "
                             f"({len(quarantined[src])} and {len(keys)} for {r.path}); the reader is not "
                             f"deterministic, please report this")
        shards.append({"path": r.path, "corruption": r.corruption, "variant": r.variant, "level": r.level,
                       "params": r.params, "sha256": r.sha256, "bytes": r.bytes, "samples": r.samples,
                       "source": {"uri": src, "sha256": r.source.sha256}})
    for s in sources.values():
        s["samples_ok"] = s["samples_selected"] - s["samples_quarantined"]
    ordered = sorted(sources.values(), key=lambda s: s["uri"])
    return ReleaseManifest.model_validate({
        "format": FORMAT,
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "config": config,
        "config_digest": digest,
        "software": software_versions(),
        "device_type": "mixed" if len(devices) > 1 else (devices[0] if devices else "none"),
        "seed_scheme": seed_scheme,
        "sources": ordered,
        "shards": shards,
        "quarantined": [q for s in ordered for q in quarantined[s["uri"]]],  # reading order per source
        "totals": totals_of(shards, ordered),
        "files": [],  # the metadata, written just before the commit (ReleaseManifest.with_files)
    })


def totals_of(shards: list[dict[str, Any]], sources: list[dict[str, Any]]) -> dict[str, int]:
    """The manifest's totals, from its shards and sources (verify recomputes them the same way)."""
    return {
        "shards": len(shards),
        "samples": sum(s["samples"] for s in shards),
        "bytes": sum(s["bytes"] for s in shards),
        "sources": len(sources),
        "source_samples_read": sum(s["samples_read"] for s in sources),
        "source_samples_selected": sum(s["samples_selected"] for s in sources),
        "source_samples_quarantined": sum(s["samples_quarantined"] for s in sources),
    }


def dump_manifest(manifest: ReleaseManifest) -> bytes:
    """manifest.json's bytes: fields in the schema's order, two-space indented."""
    fields = manifest.model_dump(exclude={"files"} if manifest.format == FORMATS[0] else set())
    return (json.dumps(fields, indent=2, sort_keys=False) + "\n").encode()


def parse_manifest(data: bytes, where: str) -> ReleaseManifest:
    """The manifest in ``data`` checked against the schema; ManifestError names what is wrong."""
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: not a JSON object")
    if raw.get("format") not in FORMATS:
        raise ManifestError(f"{where}: unknown format {str(raw.get('format'))[:80]!r} (this corrupter reads "
                            f"{' and '.join(FORMATS)})")
    try:
        return ReleaseManifest.model_validate(raw)
    except ValidationError as exc:
        problems = [f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                    for err in exc.errors()[:20]]
        more = f"\n  ... and {exc.error_count() - 20} more" if exc.error_count() > 20 else ""
        raise ManifestError(f"{where}: invalid manifest\n" + "\n".join(problems) + more) from None


def read_manifest(release: Storage) -> ReleaseManifest:
    """The release's manifest, checked against the schema (ManifestError, ReleaseNotFinished)."""
    return parse_manifest(manifest_bytes(release), f"{release.uri}/{MANIFEST}")


def manifest_bytes(release: Storage) -> bytes:
    """manifest.json as stored. ReleaseNotFinished when there is none; its message tells an unfinished
    release (which `corrupter run` resumes) from no release at all."""
    try:
        return release.read_bytes(MANIFEST)
    except NotFound:
        if release.exists(CONFIG_MARKER):
            raise ReleaseNotFinished(
                f"{release.uri} is an unfinished release (no {MANIFEST} yet, its work area {WORK}/ is there): "
                f"rerun `corrupter run` with the config that started it to resume and finish it") from None
        raise ReleaseNotFinished(
            f"{release.uri}: no {MANIFEST} (not a finished release): nothing is there, or a release whose "
            f"build has not finished, which `corrupter run` with its config resumes") from None
