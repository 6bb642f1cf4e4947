"""`corrupter publish` between directories, and `corrupter diff`: every object checked against the
manifest on the way, manifest last, a rerun completes a partial copy, a different release at the
destination and a tampered or unfinished source are refused. (Against S3: tests/s3/test_s3_publish.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from corrupter.io.errors import TransientStorageError
from corrupter.io.storage import LocalStorage
from corrupter.publish.copy import publish_release
from corrupter.release import ReleaseNotFinished, ShardMismatch
from corrupter.release.catalogue import read_catalogue
from corrupter.release.diff import diff_releases
from corrupter.release.errors import ReleaseExistsError
from corrupter.release.manifest import read_manifest
from tests.conftest import run_cli
from tests.publish.builds import BASE, build, object_count, writable_copy


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """1.0.0; 1.1.0 adds one corruption; 2.0.0 changes the seed (recorded in every sample's json, so
    every shard has other bytes)."""
    out = tmp_path_factory.mktemp("out")
    return {"1.0.0": build(out, "1.0.0"),
            "1.1.0": build(out, "1.1.0", BASE + [{"name": "high_pass", "severities": [1]}]),
            "2.0.0": build(out, "2.0.0", seed="7")}


def files(release: Path) -> dict[str, str]:
    return {p.relative_to(release).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(release.rglob("*")) if p.is_file()}


def test_publish_copies_every_object_and_records_the_version(built, tmp_path):
    summary = publish_release(str(built["1.0.0"]), str(tmp_path / "dest"))
    target = tmp_path / "dest" / "t" / "1.0.0"
    assert summary.destination == str(target) and summary.copied == object_count(built["1.0.0"]) > 3
    assert summary.skipped == 0
    assert files(target) == files(built["1.0.0"])
    assert [e.version for e in read_catalogue(LocalStorage(tmp_path / "dest" / "t")).versions] == ["1.0.0"]
    again = publish_release(str(built["1.0.0"]), str(tmp_path / "dest"))
    assert again.already_published and not again.catalogued and again.copied == 0


def test_a_fault_in_the_middle_leaves_no_release_and_a_rerun_completes_it(built, tmp_path, monkeypatch):
    calls = []
    real = LocalStorage.publish_stream

    def failing(self, rel, fh, size, sha256):
        calls.append(rel)
        if len(calls) == 2:
            raise TransientStorageError(f"{rel}: connection lost")
        return real(self, rel, fh, size, sha256)

    monkeypatch.setattr("corrupter.publish.copy.OBJECT_THREADS", 1)
    monkeypatch.setattr(LocalStorage, "publish_stream", failing)
    with pytest.raises(TransientStorageError, match="connection lost"):
        publish_release(str(built["1.1.0"]), str(tmp_path / "dest"))
    target = tmp_path / "dest" / "t" / "1.1.0"
    present = files(target)  # the first object, and maybe one started before the failure stopped the rest
    assert calls[0] in present and calls[1] not in present and "manifest.json" not in present  # not a release
    total = object_count(built["1.1.0"])
    assert len(present) < total and not (tmp_path / "dest" / "t" / "index.json").exists()
    monkeypatch.undo()
    summary = publish_release(str(built["1.1.0"]), str(tmp_path / "dest"))
    assert (summary.copied, summary.skipped) == (total - len(present), len(present))
    assert files(target) == files(built["1.1.0"])


def test_a_tampered_source_is_refused_naming_the_object(built, tmp_path):
    source = writable_copy(built["1.0.0"], tmp_path / "src" / "t" / "1.0.0")
    victim = source / "fog" / "1" / "val-000000.tar"
    data = bytearray(victim.read_bytes())
    data[700] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(ShardMismatch, match=r"fog/1/val-000000.tar does not match the manifest \(.*sha256"):
        publish_release(str(source), str(tmp_path / "dest"))
    target = tmp_path / "dest" / "t" / "1.0.0"
    assert "fog/1/val-000000.tar" not in files(target) and "manifest.json" not in files(target)
    assert not list(target.rglob(".*"))  # no staging file left behind


def test_an_unfinished_source_is_refused(tmp_path):
    (tmp_path / "t" / "1.0.0" / "_work").mkdir(parents=True)
    (tmp_path / "t" / "1.0.0" / "_work" / "config.json").write_text("{}")
    with pytest.raises(ReleaseNotFinished, match="unfinished release"):
        publish_release(str(tmp_path / "t" / "1.0.0"), str(tmp_path / "dest"))


def test_a_different_release_at_the_destination_is_refused(built, tmp_path):
    dest = tmp_path / "dest"
    other = writable_copy(built["2.0.0"], dest / "t" / "1.0.0")  # another release under the same version
    with pytest.raises(ReleaseExistsError, match="holds a different release"):
        publish_release(str(built["1.0.0"]), str(dest))
    (other / "manifest.json").unlink()  # a partial copy of the other release
    with pytest.raises(ReleaseExistsError, match=r"/val-000000.tar exists with other bytes"):
        publish_release(str(built["1.0.0"]), str(dest))
    for shard in other.rglob("*.tar"):
        shard.unlink()
    (other / "extra.txt").write_text("x")
    with pytest.raises(ReleaseExistsError, match=r"not part of this release \(extra.txt\)"):
        publish_release(str(built["1.0.0"]), str(dest))
    assert not (other / "manifest.json").exists()


def test_the_metadata_files_the_manifest_lists_are_copied_and_checked_like_shards(built, tmp_path):
    target = tmp_path / "dest" / "t" / "1.0.0"
    publish_release(str(built["1.0.0"]), str(tmp_path / "dest"))
    assert {"README.md", "croissant.json", "fog/1/_info.json"} <= set(files(target))
    source = writable_copy(built["1.0.0"], tmp_path / "src" / "t" / "1.0.0")
    (source / "README.md").write_text("# another card\n")
    with pytest.raises(ShardMismatch, match="README.md does not match the manifest"):
        publish_release(str(source), str(tmp_path / "dest2"))
    assert not (tmp_path / "dest2" / "t" / "1.0.0" / "README.md").exists()


def test_diff_says_whether_b_holds_a_with_the_same_bytes(built):
    read = {v: read_manifest(LocalStorage(p)) for v, p in built.items()}
    superset = diff_releases(read["1.0.0"], read["1.1.0"], "a", "b")
    assert superset.b_holds_a and superset.added == ["high_pass/1/val-000000.tar"]
    assert superset.cells_added == ["high_pass/1"] and superset.same == 3 and not superset.changed
    assert {name for name, _, _ in superset.config} == {"version", "corruptions.high_pass"}
    assert superset.verdict("A", "B").startswith("SUPERSET")
    reseeded = diff_releases(read["1.0.0"], read["2.0.0"], "a", "b")
    assert reseeded.changed == ["clean/1/val-000000.tar", "contrast/1/val-000000.tar", "fog/1/val-000000.tar"]
    assert reseeded.same == 0 and not reseeded.b_holds_a and not reseeded.cells_added
    assert [(n, x, y) for n, x, y in reseeded.config if n != "version"] == [("seed", "0", "7")]
    assert diff_releases(read["1.1.0"], read["1.0.0"], "a", "b").removed == ["high_pass/1/val-000000.tar"]
    same = diff_releases(read["1.0.0"], read["1.0.0"], "a", "b")
    assert same.verdict("A", "B").startswith("IDENTICAL SHARDS") and not same.config and not same.files_changed
    assert "README.md" in reseeded.files_changed  # the card names its config and version: listed, not decisive
    assert "README.md" in superset.files_changed and superset.b_holds_a


def test_the_diff_command_prints_a_verdict_and_exits_by_it(built):
    superset = run_cli("diff", str(built["1.0.0"]), str(built["1.1.0"]))
    assert superset.returncode == 0, superset.stderr
    assert "cells added (1):\n  high_pass/1" in superset.stdout
    assert superset.stdout.splitlines()[-1].startswith("SUPERSET: B holds every one of the 3 shards of A")
    changed = run_cli("diff", str(built["1.0.0"]), str(built["2.0.0"]))
    assert changed.returncode == 1, changed.stderr
    assert "shards with different bytes (3):\n  clean/1/val-000000.tar" in changed.stdout
    assert "seed: \"0\" -> \"7\"" in changed.stdout and changed.stdout.splitlines()[-1].startswith("DIFFERENT")


def test_publishing_inside_a_release_is_refused_and_onto_its_own_root_only_records_it(built, tmp_path):
    with pytest.raises(ReleaseExistsError, match="is inside the release"):
        publish_release(str(built["1.0.0"]), str(built["1.0.0"]))
    assert not (built["1.0.0"] / "t").exists()
    output = writable_copy(built["1.0.0"].parent.parent, tmp_path / "out")
    (output / "t" / "index.json").unlink()  # a run whose catalogue update failed: publish records it
    summary = publish_release(str(output / "t" / "1.0.0"), str(output))
    assert summary.already_published and summary.catalogued and summary.copied == 0
    assert [e.version for e in read_catalogue(LocalStorage(output / "t")).versions] == ["1.0.0"]
