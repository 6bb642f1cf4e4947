"""The worker without Ray: bad input gets a clear outcome, counts reconcile, bytes are stable."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from corrupter.config import validate_config
from corrupter.io.codec import decode_rgb_array
from corrupter.io.shards import ShardReadError
from corrupter.pipeline import worker as worker_module
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from tests.badshards import (
    BOMB_PIXELS,
    EXPECTED,
    EXPECTED_EXTRA,
    OK_KEYS,
    write_bad_shard,
    write_truncated_shard,
)
from tests.conftest import REPO
from tests.sampleshards import write_repeated_shard


def make_config(shards, out, **run):
    return validate_config({
        "name": "t", "version": "1.0.0", "input": {"shards": [str(s) for s in shards]},
        "preprocess": {"max_pixels": BOMB_PIXELS},
        "corruptions": [{"name": "contrast", "severities": [1, 5]}, {"name": "fog", "severities": [2]}],
        "output": {"uri": str(out)}, "run": run})


def run_all(config):
    worker = ShardWorker(config)
    return [r for unit in plan_units(config) for r in worker.run(unit).receipts]


def shard_members(root, receipts) -> dict[str, dict[str, bytes]]:
    """Output shard path -> {member name: bytes}, in the order written."""
    shards = {}
    for receipt in receipts:
        with tarfile.open(root / "t" / "1.0.0" / receipt.path) as tar:
            shards[receipt.path] = {m.name: tar.extractfile(m).read() for m in tar}
    return shards


def test_every_bad_sample_gets_a_clear_outcome_and_counts_reconcile(tmp_path):
    write_bad_shard(tmp_path / "bad.tar")
    receipts = run_all(make_config([tmp_path / "bad.tar"], tmp_path / "out"))
    assert len(receipts) == 3
    for receipt in receipts:
        reasons = {}
        for q in receipt.quarantined:
            reasons.setdefault(q.key, []).append(q.reason)
        for key, expected in EXPECTED.items():
            if expected != "ok":
                assert any(expected in r for r in reasons.get(key, [])), (key, reasons.get(key))
        for key, expected in EXPECTED_EXTRA.items():
            assert any(expected in r for r in reasons[key])
        assert receipt.samples == len(OK_KEYS)
        assert receipt.samples_read == receipt.samples + len(receipt.quarantined)
        shard = tmp_path / "out" / "t" / "1.0.0" / receipt.path
        with tarfile.open(shard) as tar:
            keys = sorted({m.name.split(".", 1)[0] for m in tar})
        assert keys == sorted(k.replace("/", "_").replace(".", "_") for k in OK_KEYS)


def test_a_truncated_tar_keeps_what_was_read_and_says_so(tmp_path):
    write_truncated_shard(tmp_path / "cut.tar", good=4)
    receipt = run_all(make_config([tmp_path / "cut.tar"], tmp_path / "out"))[0]
    assert receipt.samples == 4
    assert [q.key for q in receipt.quarantined] == ["sample4"]
    assert "truncated" in receipt.quarantined[0].reason
    assert any("truncated" in e for e in receipt.source.errors)
    assert receipt.samples_read == 5


def test_a_shard_that_is_not_a_tar_is_a_clear_error(tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ShardReadError, match="junk.tar"):
        run_all(make_config([tmp_path / "junk.tar"], tmp_path / "out"))


def test_batch_size_and_kernel_chunking_do_not_change_bytes(tmp_path, monkeypatch):
    """Neither run.batch_size nor the CPU kernel chunk (worker.CPU_KERNEL_BATCH) moves a byte.

    Nine samples: batches of 16 are split 4 + 4 + 1 by the default chunk, 2 x 4 + 1 by batches of 8."""
    shard = tmp_path / "nine.tar"
    write_repeated_shard(shard, 9)
    digests = []
    for batch_size, kernel_batch in ((1, 4), (8, 4), (16, 4), (16, 1), (16, 2), (16, 1000)):
        monkeypatch.setattr(worker_module, "CPU_KERNEL_BATCH", kernel_batch)
        out = tmp_path / f"b{batch_size}-k{kernel_batch}"
        receipts = run_all(make_config([shard], out, batch_size=batch_size, variants_per_unit=2))
        digests.append(sorted((r.path, r.sha256) for r in receipts))
        for r in receipts:
            assert r.samples == 9
            assert hashlib.sha256((out / "t" / "1.0.0" / r.path).read_bytes()).hexdigest() == r.sha256
    assert all(d == digests[0] for d in digests)


def test_a_tar_cut_at_a_member_boundary_is_reported_not_silently_short(tmp_path):
    import io

    from tests.badshards import _add, good_members

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(3):
            if i == 2:
                cut = buffer.tell()  # where sample2's first header starts
            for name, data in good_members(f"sample{i}", 200 + i):
                _add(tar, name, data)
    for end in (cut, cut + 200):  # exactly at the boundary, and inside the next header
        (tmp_path / "cut.tar").write_bytes(buffer.getvalue()[:end])
        receipt = run_all(make_config([tmp_path / "cut.tar"], tmp_path / f"out{end}"))[0]
        assert receipt.samples == 2
        assert any("no end-of-archive marker" in e for e in receipt.source.errors)


def test_long_keys_and_repeated_members_are_one_quarantine_entry_each(tmp_path):
    import io

    from tests.badshards import _add, good_members

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in good_members("k" * 96, 1) + good_members("ok", 2):
            _add(tar, name, data)
        jpg, cls = good_members("dup", 3)
        for name, data in (jpg, jpg, cls):
            _add(tar, name, data)
    (tmp_path / "odd.tar").write_bytes(buffer.getvalue())
    receipt = run_all(make_config([tmp_path / "odd.tar"], tmp_path / "out"))[0]
    reasons = sorted((q.key, q.reason.split(" ")[0]) for q in receipt.quarantined)
    assert reasons == [("dup", "duplicate"), ("k" * 96, "key")]
    assert receipt.samples == 1 and receipt.samples_read == 3


def test_resume_refuses_a_shard_changed_behind_its_receipt_and_redoes_a_missing_one(tmp_path):
    import os

    from corrupter.io.errors import StorageError
    from corrupter.io.storage import LocalStorage
    from corrupter.release.lifecycle import completed_receipts

    config = make_config([REPO / "data" / "sample" / "val-000000.tar"], tmp_path)
    receipts = run_all(config)
    release = LocalStorage(tmp_path / "t" / "1.0.0")
    units = {o.path for u in plan_units(config) for o in u.outputs}
    assert len(completed_receipts(release, units)) == len(receipts)
    gone, changed = (tmp_path / "t" / "1.0.0" / receipts[0].path), (tmp_path / "t" / "1.0.0" / receipts[1].path)
    gone.unlink()
    assert len(completed_receipts(release, units)) == len(receipts) - 1
    os.chmod(changed, 0o644)
    changed.write_bytes(changed.read_bytes() + b"\0" * 512)
    with pytest.raises(StorageError, match="no longer matches"):
        completed_receipts(release, units)


def test_a_release_begun_with_other_units_resumes_to_the_same_shards(tmp_path):
    """run.variants_per_unit is not part of a release's identity: a release begun with one unit per
    variant finishes with one unit for all three (the done shard is republished only because its
    bytes agree) and holds what a run with the new units alone writes."""
    from corrupter.io.storage import LocalStorage
    from corrupter.release.lifecycle import completed_receipts

    sample = REPO / "data" / "sample" / "val-000000.tar"
    begun = make_config([sample], tmp_path / "resumed", variants_per_unit=1)
    ShardWorker(begun).run(plan_units(begun)[0])  # the first of three units, then the job stops
    resumed = make_config([sample], tmp_path / "resumed", variants_per_unit=3)
    [unit] = plan_units(resumed)
    paths = {o.path for o in unit.outputs}
    release = LocalStorage(tmp_path / "resumed" / "t" / "1.0.0")
    assert len(completed_receipts(release, paths)) == 1  # not all of the unit's shards: it runs again
    receipts = ShardWorker(resumed).run(unit).receipts
    alone = make_config([sample], tmp_path / "alone", variants_per_unit=3)
    assert shard_members(tmp_path / "resumed", receipts) == shard_members(tmp_path / "alone", run_all(alone))
    assert len(completed_receipts(release, paths)) == 3


def test_an_input_that_changed_between_run_and_resume_is_refused():
    from corrupter.release.manifest import build_manifest
    from corrupter.release.receipts import Receipt

    def receipt(path, sha):
        return Receipt.model_validate({
            "path": path, "corruption": "fog", "variant": "1", "level": 1, "params": {}, "sha256": "0" * 64,
            "bytes": 1, "samples": 1, "samples_read": 1, "quarantined": [], "device_type": "cpu",
            "source": {"uri": "in.tar", "sha256": sha, "bytes": 10, "errors": []}})

    with pytest.raises(ValueError, match="changed while the release was being built"):
        build_manifest(name="n", version="1", config={}, digest="d", seed_scheme="s",
                       receipts=[receipt("a.tar", "1" * 64), receipt("b.tar", "2" * 64)])


def test_the_torchvision_jpeg_encoder_writes_jpegs_of_the_same_pixels(tmp_path):
    """output.jpeg_encoder=torchvision (nvJPEG on GPU workers) on the CPU: other bytes, same images;
    auto, the default, is Pillow on a CPU worker."""
    sample = REPO / "data" / "sample" / "val-000000.tar"
    shards = {}
    for encoder in ("auto", "pillow", "torchvision"):
        config = make_config([sample], tmp_path / encoder)
        config = config.model_copy(update={"output": config.output.model_copy(update={"jpeg_encoder": encoder})})
        [members] = shard_members(tmp_path / encoder, run_all(config)[:1]).values()
        shards[encoder] = {name: data for name, data in members.items() if name.endswith(".jpg")}
    assert shards["auto"] == shards["pillow"]
    assert shards["pillow"].keys() == shards["torchvision"].keys() and shards["pillow"]
    for name, data in shards["pillow"].items():
        assert data != shards["torchvision"][name]
        assert np.array_equal(decode_rgb_array(data), decode_rgb_array(shards["torchvision"][name]))


def test_auto_jpeg_encoder_is_nvjpeg_on_gpu_workers_only():
    assert worker_module.pick_jpeg_encoder("auto", torch.device("cpu")) == "pillow"
    assert worker_module.pick_jpeg_encoder("auto", torch.device("cuda")) == "torchvision"
    assert worker_module.pick_jpeg_encoder("pillow", torch.device("cuda")) == "pillow"


def imagenet_c_shards(tmp_path, label: str, device: str, fmt: str, encoder: str = "auto"):
    """The 19 ImageNet-C corruptions at severity 3 on the first sample shard: {path: {member: bytes}}."""
    config = validate_config({
        "name": "t", "version": "1.0.0", "input": {"shards": [str(REPO / "data" / "sample" / "val-000000.tar")]},
        "corruptions": [{"name": "imagenet-c", "severities": [3]},
                        {"name": "imagenet-c-extra", "severities": [3]}],
        "output": {"uri": str(tmp_path / label), "format": fmt, "jpeg_encoder": encoder},
        "run": {"device": device}})
    worker = ShardWorker(config)
    receipts = [r for unit in plan_units(config) for r in worker.run(unit).receipts]
    return worker, shard_members(tmp_path / label, receipts)


def check_gpu_written_shards(tmp_path, device: str, encoder: str) -> None:
    """Every shard a worker on ``device`` writes decodes whole and matches the CPU worker's:
    - PNG outputs (lossless) of the two devices agree as the kernels do (test_cpu_and_cuda_agree);
    - each JPEG the device's encoder writes (nvJPEG on a GPU) is as close to that device's PNG as
      libjpeg's at the same quality (mean absolute error within half a level of it);
    - the same members in the same order, and metadata byte for byte (draws are made on the CPU).
    """
    _, cpu_png = imagenet_c_shards(tmp_path, "cpu-png", "cpu", "png")
    _, device_png = imagenet_c_shards(tmp_path, "device-png", device, "png")
    worker, device_jpg = imagenet_c_shards(tmp_path, "device-jpg", device, "jpg", encoder)
    assert len(cpu_png) == 19 and cpu_png.keys() == device_png.keys() == device_jpg.keys()
    assert worker.jpeg_encoder == ("torchvision" if device == "cuda" else encoder)
    differences = []
    for path, cpu_members in cpu_png.items():
        jpg_members = device_jpg[path]
        assert list(device_png[path]) == list(cpu_members), path
        assert [n.rsplit(".", 1)[0] for n in jpg_members] == [n.rsplit(".", 1)[0] for n in cpu_members], path
        for name, data in cpu_members.items():
            if not name.endswith(".png"):
                assert device_png[path][name] == data and jpg_members[name] == data, (path, name)
                continue
            cpu_image = decode_rgb_array(data).astype(int)
            png = decode_rgb_array(device_png[path][name])
            differences.append(np.abs(png.astype(int) - cpu_image))
            jpeg = decode_rgb_array(jpg_members[name.replace(".png", ".jpg")]).astype(int)
            reference = io.BytesIO()
            Image.fromarray(png).save(reference, format="JPEG", quality=85)
            libjpeg = decode_rgb_array(reference.getvalue()).astype(int)
            errors = np.abs(jpeg - png).mean(), np.abs(libjpeg - png).mean()
            assert jpeg.shape == (224, 224, 3) and errors[0] < errors[1] + 0.5, (path, name, errors)
    differences = np.stack(differences)
    assert (differences > 1).mean() < 1e-3 and differences.mean() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_cuda_worker_writes_whole_shards_that_match_the_cpu_workers(tmp_path):
    check_gpu_written_shards(tmp_path, "cuda", "auto")


def test_the_gpu_shard_check_on_the_cpu_with_libjpeg_turbo(tmp_path):
    """The same check, with the CPU and torchvision's encoder standing in for the GPU and nvJPEG,
    so that it is known to pass where it can run without a GPU."""
    check_gpu_written_shards(tmp_path, "cpu", "torchvision")


def test_any_failure_in_one_sample_quarantines_it_and_the_unit_goes_on(tmp_path, monkeypatch):
    """Issue 15.1: not only ValueErrors: whatever one sample raises costs that sample only."""
    calls = []

    def flaky(data, preprocess):
        calls.append(len(data))
        if len(calls) == 2:
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")
        return worker_module.prepare_image.__wrapped__(data, preprocess)

    flaky.__wrapped__ = worker_module.prepare_image
    monkeypatch.setattr(worker_module, "prepare_image", flaky)
    receipt = run_all(make_config([REPO / "data" / "sample" / "val-000000.tar"], tmp_path))[0]
    assert receipt.samples == 2 and receipt.samples_read == 3
    [entry] = receipt.quarantined
    assert entry.reason == ("cannot use this sample: RecursionError: maximum recursion depth exceeded "
                               "while decoding a JSON array")


def test_a_reason_from_any_exception_holds_no_memory_address(tmp_path, monkeypatch):
    """Whatever a sample raises, its recorded reason is the same on every run (the manifest too)."""
    def broken(data, preprocess):
        raise RuntimeError(f"cannot convert {object()!r} (buffer at {hex(id(data))})")

    monkeypatch.setattr(worker_module, "prepare_image", broken)
    receipt = run_all(make_config([REPO / "data" / "sample" / "val-000000.tar"], tmp_path))[0]
    assert [q.reason for q in receipt.quarantined] == [
        "cannot use this sample: RuntimeError: cannot convert (buffer at 0x...)"] * 3


def test_labels_outside_num_classes_are_quarantined(tmp_path):
    config = make_config([REPO / "data" / "sample" / "val-000000.tar"], tmp_path)
    config = config.model_copy(update={"input": config.input.model_copy(update={"num_classes": 10})})
    receipt = run_all(config)[0]
    assert receipt.samples == 0 and receipt.samples_read == 3
    assert all("is outside 0..9 (input.num_classes is 10)" in q.reason for q in receipt.quarantined)


def test_concatenated_cut_and_bomb_shards_through_the_worker(tmp_path):
    """Issue 15.3 and 15.6: every sample of a concatenation written; a gzip of a cut tar and a gzip
    bomb each leave a record; read = written + quarantined throughout."""
    from tests.badshards import (
        CONCATENATED_KEYS,
        write_concatenated_shard,
        write_gzip_bomb,
        write_gzip_of_cut_tar,
    )

    write_concatenated_shard(tmp_path / "cat.tar")
    kept = write_gzip_of_cut_tar(tmp_path / "cut.tar.gz")
    write_gzip_bomb(tmp_path / "bomb.tar.gz")
    config = make_config([tmp_path / "cat.tar", tmp_path / "cut.tar.gz", tmp_path / "bomb.tar.gz"], tmp_path / "out")
    config = config.model_copy(update={"corruptions": config.corruptions[:1]})
    receipts = {r.source.uri.rsplit("/", 1)[1]: r for r in run_all(config) if r.level == 1}
    for receipt in receipts.values():
        assert receipt.samples_read == receipt.samples + len(receipt.quarantined)
    assert receipts["cat.tar"].samples == len(CONCATENATED_KEYS) and receipts["cat.tar"].source.errors == []
    assert receipts["cut.tar.gz"].samples == kept
    assert ["no end-of-archive marker" in e for e in receipts["cut.tar.gz"].source.errors] == [True]
    bomb = receipts["bomb.tar.gz"]
    assert bomb.samples == 2  # gzbomb_before and gzbomb_after, around the bomb
    assert {q.key: q.reason.split(",")[0] for q in bomb.quarantined} == {
        "gzbomb": "member 'gzbomb.jpg' declares 268"}


def levels_config(op, explicit, shard, out, variants_per_unit):
    """An op's five levels and explicit parameters around another op's variants: at 4 variants per
    unit, a unit of op/1 with contrast, one of levels 2..5 only, one of the explicit parameters."""
    return validate_config({
        "name": "t", "version": "1.0.0", "input": {"shards": [str(shard)]},
        "corruptions": [{"name": op, "severities": [1]}, {"name": "contrast", "severities": [1, 2, 3]},
                        {"name": op, "severities": [2, 3, 4, 5]}, {"name": op, "params": explicit}],
        "output": {"uri": str(out), "format": "png"}, "run": {"variants_per_unit": variants_per_unit}})


# zoom_blur's multi-level kernel is float in, float out; brightness's is on the 8-bit route (uint8
# levels in and out, no quantisation).
@pytest.mark.parametrize("op, explicit, dtype", [("zoom_blur", {"factors": [1.0, 1.12, 1.04, 1.12]}, torch.float32),
                                                 ("brightness", {"shift": -0.2}, torch.uint8)])
def test_variants_sharing_a_multi_level_kernel_call_write_the_bytes_of_one_call_each(
        op, explicit, dtype, tmp_path, monkeypatch):
    """An op's variants of a unit go through one multi-level call (ops.apply_batch_levels) per
    chunk; its shards are byte for byte those of one kernel call per variant (the route before it),
    whichever units and calls the levels fall into. Seven samples of three sizes, chunks of two."""
    shard = tmp_path / "seven.tar"
    write_repeated_shard(shard, 7)
    monkeypatch.setattr(worker_module, "CPU_KERNEL_BATCH", 2)
    calls, dtypes = [], set()

    def counted(spec, images, params_list):
        calls.append(len(params_list))
        dtypes.add(images.dtype)
        return apply_batch_levels(spec, images, params_list)

    from corrupter import ops
    from corrupter.ops import _registry

    apply_batch_levels = ops.apply_batch_levels
    monkeypatch.setattr(ops, "apply_batch_levels", counted)
    shards = {}
    for label, variants_per_unit, levels_per_call in (("units of 4", 4, 8), ("one unit", 9, 8),
                                                      ("calls of 4", 9, 4)):
        monkeypatch.setattr(worker_module, "LEVELS_PER_CALL", levels_per_call)
        calls.clear()
        config = levels_config(op, explicit, shard, tmp_path / label, variants_per_unit)
        shards[label] = shard_members(tmp_path / label, run_all(config))
        assert sorted(set(calls)) == {"units of 4": [4], "one unit": [6], "calls of 4": [2, 4]}[label]
    assert dtypes == {dtype}
    spec = ops.get_corruption(op)
    monkeypatch.setitem(_registry._REGISTRY, op, dataclasses.replace(spec, apply_levels=None))
    calls.clear()
    alone = shard_members(tmp_path / "alone", run_all(levels_config(op, explicit, shard, tmp_path / "alone", 9)))
    assert calls == [] and len(alone) == 9
    assert all(len(members) == 7 * 3 for members in alone.values())
    for label, members in shards.items():
        assert members == alone, label
