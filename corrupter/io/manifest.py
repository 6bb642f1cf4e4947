"""The release manifest: its schema (a pydantic model with the format version), how it is built from
the per-shard receipts, and how it is read back. Written last: the commit marker of a release."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .storage import NotFound, Storage, StorageError

MANIFEST = "manifest.json"
FORMAT = "corrupter-release/1"

_DRIVE = re.compile(r"^[A-Za-z]:")


class ManifestError(StorageError):
    """A manifest that is not valid JSON, or does not follow the schema; the message names the field."""


def check_release_path(path: str) -> str:
    """A shard path a reader may open: relative, forward slashes, inside the release, not the work
    area. Anything else (``../../etc/hostname``, ``/abs``, ``a\\b``, ``C:x``) is refused before it
    is read."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path or _DRIVE.match(path)
            or any(p in ("", ".", "..") for p in parts) or parts[0] == "_work"):
        raise ValueError(f"{path!r} is not a path inside the release (relative, '/'-separated, no '..', "
                         f"no backslash, not under _work/)")
    if not path.endswith(".tar"):
        raise ValueError(f"{path!r} is not a .tar shard")
    return path


Count = Annotated[int, Field(ge=0)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ShardSource(_Closed):
    uri: str
    sha256: Sha256


class ShardEntry(_Closed):
    path: Annotated[str, AfterValidator(check_release_path)]
    corruption: str
    variant: str
    level: Annotated[int, Field(ge=1)] | None
    params: dict[str, Any]
    source: ShardSource
    sha256: Sha256
    bytes: Count
    samples: Count


class SourceEntry(_Closed):
    uri: str
    sha256: Sha256
    bytes: Count
    samples_read: Count
    samples_selected: Count  # by input.select (all read without one); read - selected were left out
    samples_quarantined: Count
    errors: list[str]
    samples_ok: Count  # written: selected - quarantined


class QuarantineEntry(_Closed):
    source: str
    key: str
    reason: str


class Totals(_Closed):
    shards: Count
    samples: Count
    bytes: Count
    sources: Count
    source_samples_read: Count
    source_samples_selected: Count
    source_samples_quarantined: Count


class ReleaseManifest(_Closed):
    """manifest.json of format corrupter-release/1; ``config`` is checked by verify (it needs the
    config models and the corruption registry)."""

    format: Literal["corrupter-release/1"]
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


def software_versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import torchvision

    from .. import __version__

    return {"corrupter": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "pillow": PIL.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def build_manifest(*, name: str, version: str, config: dict[str, Any], digest: str, seed_scheme: str,
                   receipts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Assemble the manifest from the per-shard receipts; order-independent, so deterministic.

    Every unit that reads an input shard reports the same samples set aside, so the quarantine of a
    source is taken once (from its first receipt by path), not once per unit; a sample is one entry
    even when its key repeats in the shard (duplicate keys are separate samples). Totals are sums of
    the per-source counts. Refuses receipts that disagree about an input shard (it changed between a
    run and its resume) and records the device type the shards were computed on ("mixed" if a resume
    changed it).
    """
    receipts = sorted(receipts, key=lambda r: r["path"])
    shards, sources, quarantined = [], {}, {}
    devices = sorted({r.get("device_type", "cpu") for r in receipts})
    for r in receipts:
        src = r["source"]["uri"]
        keys = [q["key"] for q in r["quarantined"]]
        earlier = sources.get(src)
        if earlier is None:
            sources[src] = {"uri": src, "sha256": r["source"]["sha256"], "bytes": r["source"]["bytes"],
                            "samples_read": r["samples_read"], "samples_selected": _selected(r),
                            "samples_quarantined": len(keys), "errors": r["source"].get("errors", [])}
            quarantined[src] = [{"source": src, "key": q["key"], "reason": q["reason"]} for q in r["quarantined"]]
        elif ((earlier["sha256"], earlier["samples_read"], earlier["samples_selected"])
              != (r["source"]["sha256"], r["samples_read"], _selected(r))):
            raise ValueError(f"input shard {src} changed while the release was being built "
                             f"(sha256 {earlier['sha256']} for some outputs, {r['source']['sha256']} for "
                             f"{r['path']}); build a new version from the current input")
        elif [q["key"] for q in quarantined[src]] != keys:
            raise ValueError(f"input shard {src}: the units that read it set aside different samples "
                             f"({len(quarantined[src])} and {len(keys)} for {r['path']}); the reader is not "
                             f"deterministic, please report this")
        shards.append({k: r[k] for k in ("path", "corruption", "variant", "level", "params", "sha256",
                                         "bytes", "samples")}
                      | {"source": {"uri": src, "sha256": r["source"]["sha256"]}})
    for s in sources.values():
        s["samples_ok"] = s["samples_selected"] - s["samples_quarantined"]
    ordered = sorted(sources.values(), key=lambda s: s["uri"])
    manifest = {
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
    }
    ReleaseManifest.model_validate(manifest)  # what is written is what readers accept
    return manifest


def _selected(receipt: dict[str, Any]) -> int:
    """Samples input.select kept; a receipt that does not say (written before selection existed) kept all."""
    return receipt.get("samples_selected", receipt["samples_read"])


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


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()


def parse_manifest(data: bytes, where: str) -> ReleaseManifest:
    """The manifest in ``data`` checked against the schema; ManifestError names what is wrong."""
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: not a JSON object")
    if raw.get("format") != FORMAT:
        raise ManifestError(f"{where}: unknown format {str(raw.get('format'))[:80]!r} (this corrupter reads {FORMAT})")
    try:
        return ReleaseManifest.model_validate(raw)
    except ValidationError as exc:
        problems = [f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                    for err in exc.errors()[:20]]
        more = f"\n  ... and {exc.error_count() - 20} more" if exc.error_count() > 20 else ""
        raise ManifestError(f"{where}: invalid manifest\n" + "\n".join(problems) + more) from None


def load_manifest(release: Storage) -> dict[str, Any]:
    """The release's manifest as a dict, after checking it against the schema."""
    try:
        data = release.read_bytes(MANIFEST)
    except NotFound:
        raise StorageError(f"{release.uri}: no {MANIFEST} (not a finished release)") from None
    return parse_manifest(data, f"{release.uri}/{MANIFEST}").model_dump(mode="json")
