"""Receipts: typed on the way out and on the way back; an old receipt (before input.select) reads as
having kept every sample; one that does not parse is redone on resume, not trusted and not fatal."""

from __future__ import annotations

import json

import pytest

from corrupter.io.storage import LocalStorage
from corrupter.release.layout import receipt_path
from corrupter.release.lifecycle import completed_receipts
from corrupter.release.receipts import Receipt, dump_receipt, parse_receipt

RECEIPT = {"path": "fog/1/val-000000.tar", "corruption": "fog", "variant": "1", "level": 1,
           "params": {"strength": 1.5, "decay": 2.0}, "sha256": "0" * 64, "bytes": 10, "samples": 2,
           "samples_read": 3, "samples_selected": 3, "device_type": "cpu",
           "quarantined": [{"key": "k", "reason": "undecodable image"}],
           "source": {"uri": "in.tar", "sha256": "1" * 64, "bytes": 100, "errors": []}}


def test_a_receipt_round_trips():
    receipt = Receipt.model_validate(RECEIPT)
    assert parse_receipt(dump_receipt(receipt), "r.json") == receipt
    assert json.loads(dump_receipt(receipt)) == RECEIPT


def test_a_receipt_from_before_input_select_kept_every_sample():
    old = {k: v for k, v in RECEIPT.items() if k != "samples_selected"}
    assert parse_receipt(json.dumps(old).encode(), "r.json").samples_selected == 3


@pytest.mark.parametrize("data, problem", [
    (b"{not json", "not a receipt"),
    (json.dumps({**RECEIPT, "samples": "2"}).encode(), "not a receipt"),  # strict: no coercion
    (json.dumps({**RECEIPT, "extra": 1}).encode(), "not a receipt"),
])
def test_a_bad_receipt_is_named(data, problem):
    with pytest.raises(ValueError, match=f"_work/receipts/x.json: {problem}"):
        parse_receipt(data, "_work/receipts/x.json")


def test_resume_redoes_the_shard_of_a_receipt_that_does_not_parse(tmp_path, caplog):
    release = LocalStorage(tmp_path)
    release.write_bytes(RECEIPT["path"], b"x" * 10)
    release.write_bytes(receipt_path(RECEIPT["path"]), b"{cut")
    assert completed_receipts(release, {RECEIPT["path"]}) == {}
    assert "not a receipt" in caplog.text and "its shard is redone" in caplog.text
