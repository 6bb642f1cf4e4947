"""`corrupter verify` trusts nothing in the manifest: config digest, totals, per-shard sample counts,
the schema, and paths that would leave the release (refused before anything is read)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from corrupter.cli.main import main as corrupter_main
from corrupter.io.errors import StorageError
from corrupter.io.storage import LocalStorage
from tests.pipeline.releases import build_release, small_config


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_release(small_config(tmp_path_factory.mktemp("built")))


@pytest.fixture
def release(built, tmp_path) -> Path:
    """A copy of the built release whose manifest the test may edit."""
    copy = tmp_path / "release"
    shutil.copytree(built, copy)
    os.chmod(copy / "manifest.json", 0o644)
    return copy


def edit(release: Path, change) -> None:
    manifest = json.loads((release / "manifest.json").read_text())
    change(manifest)
    (release / "manifest.json").write_text(json.dumps(manifest, indent=2))


def verify(release: Path, capsys) -> tuple[int, str]:
    code = corrupter_main(["verify", str(release)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_untouched_release_verifies(release, capsys):
    code, out = verify(release, capsys)
    assert code == 0 and "OK  2 shards, 6 samples" in out


def test_an_edited_config_no_longer_matches_its_digest(release, capsys):
    edit(release, lambda m: m["config"].update(seed="7"))
    code, out = verify(release, capsys)
    assert code == 1 and "MISMATCH  manifest.json: config_digest" in out and "the config was edited" in out


def test_totals_are_recomputed(release, capsys):
    edit(release, lambda m: m["totals"].update(samples=999999))
    code, out = verify(release, capsys)
    assert code == 1 and "totals.samples 999999 != 6" in out


def test_each_shard_is_counted_while_it_is_hashed(release, capsys):
    def fewer(manifest):
        manifest["shards"][0]["samples"] = 2
        manifest["totals"]["samples"] -= 1

    edit(release, fewer)
    code, out = verify(release, capsys)
    assert code == 1 and "holds 3 samples, manifest says 2" in out


def test_a_shard_the_config_does_not_make_is_named(release, capsys):
    def renamed(manifest):
        shard = manifest["shards"][1]
        (release / "contrast" / "9").mkdir()
        shutil.copy(release / shard["path"], release / "contrast" / "9" / "val-000000.tar")
        shard["path"] = "contrast/9/val-000000.tar"

    edit(release, renamed)
    code, out = verify(release, capsys)
    assert code == 1 and "contrast/9/val-000000.tar: listed in the manifest, but not an output of its config" in out
    assert "contrast/2/val-000000.tar: an output of the config, missing from the manifest" in out


def test_a_manifest_without_shards_is_named_as_such(release, capsys):
    edit(release, lambda m: m.pop("shards"))
    code, out = verify(release, capsys)
    assert code == 2 and "invalid manifest" in out and "shards: Field required" in out and "Traceback" not in out


@pytest.mark.parametrize("path", ["../outside.tar", "../../../../etc/hostname", "/etc/hostname",
                                  "contrast\\..\\..\\outside.tar", "_work/receipts/x.tar", "C:/outside.tar",
                                  "contrast/./1/val-000000.tar"])
def test_a_path_that_leaves_the_release_is_refused_unread(release, capsys, monkeypatch, path):
    outside = release.parent / "outside.tar"
    outside.write_bytes(b"\0" * 1024)  # an empty tar: a plausible shard of 0 samples
    opened = []
    real_open = LocalStorage.open_read
    monkeypatch.setattr(LocalStorage, "open_read", lambda self, rel: opened.append(rel) or real_open(self, rel))

    def add(manifest):
        extra = dict(manifest["shards"][0], path=path, samples=0, bytes=1024,
                     sha256=hashlib.sha256(outside.read_bytes()).hexdigest())
        manifest["shards"].append(extra)
        manifest["totals"].update(shards=3)

    edit(release, add)
    code, out = verify(release, capsys)
    assert code == 2 and "not a path inside the release" in out and "shards.2.path" in out
    assert opened == []


def test_local_storage_never_leaves_its_root(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    store = LocalStorage(tmp_path / "release")
    for rel in ("../secret.txt", "/etc/hostname", "a/../../secret.txt"):
        with pytest.raises(StorageError, match="not a path inside the release"):
            store.read_bytes(rel)
