"""Config for large sweeps: ranges of integers, input.select (and its keys_file), sortable variant names."""

from __future__ import annotations

import hashlib
import random

import pytest

from corrupter.config import ConfigError, config_digest, load_config, validate_config
from corrupter.config.selection import MAX_SELECT_KEYS, SELECT_SCHEME, SelectConfig, sample_filter
from corrupter.pipeline.plan import MAX_SLUG, plan_variants, variant_slug
from tests.conftest import REPO

HEATMAP = REPO / "configs" / "fourier-heatmap.yaml"


def config_with(corruptions=None, **input_fields):
    return validate_config({"name": "x", "version": "1.0.0", "input": {"shards": "a.tar", **input_fields},
                            "corruptions": corruptions or [{"name": "fog"}]})


def fourier_grid(**axes):
    return config_with([{"name": "fourier_basis_noise", "grid": axes, "params": {"norm": 15.7}}])


# --- ranges -----------------------------------------------------------------------------------

def test_a_range_is_the_inclusive_list_it_stands_for_and_has_its_digest():
    ranged = fourier_grid(i={"range": [-31, 31]}, j={"range": [3, -3], "step": -3})
    assert ranged.corruptions[0].grid == {"i": list(range(-31, 32)), "j": [3, 0, -3]}
    written_out = fourier_grid(i=list(range(-31, 32)), j=[3, 0, -3])
    assert config_digest(ranged) == config_digest(written_out)  # same variants, same release
    assert len(plan_variants(ranged)) == 63 * 3
    assert config_with([{"name": "fog", "levels": {"range": [2, 4]}}]).corruptions[0].levels == [2, 3, 4]


@pytest.mark.parametrize("axis, message", [
    ({"range": [0, 5], "step": 0}, "grid i: range step must not be 0"),
    ({"range": [0, 2.5]}, "grid i: range last must be an integer, got float 2.5"),
    ({"range": ["a", 5]}, "grid i: range first must be an integer, got str 'a'"),
    ({"range": [True, 5]}, "grid i: range first must be an integer, got bool"),
    ({"range": [0, 5], "step": "2"}, "grid i: range step must be an integer"),
    ({"range": [5, 0]}, r"grid i: range \[5, 0\] with step 1 holds no value"),
    ({"range": [0]}, "grid i: range must be a list of two integers"),
    ({"range": "0..5"}, "grid i: range must be a list of two integers"),
    ({"range": [0, 5], "stop": 9}, r"grid i: unknown key\(s\) \['stop'\] in a range"),
])
def test_a_bad_range_is_refused_naming_its_field(axis, message):
    with pytest.raises(ConfigError, match=message) as err:
        fourier_grid(i=axis, j=[0])
    assert "corruptions.0.grid" in str(err.value)


def test_huge_ranges_are_counted_and_refused_before_they_are_built():
    with pytest.raises(ConfigError, match="1,000,000,000,000,001 variants; the limit is 10,000"):
        fourier_grid(i={"range": [0, 10**15]})
    with pytest.raises(ConfigError, match=r"40,401 variants; the limit is 10,000 \(corruptions.0's grid"):
        fourier_grid(i={"range": [-100, 100]}, j={"range": [-100, 100]})
    # 1,000 requests of 5,000 values each: refused by the count, before 5 million values are made
    many = [{"name": "fourier_basis_noise", "grid": {"i": {"range": [0, 4999]}}}] * 1000
    with pytest.raises(ConfigError, match="5,000,000 variants"):
        config_with(many)
    with pytest.raises(ConfigError, match="levels: range holds 100,001 values; the limit is 10,000"):
        config_with([{"name": "fog", "levels": {"range": [0, 100000]}}])


def test_ranges_come_through_set_overrides():
    config = load_config(HEATMAP, ["corruptions.0.grid.i={range: [-1, 1]}", "corruptions.0.grid.j={range: [-1, 1]}"])
    assert [v.name for v in plan_variants(config)][:4] == [
        "i-01_j-01_norm+15.7", "i-01_j+00_norm+15.7", "i-01_j+01_norm+15.7", "i+00_j-01_norm+15.7"]


# --- variant names ---------------------------------------------------------------------------------

