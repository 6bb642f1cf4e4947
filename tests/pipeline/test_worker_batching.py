"""How the worker feeds the kernels: images of mixed sizes grouped by shape, the 8-bit route.

Neither may move a byte: outputs are written in input order, and an 8-bit kernel gives the float
kernel's bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile

from corrupter import ops
from corrupter.config import validate_config
from corrupter.ops import _registry, digital
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from tests.sampleshards import SAMPLE, write_repeated_shard

# Resize only (no crop): the six sample photos keep their aspect ratios, four shapes in all.
RESIZE_ONLY = {"resize": 64, "crop": None}


def make_config(shard, out, corruptions, batch_size):
    return validate_config({
        "name": "t", "version": "1.0.0", "input": {"shards": [str(shard)]}, "preprocess": RESIZE_ONLY,
        "corruptions": corruptions, "output": {"uri": str(out)},
        "run": {"batch_size": batch_size, "variants_per_unit": 8}})


def run_all(config) -> dict[str, str]:
    worker = ShardWorker(config)
    receipts = [r for unit in plan_units(config) for r in worker.run(unit).receipts]
    root = config.output.uri
    return {r.path: hashlib.sha256(open(f"{root}/t/1.0.0/{r.path}", "rb").read()).hexdigest() for r in receipts}


def mixed_shard(path):
    """12 samples cycling through the six photos: the shape changes at nearly every sample."""
    write_repeated_shard(path, 12, sorted(SAMPLE.glob("val-*.tar")))
    return path


def test_mixed_sizes_are_grouped_by_shape_and_written_in_input_order(tmp_path, monkeypatch):
    shard = mixed_shard(tmp_path / "mixed.tar")
    corruptions = [{"name": "gaussian_noise", "severities": [2]}, {"name": "high_pass", "severities": [3]},
                   {"name": "pixelate", "severities": [4]}]
    calls: list[tuple[int, ...]] = []
    apply_batch = ops.apply_batch
    monkeypatch.setattr(ops, "apply_batch", lambda spec, images, *a, **k: (
        calls.append(tuple(images.shape)), apply_batch(spec, images, *a, **k))[1])
    one_by_one = run_all(make_config(shard, tmp_path / "b1", corruptions, batch_size=1))
    calls.clear()
    grouped = run_all(make_config(shard, tmp_path / "b12", corruptions, batch_size=12))
    assert one_by_one == grouped and len(grouped) == 3
    shapes = {shape[1:] for shape in calls}
    assert len(shapes) == 4, shapes  # every image kept its own size: nothing padded or cropped
    assert max(shape[0] for shape in calls) == 4, "equal shapes of a window share kernel calls"
    with tarfile.open(tmp_path / "b12" / "t" / "1.0.0" / next(iter(grouped))) as tar:
        keys = [m.name.split(".")[0] for m in tar if m.name.endswith(".jpg")]
    assert keys == [f"r{i:04d}" for i in range(12)]


def test_the_worker_takes_8_bit_kernels_and_writes_the_float_routes_bytes(tmp_path, monkeypatch):
    shard = tmp_path / "in.tar"
    write_repeated_shard(shard, 5)
    corruptions = [{"name": name, "severities": [2, 5]}
                   for name in ("pixelate", "jpeg_compression", "brightness", "saturate")]
    eight_bit = run_all(make_config(shard, tmp_path / "u8", corruptions, batch_size=4))

    def no_float_call(*args, **kwargs):
        raise AssertionError("the float kernel ran")

    for name in ("pixelate", "jpeg_compression", "brightness", "saturate"):
        spec = ops.get_corruption(name)
        monkeypatch.setitem(_registry._REGISTRY, name, dataclasses.replace(spec, apply=no_float_call))
    assert run_all(make_config(shard, tmp_path / "u8-again", corruptions, batch_size=4)) == eight_bit
    for name in ("pixelate", "jpeg_compression", "brightness", "saturate"):
        # Without its 8-bit kernel an op has no 8-bit multi-level kernel either (brightness, saturate).
        float_only = dataclasses.replace(ops.get_corruption(name), apply=getattr(digital, name), apply_uint8=None,
                                         apply_levels=None)
        monkeypatch.setitem(_registry._REGISTRY, name, float_only)
    assert run_all(make_config(shard, tmp_path / "float", corruptions, batch_size=4)) == eight_bit
