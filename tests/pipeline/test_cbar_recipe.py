"""configs/imagenet-c-bar.yaml plans C-bar's 10 x 5 variants and one sample shard runs through the
worker without Ray (the Ray end to end runs are tests/pipeline/test_e2e.py's)."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from corrupter import ops
from corrupter.config import load_config
from corrupter.pipeline.plan import plan_units, plan_variants
from corrupter.pipeline.worker import ShardWorker
from tests.conftest import REPO

RECIPE = REPO / "configs" / "imagenet-c-bar.yaml"
CBAR = ops.list_corruptions(tag="imagenet-c-bar")


def test_the_recipe_plans_every_level_of_the_ten_corruptions():
    config = load_config(RECIPE)
    variants = plan_variants(config)
    assert len(CBAR) == 10 and {v.corruption for v in variants} == set(CBAR)
    assert len(variants) == 50 and {v.name for v in variants} == {"1", "2", "3", "4", "5"}
    caustic = {v.level: v.param_dict for v in variants if v.corruption == "caustic_refraction"}
    assert [caustic[level]["severity"] for level in range(1, 6)] == [2.35, 3.2, 4.9, 6.6, 9.15]
    assert (config.preprocess.resize, config.preprocess.crop) == (256, 224)
    output = config.output
    assert (output.format, output.jpeg_quality, output.jpeg_encoder) == ("jpg", 85, "pillow")


def test_explicit_severities_plan_with_their_parameters_and_contradictions_are_refused_before_work():
    config = load_config(RECIPE, ["corruptions=[{name: brownish_noise, params: {severity: 7}}]"])
    (variant,) = plan_variants(config)
    assert variant.name == "severity+07" and variant.param_dict == {"severity": 7, "intensity": 7 * 64 / 10}
    bad = load_config(RECIPE, ["corruptions=[{name: brownish_noise, params: {severity: 7, intensity: 3}}]"])
    with pytest.raises(ValueError, match="brownish_noise: C-bar severity 7 maps to intensity=44.8"):
        plan_units(bad)


def test_one_sample_shard_runs_through_the_worker(tmp_path):
    config = load_config(RECIPE, [f"output.uri={tmp_path}", "input.shards=data/sample/val-000000.tar"])
    units = plan_units(config)
    worker = ShardWorker(config)
    receipts = [r for unit in units for r in worker.run(unit).receipts]
    assert len(receipts) == 50 and all(r.samples == 3 and not r.quarantined for r in receipts)
    release = tmp_path / "imagenet-c-bar" / "1.0.0"
    with tarfile.open(release / "caustic_refraction" / "5" / "val-000000.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    meta = json.loads(members["skimage_chelsea.json"])
    assert meta["level"] == 5 and meta["params"] == ops.get_corruption("caustic_refraction").params(5)
    assert set(meta["sampled"]) == {"time", "size"}  # the draws, recorded
    image = np.asarray(Image.open(io.BytesIO(members["skimage_chelsea.jpg"])))
    assert image.shape == (224, 224, 3)
