"""Issue 15.11: a config whose parameters cannot run is refused before the version is claimed."""

from __future__ import annotations

import pytest
import torch

from corrupter import ops
from corrupter.config import validate_config
from corrupter.pipeline.dryrun import dry_run_variants, explicit
from corrupter.pipeline.plan import plan_variants
from corrupter.seeding import make_generator
from tests.conftest import run_cli


def config_of(corruptions, **preprocess):
    return validate_config({"name": "x", "version": "1.0.0", "input": {"shards": "a.tar"},
                            "corruptions": corruptions, "preprocess": preprocess or {}})


def test_only_explicit_variants_run_and_a_failing_one_is_named():
    config = config_of([{"name": "imagenet-c", "severities": [1, 5]},  # zoom_blur's list: tuple in a variant
                        {"name": "fog", "severities": [2], "params": {"decay": 1.5}},
                        {"name": "low_pass", "grid": {"bandwidth": [3, 9]}}])
    variants = plan_variants(config)
    assert [v.name for v in variants if explicit(v)] == ["2-decay+01.5", "bandwidth+03", "bandwidth+09"]
    assert dry_run_variants(config, variants) == 3
    bad = config_of([{"name": "jpeg_compression", "params": {"quality": 500}}])
    with pytest.raises(ValueError, match=r"jpeg_compression, variant quality\+500 .* fails on a 224x224 test image"):
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


def test_an_op_with_a_check_runs_once_per_signature_and_every_variant_is_checked():
    """The heat-map grid: 3,969 variants, one kernel call; a frequency outside the crop's spectrum is
    still named before any work (fourier_basis_noise's check, the same the kernel applies)."""
    threads = torch.get_num_threads()
    grid = {"i": {"range": [-31, 31]}, "j": {"range": [-31, 31]}}
    config = config_of([{"name": "fourier_basis_noise", "grid": grid, "params": {"norm": 15.7}}])
    assert dry_run_variants(config, plan_variants(config)) == 1
    assert torch.get_num_threads() == threads  # one thread only while it runs
    small = config_of([{"name": "fourier_basis_noise", "grid": {"i": [0, 31, 32], "j": [-32]},
                        "params": {"norm": 4.0}}], resize=None, crop=64)
    with pytest.raises(ValueError, match=r"variant i\+32_j-32_norm\+04 .* outside the 64x64 spectrum: i in -32..31"):
        dry_run_variants(small, plan_variants(small))
    spec = ops.get_corruption("fourier_basis_noise")
    with pytest.raises(ValueError, match="outside the 64x64 spectrum"):  # the kernel refuses the same
        ops.apply_batch(spec, torch.zeros(1, 3, 64, 64), {"i": 32, "j": 0, "norm": 4.0}, [make_generator(0)])


def test_jpeg_quality_outside_1_to_100_is_refused_on_every_device():
    """libjpeg (the CPU path) clamped quality 500 to 100 where torchvision (other devices) refuses it."""
    spec = ops.get_corruption("jpeg_compression")
    with pytest.raises(ValueError, match="quality must be 1..100, got 500"):
        ops.apply_batch(spec, torch.zeros(1, 3, 32, 32), {"quality": 500}, [make_generator(0)])
    assert ops.apply_batch(spec, torch.zeros(1, 3, 32, 32), {"quality": 100}, [make_generator(0)])[0].shape == (1, 3, 32, 32)
