"""Issue 15.11: a config whose parameters cannot run is refused before the version is claimed."""

from __future__ import annotations

import pytest

from corrupter.config import validate_config
from corrupter.pipeline.dryrun import dry_run_variants, explicit
from corrupter.pipeline.plan import plan_variants
from tests.conftest import run_cli


def config_of(corruptions, **preprocess):
    return validate_config({"name": "x", "version": "1", "input": {"shards": "a.tar"},
                            "corruptions": corruptions, "preprocess": preprocess or {}})


def test_only_explicit_variants_run_and_a_failing_one_is_named():
    config = config_of([{"name": "imagenet-c", "severities": [1, 5]},  # zoom_blur's list: tuple in a variant
                        {"name": "fog", "severities": [2], "params": {"decay": 1.5}},
                        {"name": "low_pass", "grid": {"bandwidth": [3, 9]}}])
    variants = plan_variants(config)
    assert [v.name for v in variants if explicit(v)] == ["2-decay1.5", "bandwidth3", "bandwidth9"]
    assert dry_run_variants(config, variants) == 3
    bad = config_of([{"name": "jpeg_compression", "params": {"quality": 500}}])
    with pytest.raises(ValueError, match=r"jpeg_compression, variant quality500 .* fails on a 224x224 test image"):
        dry_run_variants(bad, plan_variants(bad))


def test_non_finite_output_is_a_failure_and_the_image_has_the_crop_size():
    config = config_of([{"name": "shot_noise", "params": {"photons": 0}}], resize=None, crop=96)
    with pytest.raises(ValueError, match="96x96 test image.*NaN output"):
        dry_run_variants(config, plan_variants(config))


def test_a_config_that_fails_the_dry_run_claims_nothing(tmp_path):
    """The corrected config must not find the version claimed by the broken one: nothing is written.
    (A wrong type is refused earlier still, by validation: test_config.py.)"""
    ranged = run_cli("run", "configs/demo.yaml", "--no-progress", "--set", f"output.uri={tmp_path}",
                     "--set", "corruptions=[{name: jpeg_compression, params: {quality: 500}}]")
    assert ranged.returncode == 2 and "the version was not claimed" in ranged.stderr, ranged.stderr
    assert "Traceback" not in ranged.stderr
    assert not any(tmp_path.iterdir())
