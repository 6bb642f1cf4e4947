"""Config validation, overrides, digest, and the plan built from it."""

import pytest

from corrupter.config import ConfigError, config_digest, load_config, validate_config
from corrupter.ops import get_corruption
from corrupter.pipeline.plan import plan_units, plan_variants
from tests.conftest import REPO

DEMO = REPO / "configs" / "demo.yaml"


def test_demo_config_loads_and_plans():
    config = load_config(DEMO)
    variants = plan_variants(config)
    assert len(variants) == 26 and {v.name for v in variants} == {"1", "2", "3", "4", "5"}
    assert (variants[0].corruption, variants[0].name, variants[0].param_dict) == ("clean", "1", {})
    units = plan_units(config)
    assert {o.path for u in units for o in u.outputs} >= {"fog/3/val-000000.tar", "contrast/5/val-000001.tar"}


def test_imagenet_c_config_is_the_reference_recipe():
    config = load_config(REPO / "configs" / "imagenet-c.yaml")
    variants = plan_variants(config)
    assert len(variants) == 1 + 19 * 5 and {v.level for v in variants} == {1, 2, 3, 4, 5}
    assert variants[0].corruption == "clean"
    assert (config.preprocess.resize, config.preprocess.crop) == (256, 224)
    assert (config.output.format, config.output.jpeg_quality, config.output.jpeg_encoder) == ("jpg", 85, "pillow")
    # No unit splits the levels of an op with a multi-level kernel (zoom_blur, brightness,
    # saturate): they share their work only within one unit.
    unit_of: dict[tuple[str, str], set[str]] = {}
    for unit in plan_units(config):
        for output in unit.outputs:
            if get_corruption(output.variant.corruption).apply_levels is not None:
                unit_of.setdefault((unit.source, output.variant.corruption), set()).add(unit.unit_id)
    assert {corruption for _, corruption in unit_of} == {"zoom_blur", "brightness", "saturate"}
    assert {corruption: len(ids) for corruption, ids in unit_of.items() if len(ids) > 1} == {}


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
    config = load_config(DEMO, [("corruptions=[{name: fourier_basis_noise, grid: {i: [0, 4], j: [-3, 8]}, "
                                "params: {norm: 15.7}}, {name: low_pass, params: {bandwidth: 9}}, "
                                "{name: fog, severities: [2], params: {decay: 1.5}}]")])
    names = [(v.corruption, v.name) for v in plan_variants(config)]
    assert ("fourier_basis_noise", "i+00_j-03_norm+15.7") in names and len(names) == 4 + 1 + 1
    assert ("low_pass", "bandwidth+09") in names and ("fog", "2-decay+01.5") in names
    fog = next(v for v in plan_variants(config) if v.corruption == "fog")
    assert fog.param_dict == {"strength": 2.0, "decay": 1.5}


