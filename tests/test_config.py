"""Config validation, overrides, digest, and the plan built from it."""

import pytest

from corrupter.config import ConfigError, config_digest, load_config, validate_config
from corrupter.pipeline.plan import plan_units, plan_variants
from tests.conftest import REPO

DEMO = REPO / "configs" / "demo.yaml"


def test_demo_config_loads_and_plans():
    config = load_config(DEMO)
    variants = plan_variants(config)
    assert len(variants) == 25 and {v.name for v in variants} == {"1", "2", "3", "4", "5"}
    units = plan_units(config)
    assert {o.path for u in units for o in u.outputs} >= {"fog/3/val-000000.tar", "contrast/5/val-000001.tar"}


def test_imagenet_c_config_is_the_reference_recipe():
    config = load_config(REPO / "configs" / "imagenet-c.yaml")
    variants = plan_variants(config)
    assert len(variants) == 19 * 5 and {v.level for v in variants} == {1, 2, 3, 4, 5}
    assert (config.preprocess.resize, config.preprocess.crop) == (256, 224)
    assert (config.output.format, config.output.jpeg_quality, config.output.jpeg_encoder) == ("jpg", 85, "pillow")
    assert plan_units(config)


@pytest.mark.parametrize("override, field", [
    ("run.wokers=2", "run.wokers"),
    ("output.jpeg_quality=500", "output.jpeg_quality"),
    ("name=bad/name", "name"),
    ("corruptions=[{name: fog, severities: [9]}]", "corruptions.0"),
    ("input=null", "input"),
    ("output={format: png, jpeg_encoder: torchvision}", "output"),
])
def test_bad_fields_are_named(override, field):
    with pytest.raises(ConfigError) as err:
        load_config(DEMO, [override])
    assert field in str(err.value) and "demo.yaml" in str(err.value)


def test_unknown_corruption_suggests_a_name():
    with pytest.raises(ConfigError, match="did you mean fog"):
        load_config(DEMO, ["corruptions=[{name: fgo}]"])


def test_unknown_parameter_is_named():
    with pytest.raises(ConfigError, match="sigma"):
        load_config(DEMO, ["corruptions=[{name: fog, params: {sigma: 1}}]"])


def test_execution_settings_and_location_do_not_change_the_digest():
    base = config_digest(load_config(DEMO))
    assert base == config_digest(load_config(DEMO, ["run.workers=7", "run.batch_size=3",
                                                    "output.uri=s3://b/p", "s3.retry_mode=adaptive",
                                                    "output.max_shard_bytes=1000"]))
    assert base != config_digest(load_config(DEMO, ["output.jpeg_quality=90"]))
    assert base != config_digest(load_config(DEMO, ["output.jpeg_encoder=torchvision"]))
    assert base != config_digest(load_config(DEMO, ["seed=1"]))


def test_grids_and_explicit_parameters_become_named_variants():
    config = load_config(DEMO, ["corruptions=[{name: fourier_basis_noise, grid: {i: [0, 4], j: [-3, 8]}, "
                                "params: {norm: 15.7}}, {name: low_pass, params: {bandwidth: 9}}, "
                                "{name: fog, severities: [2], params: {decay: 1.5}}]"])
    names = [(v.corruption, v.name) for v in plan_variants(config)]
    assert ("fourier_basis_noise", "i0_j-3_norm15.7") in names and len(names) == 4 + 1 + 1
    assert ("low_pass", "bandwidth9") in names and ("fog", "2-decay1.5") in names
    fog = [v for v in plan_variants(config) if v.corruption == "fog"][0]
    assert fog.param_dict == {"strength": 2.0, "decay": 1.5}


def test_a_variant_requested_twice_is_refused():
    config = validate_config({"name": "x", "version": "1", "input": {"shards": "a.tar"},
                              "corruptions": [{"name": "fog"}, {"name": "fog", "severities": [1]}]})
    with pytest.raises(ValueError, match="twice"):
        plan_variants(config)


def test_families_and_tags_expand():
    config = load_config(DEMO, ["corruptions=[{name: yin2019, severities: [1]}]"])
    assert {v.corruption for v in plan_variants(config)} == {"fourier_basis_noise", "low_pass", "high_pass"}


def test_grid_with_severities_is_refused_and_bad_set_paths_are_clear():
    with pytest.raises(ConfigError, match="either levels or a grid"):
        load_config(DEMO, ["corruptions=[{name: fog, severities: [3], grid: {decay: [1.5, 2.0]}}]"])
    with pytest.raises(ConfigError, match="cannot set corruptions.x.name"):
        load_config(DEMO, ["corruptions.x.name=fog"])


def test_levels_are_checked_against_each_ops_own_table():
    config = load_config(DEMO, ["corruptions=[{name: fog, levels: [1, 5]}, {name: contrast, severities: [2]}]"])
    assert [(v.corruption, v.name, v.level) for v in plan_variants(config)] == [
        ("fog", "1", 1), ("fog", "5", 5), ("contrast", "2", 2)]
    for bad, message in [("[{name: fog, levels: [6]}]", "outside its levels 1..5"),
                         ("[{name: fog, levels: [0]}]", "outside its levels 1..5"),
                         ("[{name: fog, levels: [2, 2]}]", "listed twice"),
                         ("[{name: fog, levels: []}]", "at least 1 item"),
                         ("[{name: fog, levels: [1], severities: [2]}]", "corruptions.0")]:
        with pytest.raises(ConfigError, match=message):
            load_config(DEMO, [f"corruptions={bad}"])
