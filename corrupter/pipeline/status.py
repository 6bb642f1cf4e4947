"""Where a release stands, from its own records alone: finished (its manifest), or unfinished (its
claim: the config and the command that started it; its receipts: what is published, and when).
No Ray, no job needed: a running job, a dead one and a finished release are read the same way.

The rate is measured over the latest run (from its start, which each run records, to its latest
receipt: a resumed job's earlier runs do not dilute it), and the ETA is the shards still to publish
at that rate; both are absent until the run has published a shard.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from ..config import ConfigError, validate_config
from ..io.errors import NotFound
from ..io.storage import Storage
from ..release.layout import MANIFEST, RECEIPTS, receipt_path
from ..release.lifecycle import read_claim, run_starts
from ..release.manifest import parse_manifest
from ..release.receipts import Receipt, parse_receipt
from .plan import plan_units


class NotARelease(ValueError):
    """The location holds neither a manifest nor a claim."""


@dataclass
class ReleaseStatus:
    uri: str
    finished: bool
    name: str = ""
    version: str = ""
    config_digest: str = ""
    created: str = ""  # finished: the manifest's
    shards_done: int = 0
    shards_planned: int | None = None  # None: the claim does not record the config
    units_done: int | None = None
    units_planned: int | None = None
    images: int = 0  # samples written to the published shards
    quarantined: int = 0  # finished: input samples set aside
    claimed_at: float | None = None
    run_started_at: float | None = None  # the latest run's start
    last_published_at: float | None = None
    images_per_second: float | None = None
    shards_per_second: float | None = None
    window_seconds: float = 0.0  # from the latest run's start to its latest receipt
    command: list[str] | None = None
    cwd: str | None = None
    problems: list[str] = field(default_factory=list)  # records that did not parse (left out)

    @property
    def shards_pending(self) -> int | None:
        return None if self.shards_planned is None else self.shards_planned - self.shards_done

    def eta_seconds(self) -> float | None:
        if not self.shards_per_second or self.shards_pending is None:
            return None
        return self.shards_pending / self.shards_per_second

    def resume_command(self) -> str | None:
        """The shell command that resumes the release, as it was started; None if it was started
        through the Python API (no command recorded)."""
        if not self.command:
            return None
        line = shlex.join(self.command)
        return f"cd {shlex.quote(self.cwd)} && {line}" if self.cwd else line


def release_status(release: Storage) -> ReleaseStatus:
    """The status of the release at ``release``; NotARelease if there is none there."""
    if release.exists(MANIFEST):
        manifest = parse_manifest(release.read_bytes(MANIFEST), f"{release.uri}/{MANIFEST}")
        return ReleaseStatus(
            uri=release.uri, finished=True, name=manifest.name, version=manifest.version,
            config_digest=manifest.config_digest, created=manifest.created, shards_done=manifest.totals.shards,
            shards_planned=manifest.totals.shards, images=manifest.totals.samples,
            quarantined=manifest.totals.source_samples_quarantined)
    claim = read_claim(release)
    if claim is None:
        raise NotARelease(f"{release.uri} is not a release: it holds neither {MANIFEST} (a finished release) "
                          f"nor _work/config.json (one being built)")
    status = ReleaseStatus(uri=release.uri, finished=False, config_digest=claim.config_digest,
                           claimed_at=claim.claimed_at, command=claim.command, cwd=claim.cwd)
    wanted = _planned_outputs(claim.config, status)
    receipts = _receipts(release, wanted, status)
    status.shards_done = len(receipts)
    status.images = sum(r.samples for r in receipts.values())
    if wanted is not None:
        done = set(receipts)
        status.units_planned = len(wanted)
        status.units_done = sum(1 for outputs in wanted if outputs <= done)
        status.shards_planned = sum(len(outputs) for outputs in wanted)
    starts = run_starts(release) or ([claim.claimed_at] if claim.claimed_at else [])
    status.run_started_at = max(starts, default=None)
    _measure_rate([(r.published_at, r.samples) for r in receipts.values() if r.published_at], status)
    return status


def _planned_outputs(config: dict | None, status: ReleaseStatus) -> list[frozenset[str]] | None:
    """Each unit's output shard paths, planned from the claimed config (None: not recorded)."""
    if config is None:
        return None
    try:
        planned = validate_config(config, "the claimed config")
        status.name, status.version = planned.name, planned.version
        return [frozenset(o.path for o in unit.outputs) for unit in plan_units(planned)]
    except (ConfigError, ValueError) as exc:
        status.problems.append(f"the claimed config does not plan ({str(exc).splitlines()[0]})")
        return None


def _receipts(release: Storage, wanted: list[frozenset[str]] | None, status: ReleaseStatus) -> dict[str, Receipt]:
    """The receipts of published shards, by path (those of the plan, when it is known)."""
    paths = frozenset().union(*wanted) if wanted is not None else None
    found: dict[str, Receipt] = {}
    for rel in release.list(RECEIPTS):
        try:
            receipt = parse_receipt(release.read_bytes(rel), f"{release.uri}/{rel}")
        except NotFound:
            continue  # the job committed meanwhile
        except ValueError as exc:
            status.problems.append(str(exc))
            continue
        if rel == receipt_path(receipt.path) and (paths is None or receipt.path in paths):
            found[receipt.path] = receipt
    return found


def _measure_rate(published: list[tuple[float, int]], status: ReleaseStatus) -> None:
    """Images and shards per second of the latest run: published since it started, over the time
    from its start to its latest receipt."""
    status.last_published_at = max((t for t, _ in published), default=None)
    start = status.run_started_at
    if start is None:
        return
    this_run = [(t, images) for t, images in published if t >= start]
    if not this_run:
        return
    status.window_seconds = max(t for t, _ in this_run) - start
    if status.window_seconds > 0:
        status.images_per_second = sum(images for _, images in this_run) / status.window_seconds
        status.shards_per_second = len(this_run) / status.window_seconds


def as_json(status: ReleaseStatus, now: float) -> str:
    """The status as one JSON object (for scripts): the fields, plus pending, eta and resume."""
    record = {k: v for k, v in status.__dict__.items()}
    record.update(shards_pending=status.shards_pending, eta_seconds=status.eta_seconds(),
                  resume=status.resume_command(),
                  seconds_since_last_shard=None if status.last_published_at is None else now - status.last_published_at)
    return json.dumps(record, sort_keys=True)