def test_variant_names_are_signed_padded_and_sort_by_sign_then_magnitude():
    assert variant_slug({"i": -31, "j": 5, "norm": 15.7}) == "i-31_j+05_norm+15.7"
    assert variant_slug({"norm": 4.0, "x": 0, "y": -0.25, "z": 1e-05}) == "norm+04_x+00_y-00.25_z+00.00001"
    assert variant_slug({"sigma": "inf", "flag": True, "f": [1.0, 1.02]}) == "f+01x+01.02_flagTrue_sigmainf"
    values = list(range(-99, 100))
    random.Random(0).shuffle(values)
    ordered = sorted(values, key=lambda v: variant_slug({"i": v}))
    assert ordered == list(range(100)) + list(range(-1, -100, -1))
    floats = [0.25, 0.5, 4.0, 8.0, 15.7, 24.0, 32.0, 99.5]
    assert sorted(floats, key=lambda v: variant_slug({"norm": v})) == floats


def test_a_long_variant_name_is_cut_with_a_hash_of_the_whole():
    factors = [1 + k / 100 for k in range(60)]
    slug = variant_slug({"factors": factors})
    assert len(slug) == MAX_SLUG and "~" in slug and slug.startswith("factors+01x+01.01x")
    assert slug != variant_slug({"factors": factors[:-1] + [9.0]})


def test_the_heatmap_recipe_plans_the_63_by_63_square_at_norm_15_7():
    config = load_config(HEATMAP)
    variants = plan_variants(config)
    assert len(variants) == 3969 and len({v.name for v in variants}) == 3969
    assert {(v.param_dict["i"], v.param_dict["j"]) for v in variants} == {
        (i, j) for i in range(-31, 32) for j in range(-31, 32)}
    assert {v.param_dict["norm"] for v in variants} == {15.7} and variants[0].name == "i-31_j-31_norm+15.7"
    assert (config.preprocess.resize, config.preprocess.crop, config.output.format) == (256, 224, "png")
    norm4 = load_config(HEATMAP, ["name=fourier-heatmap-norm4", "corruptions.0.params.norm=4.0"])
    assert plan_variants(norm4)[0].name == "i-31_j-31_norm+04" and norm4.name == "fourier-heatmap-norm4"


# --- input.select ------------------------------------------------------------------------------------

def documented_fraction(key: str, salt: str = "") -> float:
    """SELECT_SCHEME, written out again from its text."""
    h = hashlib.blake2b(digest_size=8)
    for part in ("select-v1", salt, key):
        data = part.encode()
        h.update(len(data).to_bytes(4, "little") + data)
    return int.from_bytes(h.digest(), "little") / 2**64


def test_the_heatmap_subset_is_exactly_1000_of_imagenet_val_spread_over_its_shards():
    assert "blake2b-64('select-v1', salt, key) little-endian < fraction * 2**64" in SELECT_SCHEME
    keeps = sample_filter(load_config(HEATMAP).input.select)
    keys = [f"ILSVRC2012_val_{n:08d}" for n in range(1, 50001)]
    taken = [k for k in keys if keeps(k, 0)]
    assert taken == [k for k in keys if documented_fraction(k) < 0.0200821]
    assert len(taken) == 1000  # the recipe's claim
    per_shard = [sum(keeps(k, 0) for k in keys[s * 1000:(s + 1) * 1000]) for s in range(50)]
    assert (min(per_shard), max(per_shard)) == (11, 33)  # the README's shards: 1,000 keys each in order
    assert sum(keeps(k, 0) for k in keys if documented_fraction(k) < 0.02) == 997


def test_each_rule_decides_from_the_key_or_the_position_alone():
    fraction = sample_filter(SelectConfig(fraction=0.5, salt="b"))
    keys = [f"k{n}" for n in range(2000)]
    assert [fraction(k, 0) for k in keys] == [documented_fraction(k, "b") < 0.5 for k in keys]
    assert 900 < sum(fraction(k, 0) for k in keys) < 1100
    assert [fraction(k, 0) for k in keys] != [sample_filter(SelectConfig(fraction=0.5))(k, 0) for k in keys]
    every = sample_filter(SelectConfig(every=3, offset=1))
    assert [p for p in range(10) if every("any", p)] == [1, 4, 7]
    listed = sample_filter(SelectConfig(keys=["b", "a"]))
    assert [k for k in "abcab" if listed(k, 0)] == ["a", "b", "a", "b"]
    assert sample_filter(None) is None


