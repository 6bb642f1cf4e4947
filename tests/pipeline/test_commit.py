"""Where a release may go and how it is committed, without Ray: the loser of a commit race, a work
area cleaned by another run, releases inside (or around) other releases."""

from __future__ import annotations

import json

import pytest

from corrupter.io.storage import LocalStorage
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.errors import ReleaseExistsError, ReleaseFinishedElsewhere
from corrupter.release.layout import CONFIG_MARKER, release_ancestors, release_storage
from corrupter.release.lifecycle import (
    claim_release,
    commit_release,
    completed_receipts,
    refuse_nested_release,
)
from corrupter.release.receipts import dump_receipt
from tests.conftest import run_cli
from tests.pipeline.releases import build_release, small_config


def test_the_loser_of_a_commit_race_is_told_and_leaves_no_work_files(tmp_path):
    config = small_config(tmp_path)
    release = release_storage(config)
    claim_release(config, release)
    receipts = [r for u in plan_units(config) for r in ShardWorker(config, "cpu").run(u).receipts]
    winner = commit_release(config, release, receipts)
    manifest_bytes = (tmp_path / "t" / "1.0.0" / "manifest.json").read_bytes()
    # the loser's workers wrote their receipts after the winner had cleaned up
    for r in receipts:
        release.write_bytes(f"_work/receipts/{r.path}.json", dump_receipt(r))
    with pytest.raises(ReleaseFinishedElsewhere, match="another run finished this release"):
        commit_release(config, release, receipts)
    assert (tmp_path / "t" / "1.0.0" / "manifest.json").read_bytes() == manifest_bytes
    assert not (tmp_path / "t" / "1.0.0" / "_work").exists() and winner.totals.shards == 2


def test_a_claim_that_meets_a_just_finished_release_says_it_is_finished(tmp_path):
    config = small_config(tmp_path)
    release = release_storage(config)
    release.write_bytes(CONFIG_MARKER, b"{}")  # the marker seen by the create-once write...

    class Committed(LocalStorage):  # ...is gone when read: the winner committed and cleaned up
        def read_bytes(self, rel):
            if rel == CONFIG_MARKER:
                (tmp_path / "t" / "1.0.0" / CONFIG_MARKER).unlink()
            return super().read_bytes(rel)

    with pytest.raises(ReleaseExistsError, match="is a finished release"):
        claim_release(config, Committed(release.uri))


def test_receipts_removed_while_being_read_are_skipped(tmp_path):
    config = small_config(tmp_path)
    release = release_storage(config)
    claim_release(config, release)
    ShardWorker(config, "cpu").run(plan_units(config)[0])
    listed = list(release.list("_work/receipts"))
    release.delete(listed)  # another run committed and cleaned up between the listing and the reads

    class Stale(LocalStorage):
        def list(self, prefix=""):
            return iter(listed) if prefix == "_work/receipts" else super().list(prefix)

    assert completed_receipts(Stale(release.uri), {o.path for u in plan_units(config) for o in u.outputs}) == {}


def test_a_release_inside_a_finished_release_is_refused(tmp_path):
    outer = build_release(small_config(tmp_path))
    for inside in (outer, outer / "contrast", outer / "contrast" / "1"):
        config = small_config(inside, version="2.0.0")
        with pytest.raises(ReleaseExistsError, match="inside the finished release"):
            refuse_nested_release(config, release_storage(config))
    assert not (outer / "t").exists()


def test_a_release_around_a_finished_release_is_refused(tmp_path):
    build_release(small_config(tmp_path / "t" / "1.0.0" / "deep"))  # a release at t/1.0.0/deep/t/1.0.0
    config = small_config(tmp_path)
    with pytest.raises(ReleaseExistsError, match="holds another release"):
        refuse_nested_release(config, release_storage(config))


def test_an_unrelated_manifest_above_the_output_is_no_release(tmp_path):
    (tmp_path / "manifest.json").write_text('{"name": "a web app"}')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "manifest.json").write_text("not json")
    config = small_config(tmp_path / "sub")
    refuse_nested_release(config, release_storage(config))


def test_the_levels_above_an_s3_release():
    config = small_config("s3://bucket/a/b")
    assert release_ancestors(config) == ["s3://bucket/a/b/t", "s3://bucket/a/b", "s3://bucket/a", "s3://bucket/"]


def test_the_command_refuses_an_output_inside_a_release_before_any_work(tmp_path):
    outer = tmp_path / "demo" / "1.0.0"
    outer.mkdir(parents=True)
    (outer / "manifest.json").write_text(json.dumps({"format": "corrupter-release/1"}))
    done = run_cli("run", "configs/demo.yaml", "--no-progress", "--set", f"output.uri={outer / 'fog'}")
    assert done.returncode == 2 and "inside the finished release" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in outer.iterdir()] == ["manifest.json"]
