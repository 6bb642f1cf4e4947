"""The evaluation job without a cluster: the worker on one shard (a real model, counts equal to a
direct forward pass), what it refuses (a model answering in the wrong shape, a tampered shard), what
`corrupter evaluate` refuses before any work (an unfinished release, --cells matching nothing, a
RESULTS_DIR with results or with another evaluation's work), and the results written from the records
of a run whose every shard was counted (no Ray needed then). The release is built without Ray."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import webdataset as wds

import corrupter
from corrupter.evaluation.models import ModelSpec
from corrupter.evaluation.records import RECORDS, Identity, ResultsExist, claim, write_record
from corrupter.evaluation.selection import NoCellsMatch, select_cells
from corrupter.evaluation.worker import EvalWorker, ModelOutputError, ShardCounts, ShardUnit
from corrupter.io.storage import LocalStorage
from corrupter.release import ReleaseNotFinished, ShardMismatch
from tests.conftest import run_cli
from tests.evaluate.efficientnet import efficientnet_lite0
from tests.pipeline.releases import SAMPLE, build_release, small_config

MODEL = "tests.evaluate.efficientnet:efficientnet_lite0"
CORRUPTIONS = [{"name": "clean"}, {"name": "contrast", "severities": [1, 2]}]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    return build_release(small_config(out, [SAMPLE, SAMPLE.parent / "val-000001.tar"], corruptions=CORRUPTIONS))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread here, as in a worker: on a loaded machine two threads can be ten times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return efficientnet_lite0()


def direct_counts(shard: Path, model: torch.nn.Module) -> tuple[int, int, int]:
    """(samples, top-1 correct, top-5 correct): stock webdataset and one forward pass."""
    images, labels = zip(*wds.WebDataset(str(shard), shardshuffle=False).decode("torchrgb8").to_tuple("jpg;png", "cls"))
    with torch.inference_mode():
        logits = model(torch.stack(images).float() / 255)
    labels = torch.tensor(labels)
    top5 = logits.topk(5, dim=1).indices
    return len(labels), int((logits.argmax(1) == labels).sum()), int((top5 == labels[:, None]).any(1).sum())


def worker(release: Path, spec: str = MODEL, batch_size: int = 2) -> EvalWorker:
    opened = corrupter.open_release(str(release))
    return EvalWorker(str(release), opened.manifest_sha256, ModelSpec(spec), batch_size, device="cpu")


def test_the_worker_counts_a_shard_as_a_direct_forward_pass(built, model):
    evaluator = worker(built, batch_size=2)  # 3 samples: a batch of 2, then 1
    for shard in ("clean/1/val-000000.tar", "contrast/2/val-000001.tar"):
        counts = evaluator.run(ShardUnit(shard))
        assert (counts.samples, counts.top1_correct, counts.top5_correct) == direct_counts(built / shard, model)
        assert counts.images == 3 and counts.device == "cpu" and len(counts.parameters_sha256) == 64
        assert 0 < counts.forward_seconds < counts.seconds
    assert sum(evaluator.run(ShardUnit(f"clean/1/val-00000{i}.tar")).top5_correct for i in (0, 1)) > 0


def test_a_model_answering_in_the_wrong_shape_fails_at_the_first_batch(built):
    evaluator = worker(built, "tests.evaluate.efficientnet:ten_classes", batch_size=2)
    with pytest.raises(ModelOutputError, match=r"--model tests.evaluate.efficientnet:ten_classes returned "
                                               r"\(2, 10\) for a batch of 2 images of clean/1/val-000000.tar; "
                                               r"expected logits of shape \(2, 1000\)"):
        evaluator.run(ShardUnit("clean/1/val-000000.tar"))


def test_a_tampered_shard_is_named_and_none_of_it_counted(built, tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(built, copy)
    shard = copy / "contrast" / "1" / "val-000001.tar"
    os.chmod(shard, 0o644)
    data = bytearray(shard.read_bytes())
    data[700] ^= 0x01  # inside the first image: still a tar of three samples
    shard.write_bytes(bytes(data))
    evaluator = worker(copy)
    assert evaluator.run(ShardUnit("contrast/1/val-000000.tar")).samples == 3
    with pytest.raises(ShardMismatch, match=r"contrast/1/val-000001.tar: sha256 .* differs from the manifest"):
        evaluator.run(ShardUnit("contrast/1/val-000001.tar"))


def test_an_unfinished_release_is_refused_before_any_work(built, tmp_path):
    unfinished = tmp_path / "release"
    shutil.copytree(built, unfinished)
    (unfinished / "manifest.json").unlink()
    with pytest.raises(ReleaseNotFinished, match="no manifest.json"):
        corrupter.evaluate(str(unfinished), MODEL, str(tmp_path / "results"))
    assert not (tmp_path / "results").exists()


def test_cells_matching_nothing_list_what_the_release_holds(built, tmp_path):
    with pytest.raises(NoCellsMatch, match=r"--cells fog\* contrast/9 matches no cell of .*; it holds "
                                           r"clean/1, contrast/1\.\.2 \(2 variants\)"):
        corrupter.evaluate(str(built), MODEL, str(tmp_path / "results"), cells=["fog*", "contrast/9"])
    assert not (tmp_path / "results").exists()


def test_cell_patterns_match_the_corruption_or_corruption_slash_variant(built):
    cells = corrupter.open_release(str(built)).cells
    assert [c.name for c in select_cells(cells, ["contrast"], "r")] == ["contrast/1", "contrast/2"]
    assert [c.name for c in select_cells(cells, ["*/2", "cl*"], "r")] == ["clean/1", "contrast/2"]
    assert [c.name for c in select_cells(cells, None, "r")] == ["clean/1", "contrast/1", "contrast/2"]


def test_results_already_there_are_refused_and_kept(built, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "results.json").write_text("{}")
    with pytest.raises(ResultsExist, match="results.json already exists: results are written once"):
        corrupter.evaluate(str(built), MODEL, str(out))
    assert (out / "results.json").read_text() == "{}" and sorted(os.listdir(out)) == ["results.json"]
    done = run_cli("evaluate", str(built), "--model", MODEL, "--out", str(out))  # the command: exit status 2
    assert done.returncode == 2 and "results.json already exists" in done.stderr, done.stderr


def test_another_evaluations_work_area_is_refused(built, tmp_path):
    storage = LocalStorage(tmp_path / "results")
    opened = corrupter.open_release(str(built))
    claim(storage, Identity(release_uri=opened.uri, manifest_sha256=opened.manifest_sha256,
                            model=ModelSpec("tests.evaluate.efficientnet:ten_classes").describe()))
    with pytest.raises(ResultsExist, match="unfinished evaluation of another release or model "
                                           r"\(tests.evaluate.efficientnet:ten_classes on "):
        corrupter.evaluate(str(built), MODEL, storage.uri)


def test_results_come_from_the_records_of_every_shard(built, tmp_path, model):
    """Every shard recorded (an earlier run was killed after its last shard): no worker starts, the
    cells are the sums of the records, results.json is written and the work area goes."""
    out = tmp_path / "results"
    opened = corrupter.open_release(str(built))
    identity = Identity(release_uri=opened.uri, manifest_sha256=opened.manifest_sha256, model=ModelSpec(MODEL).describe())
    claim(LocalStorage(out), identity)
    evaluator = worker(built, batch_size=3)
    for shard in opened.manifest.shards:
        write_record(LocalStorage(out), identity, evaluator.run(ShardUnit(shard.path)))
    assert len(list((out / RECORDS).rglob("*.json"))) == 6
    done = corrupter.evaluate(str(built), MODEL, str(out), progress=False)
    assert (done.skipped_shards, done.shards, done.images, done.workers) == (6, 6, 0, 0)
    results = json.loads((out / "results.json").read_text())
    for cell, expected in zip(results["cells"], opened.cells):
        direct = [direct_counts(built / s.path, model) for s in expected.shards]
        assert (cell["corruption"], cell["variant"]) == (expected.corruption, expected.variant)
        assert (cell["samples"], cell["top1_correct"], cell["top5_correct"]) == tuple(map(sum, zip(*direct)))
        assert cell["top1_error"] == 1 - cell["top1_correct"] / cell["samples"]
    assert results["model"]["parameters_sha256"] == evaluator.parameters_sha256
    assert results["release"] == {"uri": str(built), "name": "t", "version": "1.0.0",
                                  "manifest_sha256": opened.manifest_sha256}
    assert results["summary"]["clean_error"] == results["cells"][0]["top1_error"]
    assert sorted(os.listdir(out)) == ["error_by_severity.png", "report.md", "results.csv", "results.json"]
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert csv_rows[0].startswith("corruption,variant,severity,params,samples") and len(csv_rows) == 4
    assert "| contrast |" in (out / "report.md").read_text()


def test_a_model_spec_that_does_not_import_is_refused_before_any_work(built, tmp_path):
    from corrupter.evaluation.models import ModelSpecError

    with pytest.raises(ModelSpecError, match="cannot import no_such_module_xyz"):
        corrupter.evaluate(str(built), "no_such_module_xyz:build", str(tmp_path / "results"))
    assert not (tmp_path / "results").exists()


def test_shards_counted_by_different_weights_are_not_mixed(built, tmp_path):
    """A resume whose records came from another state of the model (its function or weights file
    changed between runs): the parameter digests differ, and no results are written."""
    out = tmp_path / "results"
    opened = corrupter.open_release(str(built))
    identity = Identity(release_uri=opened.uri, manifest_sha256=opened.manifest_sha256, model=ModelSpec(MODEL).describe())
    claim(LocalStorage(out), identity)
    for number, shard in enumerate(opened.manifest.shards):
        digest = ("a" if number else "b") * 64
        write_record(LocalStorage(out), identity, ShardCounts(shard.path, 3, 1, 2, digest, "cpu", 0.0, 0.0))
    with pytest.raises(ResultsExist, match=r"counted by models with different weights \(2 parameter digests"):
        corrupter.evaluate(str(built), MODEL, str(out), progress=False)
    assert not (out / "results.json").exists()