@pytest.mark.parametrize("select, message", [
    ({}, "exactly one rule of fraction, every, keys"),
    ({"fraction": 0.1, "every": 2}, r"exactly one rule .*got \['fraction', 'every'\]"),
    ({"fraction": 0}, "input.select.fraction"),
    ({"fraction": 1.5}, "input.select.fraction"),
    ({"fraction": "0.5"}, "input.select.fraction"),
    ({"fraction": True}, "input.select.fraction"),
    ({"fraction": float("nan")}, "input.select.fraction"),
    ({"every": 0}, "input.select.every"),
    ({"every": 2.0}, "input.select.every"),
    ({"every": 3, "offset": 3}, "offset 3 must be below every"),
    ({"every": 3, "offset": -1}, "input.select.offset"),
    ({"fraction": 0.5, "offset": 1}, "offset goes with every only"),
    ({"every": 2, "salt": "x"}, "salt goes with fraction only"),
    ({"keys": []}, "input.select.keys"),
    ({"keys": ["a", "b", "a"]}, "key 'a' is listed twice"),
    ({"keys": ["a", 7]}, "input.select.keys"),
    ({"keys": ["a\nb"]}, "on one line"),
    ({"keys": ["k"] * (MAX_SELECT_KEYS + 1)}, "input.select.keys"),
    ({"per_class": 1}, "input.select.per_class"),
])
def test_a_bad_selection_is_refused_naming_its_field(select, message):
    with pytest.raises(ConfigError, match=message) as err:
        config_with(select=select)
    assert "input.select" in str(err.value)


def test_the_selection_is_part_of_the_release_identity():
    digests = {config_digest(config_with(select=s)) for s in (
        None, {"fraction": 0.5}, {"fraction": 0.5, "salt": "b"}, {"fraction": 0.25}, {"every": 2},
        {"every": 2, "offset": 1}, {"keys": ["a"]}, {"keys": ["a", "b"]})}
    assert len(digests) == 8


def test_a_keys_file_becomes_the_keys_it_lists(tmp_path):
    (tmp_path / "keys.txt").write_text("# one per line\nskimage_coffee\n\n  skimage_clock  \n")
    config = load_config(HEATMAP, [f"input.select={{keys_file: {tmp_path / 'keys.txt'}}}"])
    assert config.input.select.keys == ["skimage_coffee", "skimage_clock"]
    (tmp_path / "keys.txt").write_text("skimage_coffee\n")  # an edit after loading is a new identity
    edited = load_config(HEATMAP, [f"input.select={{keys_file: {tmp_path / 'keys.txt'}}}"])
    assert config_digest(edited) != config_digest(config)
    assert "keys_file" not in str(config.model_dump())


@pytest.mark.parametrize("content, select, message", [
    (None, {"keys_file": "missing.txt"}, "input.select.keys_file .*missing.txt: cannot read it"),
    ("# only a comment\n\n", {"keys_file": "keys.txt"}, "input.select.keys_file .*lists no key"),
    (b"\xff\xfe", {"keys_file": "keys.txt"}, "not UTF-8"),
    ("a\na\n", {"keys_file": "keys.txt"}, "key 'a' is listed twice"),
    ("a\n", {"keys_file": "keys.txt", "keys": ["b"]}, "give keys or keys_file, not both"),
    ("a\n", {"keys_file": ["keys.txt"]}, "keys_file must be a path"),
])
def test_a_bad_keys_file_is_refused_naming_it(tmp_path, monkeypatch, content, select, message):
    monkeypatch.chdir(tmp_path)
    if isinstance(content, bytes):
        (tmp_path / "keys.txt").write_bytes(content)
    elif content is not None:
        (tmp_path / "keys.txt").write_text(content)
    flow = "{" + ", ".join(f"{k}: {v}" for k, v in select.items()) + "}"
    with pytest.raises(ConfigError, match=message):
        load_config(HEATMAP, [f"input.select={flow}"])