def test_a_variant_requested_twice_is_refused():
    config = validate_config({"name": "x", "version": "1.0.0", "input": {"shards": "a.tar"},
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


# --- issue 15: configs that cost more than they look, and values that were accepted by mistake ---

def base_config(**fields):
    return {"name": "x", "version": "1.0.0", "input": {"shards": "a.tar"}, "corruptions": [{"name": "fog"}]} | fields


def alias_bomb(levels: int = 8, width: int = 10) -> str:
    """The issue's 559-byte config: ``seed`` is width**levels values once its aliases expand."""
    lines = ["name: bomb", "version: '1.0.0'", "input: {shards: a.tar}", "corruptions: [{name: fog}]",
             "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines.append(f"seed: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert path.stat().st_size < 700
    with pytest.raises(ConfigError, match="more than 200,000 values once its YAML aliases are expanded"):
        load_config(path)


def test_aliases_within_the_budget_still_work(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("name: a\nversion: '1.0.0'\ninput: {shards: a.tar}\n"
                    "corruptions: [{name: fog, params: &p {decay: 1.5}}, {name: fog, severities: [1], params: *p}]\n")
    assert [r.params for r in load_config(path).corruptions] == [{"decay": 1.5}] * 2


def test_recursive_aliases_deep_nesting_and_huge_files_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: &a [*a]\n")
    with pytest.raises(ConfigError, match="alias refers to a node that contains it"):
        load_config(path)
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested"):
        load_config(path)
    path.write_text("# padding\n" * 500_000)
    with pytest.raises(ConfigError, match="the limit is 4,194,304"):
        load_config(path)


def test_a_seed_must_be_short_text_or_an_integer():
    assert validate_config(base_config(seed=7)).seed == "7"
    for seed, problem in ((["x"] * 10, "string"), ("s" * 257, "at most 256"), (True, "string")):
        with pytest.raises(ConfigError, match=problem) as err:
            validate_config(base_config(seed=seed))
        assert "seed" in str(err.value)


def test_a_brace_pattern_is_counted_before_it_is_expanded():
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"input.shards:.*more than 100,000 shards.*10,000,000") as err:
            validate_config(base_config(input={"shards": "s3://b/val-{0000000..9999999}.tar"}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024**2, peak  # expanding would hold ten million names
    assert "input.shards" in str(err.value)
    with pytest.raises(ConfigError, match="more than 100,000"):
        validate_config(base_config(input={"shards": ["a-{0..60000}.tar", "b-{0..60000}.tar"]}))
    with pytest.raises(ConfigError, match="unbalanced braces"):
        validate_config(base_config(input={"shards": "a-{0..3.tar"}))
    with pytest.raises(ConfigError, match="names no shard"):
        validate_config(base_config(input={"shards": []}))


@pytest.mark.parametrize("field, value", [("name", "demo\n"), ("version", "1.0\n"), ("name", "x" * 101)])
def test_names_that_become_paths_are_refused_with_a_trailing_newline_or_too_long(field, value):
    with pytest.raises(ConfigError, match=field):
        validate_config(base_config(**{field: value}))


def test_a_split_with_a_trailing_newline_is_refused():
    with pytest.raises(ConfigError, match="input.split"):
        validate_config(base_config(input={"shards": "a.tar", "split": "val\n"}))


@pytest.mark.parametrize("uri", ["S3://bucket/releases", "s3:///no-bucket", "http://host/releases",
                                 "gs://bucket/releases", "file:///tmp/releases"])
def test_locations_other_than_paths_and_lower_case_s3_are_refused(uri):
    with pytest.raises(ConfigError, match="output.uri"):
        validate_config(base_config(output={"uri": uri}))
    with pytest.raises(ConfigError, match="input.shards"):
        validate_config(base_config(input={"shards": [f"{uri}/val-000000.tar"]}))
    assert validate_config(base_config(output={"uri": "s3://bucket/releases"})).output.uri == "s3://bucket/releases"


def test_empty_severities_and_grids_are_errors_not_everything_or_nothing():
    with pytest.raises(ConfigError, match="corruptions.0.severities"):
        validate_config(base_config(corruptions=[{"name": "fog", "severities": []}]))
    with pytest.raises(ConfigError, match="grid decay is empty"):
        validate_config(base_config(corruptions=[{"name": "fog", "grid": {"decay": []}}]))


def test_a_crop_larger_than_the_resize_is_refused():
    with pytest.raises(ConfigError, match="preprocess.*crop 300 is larger than resize 256"):
        validate_config(base_config(preprocess={"resize": 256, "crop": 300}))
    assert validate_config(base_config(preprocess={"resize": None, "crop": 300})).preprocess.crop == 300


@pytest.mark.parametrize("corruption, params, problem", [
    ("fourier_basis_noise", {"norm": "abc"}, "parameter norm must be a number, got str 'abc'"),
    ("fourier_basis_noise", {"norm": float("nan")}, "parameter norm must be finite"),
    ("fourier_basis_noise", {"i": 2.5}, "parameter i must be an integer"),
    ("fourier_basis_noise", {"i": True}, "parameter i must be an integer"),
    ("low_pass", {"bandwidth": [3]}, "parameter bandwidth must be an integer"),
    ("spatter", {"mode": "lava"}, "parameter mode must be one of \\['mud', 'water'\\]"),
    ("zoom_blur", {"factors": 1.5}, "parameter factors must be a list"),
    ("zoom_blur", {"factors": [1.0, "x"]}, "finite numbers only"),
    ("zoom_blur", {"factors": [1.01] * 300}, "list of 1 to 256"),
])
def test_parameters_must_have_the_kind_of_value_their_table_has(corruption, params, problem):
    with pytest.raises(ConfigError, match=problem) as err:
        validate_config(base_config(corruptions=[{"name": corruption, "params": params}]))
    assert "corruptions.0" in str(err.value)
    grid = {k: [v] for k, v in params.items()}
    with pytest.raises(ConfigError, match=problem):
        validate_config(base_config(corruptions=[{"name": corruption, "grid": grid}]))


def test_numbers_fit_number_parameters_and_tables_mixing_ints_and_floats():
    config = validate_config(base_config(corruptions=[
        {"name": "fourier_basis_noise", "params": {"norm": 16, "i": 3}},
        {"name": "glass_blur", "params": {"sigma": 1}}, {"name": "spatter", "params": {"mode": "mud"}},
        {"name": "zoom_blur", "params": {"factors": [1, 1.1]}}]))
    assert len(plan_variants(config)) == 4


def test_the_number_of_variants_is_bounded_before_the_grid_is_made():
    grid = {"i": list(range(200)), "j": list(range(200))}
    with pytest.raises(ConfigError, match="40,000 variants; the limit is 10,000"):
        validate_config(base_config(corruptions=[{"name": "fourier_basis_noise", "grid": grid}]))
    many = [{"name": "imagenet-c", "severities": [1, 2, 3, 4, 5]}] * 200
    with pytest.raises(ConfigError, match="15,000 variants; the limit is 10,000"):
        validate_config(base_config(corruptions=many))


def test_label_range_and_member_size_are_config_fields_that_define_the_release():
    config = validate_config(base_config(input={"shards": "a.tar", "num_classes": 10, "max_member_bytes": 1024}))
    assert (config.input.num_classes, config.input.max_member_bytes) == (10, 1024)
    assert config_digest(config) != config_digest(validate_config(base_config()))
    for bad in ({"num_classes": 0}, {"max_member_bytes": 0}, {"max_member_bytes": 5 * 1024**3}):
        with pytest.raises(ConfigError, match="input." + next(iter(bad))):
            validate_config(base_config(input={"shards": "a.tar", **bad}))
