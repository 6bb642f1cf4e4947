"""The loaders researchers train and evaluate with, each reading a release the CLI built from
configs/demo.yaml on a real Ray cluster, through the metadata written with it: timm's wds reader
(_info.json), Hugging Face datasets (the card's configs, and plain data_files), wids
(shardindex.json), open_clip's counting (sizes.json), Ray Data, and mlcroissant (croissant.json).
Every count is checked against the manifest, every label against stock webdataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import webdataset as wds

from tests.conftest import RAY_TEST_ENV, REPO, run_cli

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CELL = "fog/3"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    done = run_cli("run", "configs/demo.yaml", "--no-progress", "--set", f"output.uri={out}")  # a private cluster
    assert done.returncode == 0, done.stderr
    return out / "demo" / "1.0.0"


@pytest.fixture(scope="module")
def manifest(release) -> dict:
    return json.loads((release / "manifest.json").read_text())


def labels_by_key(shards: list[Path]) -> dict[str, int]:
    """The truth: keys and labels as stock webdataset reads them."""
    return {s["__key__"]: int(s["cls"]) for s in wds.WebDataset([str(p) for p in shards], shardshuffle=False)}


def cell_shards(release: Path, cell: str) -> list[Path]:
    return sorted((release / cell).glob("*.tar"))


def run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_timm_reads_every_sample_of_every_cell_with_its_label(release, manifest):
    from timm.data import create_dataset

    cells = sorted({posixpath_dir(s["path"]) for s in manifest["shards"]})
    assert len(cells) == 26
    for cell in cells:
        dataset = create_dataset(f"wds/{cell}", root=str(release / cell), split="val")
        truth = labels_by_key(cell_shards(release, cell))
        got = [target for _, target in dataset]
        assert len(dataset) == len(truth) == 6, cell
        assert sorted(got) == sorted(truth.values()), cell


def posixpath_dir(path: str) -> str:
    return path.rsplit("/", 1)[0]


def test_open_clip_counts_a_cell_from_sizes_json(release, manifest):
    from open_clip_train.data import get_dataset_size

    shards = cell_shards(release, CELL)
    pattern = "::".join(str(p) for p in shards)
    total, count = get_dataset_size(pattern)
    assert count == len(shards) == 2
    assert total == sum(s["samples"] for s in manifest["shards"] if s["path"].startswith(CELL + "/")) == 6


def test_wids_indexes_a_cell_from_shardindex_json(release, tmp_path):
    import wids

    dataset = wids.ShardListDataset(str(release / CELL / "shardindex.json"), cache_dir=str(tmp_path / "cache"))
    truth = labels_by_key(cell_shards(release, CELL))
    assert len(dataset) == len(truth)
    seen = {dataset[i]["__key__"]: int(dataset[i][".cls"]) for i in range(len(dataset))}
    assert seen == truth
    assert dataset[0][".jpg"].size == (224, 224)


def test_ray_data_reads_a_cell(release):
    import tempfile

    import ray

    for name, value in RAY_TEST_ENV.items():
        os.environ.setdefault(name, value)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, _temp_dir=tempfile.mkdtemp(prefix="cr-", dir="/tmp"))  # short: it holds unix sockets
    try:
        rows = ray.data.read_webdataset([str(p) for p in cell_shards(release, CELL)], decoder=None).take_all()
    finally:
        ray.shutdown()
    truth = labels_by_key(cell_shards(release, CELL))
    assert {row["__key__"]: int(row["cls"]) for row in rows} == truth


HF_CODE = """
import json, sys
from datasets import load_dataset
release, cell = sys.argv[1], sys.argv[2]
by_card = load_dataset(release, cell.replace("/", "-"), split="val")
plain = load_dataset("webdataset", data_files={"val": release + "/" + cell + "/*.tar"}, split="val")
out = {}
for name, ds in (("card", by_card), ("plain", plain)):
    out[name] = {row["__key__"]: [int(row["cls"]), list(row["jpg"].size)] for row in ds}
print(json.dumps(out))
"""


def test_hugging_face_datasets_loads_a_cell_by_the_cards_config_and_by_data_files(release, tmp_path):
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets")}
    done = subprocess.run([sys.executable, "-c", HF_CODE, str(release), CELL], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    truth = labels_by_key(cell_shards(release, CELL))
    for name in ("card", "plain"):
        assert {key: label for key, (label, _) in found[name].items()} == truth, name
        assert all(size == [224, 224] for _, size in found[name].values()), name


CROISSANT_CODE = """
import json, sys, collections
import mlcroissant as mlc
records = list(mlc.Dataset(sys.argv[1]).records("samples"))
print(json.dumps({"count": len(records), "keys": collections.Counter(r["samples/key"].decode() for r in records),
                  "sizes": sorted({r["samples/image"].size for r in records}),
                  "samples": sorted([r["samples/corruption"].decode() + "/" + r["samples/variant"].decode(),
                                     r["samples/key"].decode(), r["samples/label"]] for r in records)}))
"""


def test_mlcroissant_validates_croissant_json_and_loads_every_sample(release, manifest, tmp_path):
    env = {"CROISSANT_CACHE": str(tmp_path / "croissant")}  # its extraction cache is keyed by relative URL
    validate = subprocess.run([str(Path(sys.executable).parent / "mlcroissant"), "validate", "--jsonld",
                               str(release / "croissant.json")], capture_output=True, text=True, timeout=300,
                              env={**os.environ, **env})
    assert validate.returncode == 0, validate.stderr[-3000:]
    assert "error" not in validate.stderr.lower()
    found = json.loads(run_python(CROISSANT_CODE.replace("sys.argv[1]", repr(str(release / "croissant.json"))),
                                  env).strip().splitlines()[-1])
    assert found["count"] == manifest["totals"]["samples"] == 156
    assert set(found["keys"].values()) == {26}  # each of the six keys once per cell
    assert found["sizes"] == [[224, 224]]
    cells = sorted({posixpath_dir(s["path"]) for s in manifest["shards"]})
    truth = sorted([cell, key, label] for cell in cells
                   for key, label in labels_by_key(cell_shards(release, cell)).items())
    assert found["samples"] == truth  # each cell's samples with their labels, as webdataset reads them
