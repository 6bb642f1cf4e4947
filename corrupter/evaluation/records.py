"""What an unfinished evaluation keeps under RESULTS_DIR so that a killed one resumes:

    _work/evaluation.json       which release (manifest sha256) and which model: written first, once
    _work/shards/SHARD.json     one record per finished shard: its counts

Both are create-once. A RESULTS_DIR whose work area belongs to another release or model is refused
(its counts must never be mixed into these results), and so is one that holds results.json already.
The work area is removed once results.json is written.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from pydantic import ValidationError

from ..io.errors import AlreadyExists, NotFound, StorageError
from ..io.storage import Storage
from ..release._schema import Closed, Count, Sha256
from .worker import ShardCounts

RESULTS = "results.json"
WORK = "_work"
IDENTITY = f"{WORK}/evaluation.json"
RECORDS = f"{WORK}/shards"


class ResultsExist(StorageError):
    """RESULTS_DIR holds finished results (results.json), or the work area of another evaluation."""


class Identity(Closed):
    """What is being evaluated: records are valid only for the same release bytes and model."""

    release_uri: str
    manifest_sha256: Sha256
    model: dict[str, str | None]


class ShardRecord(Closed):
    manifest_sha256: Sha256
    model: dict[str, str | None]
    shard: str
    samples: Count
    top1_correct: Count
    top5_correct: Count
    parameters_sha256: Sha256
    device: str


def record_path(shard: str) -> str:
    return posixpath.join(RECORDS, shard + ".json")


def refuse_finished(results: Storage) -> None:
    if results.exists(RESULTS):
        raise ResultsExist(f"{results.uri}/{RESULTS} already exists: results are written once; choose another "
                           f"--out (or delete that directory to evaluate again)")


def claim(results: Storage, identity: Identity) -> None:
    """Start, or resume, the evaluation ``identity`` in ``results``; refuse another one's work area."""
    refuse_finished(results)
    data = json.dumps(identity.model_dump(), sort_keys=True).encode()
    try:
        results.write_bytes(IDENTITY, data)
        return
    except AlreadyExists:
        pass
    where = f"{results.uri}/{IDENTITY}"
    try:
        earlier = Identity.model_validate(json.loads(results.read_bytes(IDENTITY)))
    except (ValueError, ValidationError) as exc:
        raise ResultsExist(f"{where}: not an evaluation's record ({str(exc).splitlines()[0]}); "
                           f"choose another --out") from None
    if earlier.manifest_sha256 != identity.manifest_sha256 or earlier.model != identity.model:
        raise ResultsExist(
            f"{results.uri} holds an unfinished evaluation of another release or model ({_describe(earlier)}; "
            f"this one: {_describe(identity)}): its counts cannot be mixed in. Choose another --out, or rerun "
            f"that evaluation to finish it")


def _describe(identity: Identity) -> str:
    weights = f", weights {identity.model['weights']}" if identity.model.get("weights") else ""
    return (f"{identity.model['spec']}{weights} on {identity.release_uri}, manifest sha256 "
            f"{identity.manifest_sha256[:12]}")


def write_record(results: Storage, identity: Identity, counts: ShardCounts) -> None:
    """Keep one finished shard's counts (create-once; a record already there is the same shard's)."""
    record = ShardRecord(manifest_sha256=identity.manifest_sha256, model=identity.model, shard=counts.shard,
                         samples=counts.samples, top1_correct=counts.top1_correct,
                         top5_correct=counts.top5_correct, parameters_sha256=counts.parameters_sha256,
                         device=counts.device)
    try:
        results.write_bytes(record_path(counts.shard), json.dumps(record.model_dump(), sort_keys=True).encode())
    except AlreadyExists:
        pass


def read_records(results: Storage, identity: Identity, shards: set[str]) -> dict[str, ShardRecord]:
    """The records of ``shards`` finished earlier, each checked to be of this release and model."""
    found: dict[str, ShardRecord] = {}
    for shard in sorted(shards):
        path = record_path(shard)
        try:
            data = results.read_bytes(path)
        except NotFound:
            continue
        try:
            record = ShardRecord.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise ResultsExist(f"{results.uri}/{path}: not a shard record ({str(exc).splitlines()[0]}); "
                               f"delete it to count that shard again") from None
        if (record.manifest_sha256, record.model, record.shard) != (identity.manifest_sha256, identity.model, shard):
            raise ResultsExist(f"{results.uri}/{path}: a record of another release, model or shard; delete it "
                               f"to count that shard again")
        found[shard] = record
    return found


def clear_work(results: Storage) -> None:
    """Remove the work area (after results.json is written): a finished RESULTS_DIR holds results only."""
    results.delete(sorted(results.list(WORK)))


def as_counts(record: ShardRecord) -> dict[str, Any]:
    return {"samples": record.samples, "top1_correct": record.top1_correct, "top5_correct": record.top5_correct}
