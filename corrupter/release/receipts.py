"""The receipt of one published shard: what a worker hands back and keeps in ``_work/receipts/`` until
the release is committed, so that a resumed job skips the shard. The manifest is built from them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from ..io.errors import AlreadyExists
from ..io.storage import Storage
from ._schema import Closed, Count, Sha256
from .layout import receipt_path


class ReceiptSource(Closed):
    """The input shard the outputs were made from, as the worker read it."""

    uri: str
    sha256: Sha256
    bytes: Count
    errors: list[str]  # what was wrong with the shard as a whole (a cut, a corrupt header)


class QuarantinedSample(Closed):
    key: str
    reason: str


class Receipt(Closed):
    """One published output shard and what reading its input found."""

    path: str
    corruption: str
    variant: str
    level: Annotated[int, Field(ge=1)] | None
    params: dict[str, Any]
    source: ReceiptSource
    sha256: Sha256
    bytes: Count
    samples: Count  # written to this shard
    samples_read: Count  # read from the input shard: selected + left out by input.select
    samples_selected: Count  # kept by input.select (all read, without one): samples + quarantined
    quarantined: list[QuarantinedSample]
    device_type: str
    # Unix time the shard was published: a record of the job's progress (`corrupter status`), never
    # copied into the manifest, whose bytes say what was made, not when
    published_at: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _selected_by_default(cls, data: Any) -> Any:
        """A receipt written before input.select existed does not say: it kept every sample read."""
        if isinstance(data, dict) and "samples_selected" not in data and "samples_read" in data:
            return {**data, "samples_selected": data["samples_read"]}
        return data


def dump_receipt(receipt: Receipt) -> bytes:
    """The receipt's JSON; without a publication time, the form receipts had before they held one."""
    record = receipt.model_dump(exclude={"published_at"} if receipt.published_at is None else None)
    return json.dumps(record, sort_keys=True).encode()


def parse_receipt(data: bytes, where: str) -> Receipt:
    """The receipt in ``data``; ValueError names what is wrong with it."""
    try:
        return Receipt.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{where}: not a receipt ({str(exc).splitlines()[0]})") from None


def write_receipt(release: Storage, receipt: Receipt) -> None:
    """Keep the receipt (create-once: a retried unit's earlier attempt may have written it already)."""
    try:
        release.write_bytes(receipt_path(receipt.path), dump_receipt(receipt))
    except AlreadyExists:
        pass
