"""Training-set and full-benchmark scale: the plan and what the driver keeps stay per shard, never
per sample. Shard names are made up (no file exists): planning must not need the inputs.
Planning time and the driver's memory at this size are measured in bench/bench_plan.py."""

from __future__ import annotations

import json

from corrupter.config import load_config
from corrupter.pipeline.dryrun import dry_run_variants
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.manifest import build_manifest
from corrupter.release.receipts import Receipt
from tests.conftest import REPO
from tests.sampleshards import write_repeated_shard

TRAIN = "input.shards=/nowhere/imagenet/train-{000000..001280}.tar"  # ImageNet train: 1,281 shards
VAL = "input.shards=/nowhere/imagenet/val-{000000..000049}.tar"       # ImageNet val: 50 shards


def outputs_of(units):
    return [o for u in units for o in u.outputs]


def test_the_training_recipe_plans_1281_shards_without_reading_them():
    config = load_config(REPO / "configs" / "imagenet-train-highpass.yaml", [TRAIN])
    units = plan_units(config)
    dry_run_variants(config, (o.variant for o in outputs_of(units)))
    assert len(units) == 1281 and [u.source_index for u in units] == list(range(1281))
    paths = [o.path for o in outputs_of(units)]
    assert paths[0] == "high_pass/5/train-000000.tar" and paths[-1] == "high_pass/5/train-001280.tar"
    assert units[-1].source == "/nowhere/imagenet/train-001280.tar"
    assert (config.input.split, config.preprocess.resize, config.preprocess.crop) == ("train", 256, None)


def test_every_level_of_the_training_recipe_on_1281_shards():
    config = load_config(REPO / "configs" / "imagenet-train-highpass.yaml",
                         [TRAIN, "corruptions=[{name: high_pass}]", "run.variants_per_unit=5"])
    outputs = outputs_of(plan_units(config))
    assert len(outputs) == 1281 * 5 == len({o.path for o in outputs})


def test_the_full_imagenet_c_plans_50_shards_by_96_variants():
    config = load_config(REPO / "configs" / "imagenet-c.yaml", [VAL])
    units = plan_units(config)
    outputs = outputs_of(units)
    # 19 corruptions x 5 severities and the clean cell, 32 variants per unit
    assert len(units) == 50 * 3 and len(outputs) == 50 * 96 == len({o.path for o in outputs})
    assert {len(u.outputs) for u in units} == {32}
    # one Variant object per variant, shared by the 50 shards' outputs: the plan grows with shards
    # times variants, and holds nothing per sample
    assert len({id(o.variant) for o in outputs}) == 96


def receipt_size_without_digits(receipt: dict) -> int:
    """The receipt's JSON length with every digit and hex digit taken out (counts, sizes, hashes)."""
    return len("".join(c for c in json.dumps(receipt, sort_keys=True) if c not in "0123456789abcdef"))


def test_what_a_worker_returns_to_the_driver_does_not_grow_with_the_samples(tmp_path):
    """A receipt (all the driver keeps of an output shard) has counts and hashes, not per-sample
    entries: 3 and 40 samples give receipts of the same size but for their digits. Only quarantined
    samples are listed (per source: bounded by the bad samples, not by the shard)."""
    sizes = []
    for samples in (3, 40):
        shard = tmp_path / f"in{samples}.tar"
        write_repeated_shard(shard, samples)
        config = load_config(REPO / "configs" / "imagenet-train-highpass.yaml",
                             [f"input.shards=[{shard}]", f"output.uri={tmp_path / str(samples)}",
                              "preprocess.resize=64"])
        [unit] = plan_units(config)
        [receipt] = ShardWorker(config).run(unit).receipts
        assert receipt.samples == samples and receipt.quarantined == []
        sizes.append(receipt_size_without_digits(receipt.model_dump(mode="json")))
    assert sizes[0] == sizes[1]


def test_the_manifest_of_a_training_set_holds_one_entry_per_shard():
    """1,281 receipts of 1,000 samples each (a 1.28 M-image release): the manifest lists shards and
    sources, and only the quarantined samples one by one."""
    receipts = []
    for index in range(1281):
        source = f"/nowhere/imagenet/train-{index:06d}.tar"
        quarantined = [{"key": f"n{index}_bad", "reason": "undecodable image"}] if index % 400 == 0 else []
        receipts.append(Receipt.model_validate({
            "path": f"high_pass/5/train-{index:06d}.tar", "corruption": "high_pass", "variant": "5", "level": 5,
            "params": {"bandwidth": 63}, "sha256": f"{index:064x}", "bytes": 10**8, "samples": 1000 - len(quarantined),
            "samples_read": 1000, "quarantined": quarantined, "device_type": "cpu",
            "source": {"uri": source, "sha256": f"{index + 1:064x}", "bytes": 10**8, "errors": []}}))
    manifest = build_manifest(name="t", version="1", config={}, digest="sha256:" + "0" * 64,
                              seed_scheme="s", receipts=receipts)
    assert len(manifest.shards) == len(manifest.sources) == 1281
    assert len(manifest.quarantined) == 4  # the bad samples only
    assert manifest.totals.source_samples_read == 1_281_000
