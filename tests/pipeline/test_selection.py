"""input.select in the worker, the manifest and verify: samples left out are read and counted, never
decoded or quarantined, and per source read = written + quarantined + not selected (no Ray here; the
recipes run on Ray in test_recipes_e2e.py)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

from corrupter.io.storage import LocalStorage
from corrupter.pipeline.plan import planned_shards
from corrupter.release.verify import verify_release
from tests.badshards import EXPECTED, write_bad_shard
from tests.conftest import REPO
from tests.pipeline.releases import build_release, load, reconcile, small_config
from tests.sampleshards import write_repeated_shard
from tests.test_config_sweeps import documented_fraction

SAMPLES = [REPO / "data" / "sample" / f"val-00000{i}.tar" for i in (0, 1)]


def keys_in(release: Path, path: str) -> list[str]:
    with tarfile.open(release / path) as tar:
        return [m.name.rsplit(".", 1)[0] for m in tar if m.name.endswith(".cls")]


def input_keys(shard: Path) -> list[str]:
    with tarfile.open(shard) as tar:
        return list(dict.fromkeys(m.name.split(".", 1)[0] for m in tar))


def select_config(out: Path, shards, select: dict):
    return small_config(out, shards, input={"shards": [str(s) for s in shards], "select": select})


def test_a_fraction_keeps_the_keys_whose_hash_is_below_it_and_counts_the_rest(tmp_path):
    release = build_release(select_config(tmp_path, SAMPLES, {"fraction": 0.5}))
    manifest = load(release)
    reconcile(manifest)
    for index, shard in enumerate(SAMPLES):
        wanted = [k for k in input_keys(shard) if documented_fraction(k) < 0.5]
        source = next(s for s in manifest["sources"] if s["uri"] == str(shard))
        assert (source["samples_read"], source["samples_selected"], source["samples_ok"]) == (3, len(wanted), len(wanted))
        assert keys_in(release, f"contrast/1/val-00000{index}.tar") == wanted
    assert [s["samples_selected"] for s in manifest["sources"]] == [3, 1]  # 4 of the 6 photos
    totals = manifest["totals"]
    assert (totals["source_samples_read"], totals["source_samples_selected"], totals["samples"]) == (6, 4, 8)
    assert manifest["quarantined"] == [] and manifest["config"]["input"]["select"]["fraction"] == 0.5
    assert verify_release(LocalStorage(release), planned_shards)[1] == []


def test_samples_left_out_are_never_decoded_or_quarantined_even_when_bad(tmp_path):
    write_bad_shard(tmp_path / "bad.tar")
    everything = load(build_release(small_config(tmp_path / "all", [tmp_path / "bad.tar"])))
    picked = ["good_rgb", "truncated_jpeg", "bomb", "label_padded"]
    release = build_release(select_config(tmp_path / "some", [tmp_path / "bad.tar"], {"keys": picked + ["absent"]}))
    manifest = load(release)
    reconcile(manifest)
    (source,) = manifest["sources"]
    assert source["samples_read"] == everything["sources"][0]["samples_read"] > 30  # every sample was read
    assert source["sha256"] == everything["sources"][0]["sha256"]
    assert (source["samples_selected"], source["samples_ok"], source["samples_quarantined"]) == (4, 2, 2)
    reasons = {q["key"]: q["reason"] for q in manifest["quarantined"]}
    assert set(reasons) == {"truncated_jpeg", "bomb"}
    assert EXPECTED["bomb"] in reasons["bomb"] and EXPECTED["truncated_jpeg"] in reasons["truncated_jpeg"]
    assert keys_in(release, "contrast/1/val-000000.tar") == ["good_rgb", "label_padded"]


def test_every_k_th_sample_of_each_shard_by_position(tmp_path):
    write_repeated_shard(tmp_path / "a.tar", 10)
    write_repeated_shard(tmp_path / "b.tar", 4)
    release = build_release(select_config(tmp_path / "out", [tmp_path / "a.tar", tmp_path / "b.tar"],
                                          {"every": 3, "offset": 1}))
    manifest = load(release)
    reconcile(manifest)
    assert keys_in(release, "contrast/2/val-000000.tar") == ["r0001", "r0004", "r0007"]
    assert keys_in(release, "contrast/2/val-000001.tar") == ["r0001"]  # positions restart in each shard
    assert [(s["samples_read"], s["samples_selected"]) for s in manifest["sources"]] == [(10, 3), (4, 1)]


def test_verify_checks_the_selection_counts(tmp_path):
    release = build_release(select_config(tmp_path / "sel", SAMPLES, {"fraction": 0.5}))
    plain = build_release(small_config(tmp_path / "plain", SAMPLES[:1]))

    def edited(root: Path, change) -> list[str]:
        os.chmod(root / "manifest.json", 0o644)
        manifest = load(root)
        change(manifest)
        (root / "manifest.json").write_text(json.dumps(manifest))
        return [p.problem for p in verify_release(LocalStorage(root), planned_shards)[1]]

    def more_selected(manifest):
        manifest["sources"][1]["samples_selected"] = 2
    problems = edited(release, more_selected)
    assert any("samples_ok 1 != selected 2 - quarantined 0" in p for p in problems), problems
    assert any("totals.source_samples_selected 4 != 5" in p for p in problems), problems

    def beyond_read(manifest):
        manifest["sources"][1].update(samples_selected=9, samples_ok=9)
    assert any("samples_selected 9 > read 3" in p for p in edited(release, beyond_read))

    def fewer_without_a_rule(manifest):  # no input.select: every sample read must be selected
        manifest["sources"][0].update(samples_selected=2, samples_ok=2)
    assert any("2 of 3 samples selected, but the config selects every sample" in p
               for p in edited(plain, fewer_without_a_rule))
