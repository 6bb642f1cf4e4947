"""configs/geirhos2018.yaml: plans every level of the ten distortions and runs end to end on a sample
shard (the worker without Ray; the Ray end-to-end path is tests/pipeline/test_e2e.py's)."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from corrupter import ops
from corrupter.publish.preview import CELL, HEADER_H, LABEL_W, _label, write_preview
from corrupter.config import ConfigError, load_config
from corrupter.config.loading import config_digest, release_identity
from corrupter.pipeline.plan import plan_units, plan_variants
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.manifest import ShardEntry, build_manifest, dump_manifest
from corrupter.seeding import SEED_SCHEME
from tests.conftest import REPO

RECIPE = REPO / "configs" / "geirhos2018.yaml"
LEVEL_COUNTS = {"grayscale": 1, "grayscale_contrast": 8, "uniform_noise": 8, "salt_and_pepper_noise": 8,
                "gaussian_low_pass": 8, "gaussian_high_pass": 8, "phase_noise": 7, "power_equalisation": 1,
                "false_colour": 1, "rotation": 4}


def strict_json(raw: bytes | str) -> dict:
    """json.loads that refuses Infinity / NaN, as a strict JSON reader would."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(raw, parse_constant=refuse)


def test_the_recipe_plans_every_level_of_every_distortion():
    variants = plan_variants(load_config(RECIPE))
    per_op: dict[str, list] = {}
    for v in variants:
        per_op.setdefault(v.corruption, []).append(v)
    assert {op: len(vs) for op, vs in per_op.items()} == LEVEL_COUNTS
    for op, vs in per_op.items():
        spec = ops.get_corruption(op)
        assert [v.name for v in vs] == [str(n) for n in spec.level_numbers]
        assert [v.level for v in vs] == spec.level_numbers
        assert [v.param_dict for v in vs] == [dict(p) for p in spec.levels]
    assert per_op["gaussian_high_pass"][0].param_dict == {"sigma": "inf"}
    assert per_op["grayscale"][0].param_dict == {}


def test_infinity_is_refused_in_a_config_and_the_string_inf_is_taken(tmp_path):
    line = next(x for x in RECIPE.read_text().splitlines() if x.startswith("  - name: geirhos2018"))
    text = RECIPE.read_text().replace(line, "  - name: gaussian_high_pass\n    params: {sigma: SIGMA}")
    assert "SIGMA" in text
    for bad in (".inf", "-.inf", ".nan"):
        (tmp_path / "bad.yaml").write_text(text.replace("SIGMA", bad))
        with pytest.raises(ConfigError, match="not a finite number"):
            load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="not a finite number"):
        load_config(RECIPE, ["corruptions=[{name: gaussian_high_pass, grid: {sigma: [3.0, .inf]}}]"])
    (tmp_path / "good.yaml").write_text(text.replace("SIGMA", "inf"))
    (variant,) = plan_variants(load_config(tmp_path / "good.yaml"))
    assert variant.param_dict == {"sigma": "inf"} and variant.name == "sigmainf"


def test_the_recipe_runs_end_to_end_on_a_sample_shard(tmp_path):
    config = load_config(RECIPE, ["input.shards=" + str(REPO / "data" / "sample" / "val-000000.tar"),
                                  f"output.uri={tmp_path}"])
    (unit,) = plan_units(config)
    assert len(unit.outputs) == sum(LEVEL_COUNTS.values())
    receipts = ShardWorker(config).run(unit).receipts
    assert len(receipts) == len(unit.outputs) and all(r.samples == 3 for r in receipts)
    root = tmp_path / "geirhos2018" / "1.0.0"
    for receipt in receipts:
        with tarfile.open(root / receipt.path) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar}
        metas = [strict_json(v) for k, v in members.items() if k.endswith(".json")]
        assert {(m["level"], json.dumps(m["params"])) for m in metas} == {
            (receipt.level, json.dumps(receipt.params))}
        pixels = [np.asarray(Image.open(io.BytesIO(v))) for k, v in members.items() if k.endswith(".png")]
        grey = all((p == p[..., :1]).all() for p in pixels)
        assert grey == (receipt.corruption != "false_colour"), receipt.path
    manifest = build_manifest(name=config.name, version=config.version, config=release_identity(config),
                              digest=config_digest(config), seed_scheme=SEED_SCHEME, receipts=receipts)
    (root / "manifest.json").write_bytes(dump_manifest(manifest))
    loaded = strict_json((root / "manifest.json").read_bytes())
    assert {(s["corruption"], s["level"]) for s in loaded["shards"]} == {
        (op, n) for op, count in LEVEL_COUNTS.items() for n in range(1, count + 1)}
    # The preview: one row per op, clean + its levels as columns (up to 8), headed by their parameters.
    grid = Image.open(write_preview(str(root), str(tmp_path / "grid.png"), images=1))
    assert grid.size == (LABEL_W + 9 * CELL, HEADER_H + len(LEVEL_COUNTS) * (CELL + HEADER_H))
    shards = [ShardEntry.model_validate(s) for s in loaded["shards"]]
    assert _label(next(s for s in shards if s.corruption == "gaussian_high_pass" and s.level == 1)) == "1 sigma=inf"
    assert _label(next(s for s in shards if s.corruption == "grayscale")) == "1"
    # Same config, same bytes: rerun the random ops' variants into a fresh directory.
    random = tuple(o for o in unit.outputs if ops.get_corruption(o.variant.corruption).stochastic)
    fresh = load_config(RECIPE, ["input.shards=" + str(REPO / "data" / "sample" / "val-000000.tar"),
                                 f"output.uri={tmp_path / 'again'}"])
    again = ShardWorker(fresh).run(dataclasses.replace(unit, outputs=random)).receipts
    first = {r.path: r.sha256 for r in receipts}
    assert len(again) == 23 and all(first[r.path] == r.sha256 for r in again)
