"""End to end: the real CLI on a real local Ray cluster, on the committed demo config and data."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import webdataset as wds

from tests.conftest import run_cli
from tests.processes import is_loopback, listening_sockets, session_pids

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def shard_digests(release: Path) -> dict[str, str]:
    return {p.relative_to(release).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(release.rglob("*.tar"))}


def without_timestamp(manifest_path: Path) -> dict:
    manifest = json.loads(manifest_path.read_text())
    manifest.pop("created")
    return manifest


@pytest.fixture(scope="module")
def two_runs(ray_address, tmp_path_factory):
    """The demo config run twice with different workers, batch sizes and unit grouping."""
    out_a, out_b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    first = run_cli("run", "configs/demo.yaml", "--address", ray_address, "--no-progress",
                    "--set", f"output.uri={out_a}", "--set", "run.workers=1", "--set", "run.batch_size=1",
                    "--set", "run.variants_per_unit=26")
    assert first.returncode == 0, first.stderr
    second = run_cli("run", "configs/demo.yaml", "--address", ray_address, "--no-progress",
                     "--set", f"output.uri={out_b}", "--set", "run.workers=2", "--set", "run.batch_size=16",
                     "--set", "run.variants_per_unit=3")
    assert second.returncode == 0, second.stderr
    return out_a / "demo" / "1.0.0", out_b / "demo" / "1.0.0", first.stdout


def test_summary_is_printed(two_runs):
    _, _, stdout = two_runs
    assert "images    156 written" in stdout and "images/s" in stdout and "shards    52" in stdout


def test_same_config_same_bytes_whatever_the_execution(two_runs):
    a, b, _ = two_runs
    digests = shard_digests(a)
    assert len(digests) == (1 + 5 * 5) * 2  # (clean + corruptions x severities) x input shards
    assert digests == shard_digests(b)
    assert without_timestamp(a / "manifest.json") == without_timestamp(b / "manifest.json")
    assert (a / "manifest.json").read_bytes() != b"" and not (a / "_work").exists()


def test_manifest_lists_every_shard_with_checksums(two_runs):
    a, _, _ = two_runs
    manifest = json.loads((a / "manifest.json").read_text())
    assert {s["path"] for s in manifest["shards"]} == set(shard_digests(a))
    for shard in manifest["shards"]:
        data = (a / shard["path"]).read_bytes()
        assert shard["sha256"] == hashlib.sha256(data).hexdigest() and shard["bytes"] == len(data)
        assert shard["samples"] == 3 and len(shard["source"]["sha256"]) == 64
    assert manifest["totals"]["samples"] == 156 and manifest["quarantined"] == []
    assert "run" not in manifest["config"] and manifest["config_digest"].startswith("sha256:")


def test_output_reads_with_stock_webdataset(two_runs):
    a, _, _ = two_runs
    # The README's reading example: one corruption and severity, every shard by brace pattern.
    shards = f"{a}/fog/3/val-{{000000..000001}}.tar"
    samples = list(wds.WebDataset(shards, shardshuffle=False).decode("rgb").to_tuple("__key__", "jpg", "cls", "json"))
    assert [s[0] for s in samples][:3] == ["skimage_chelsea", "skimage_coffee", "skimage_rocket"]
    assert len(samples) == 6
    key, image, label, meta = samples[0]
    assert image.shape == (224, 224, 3) and label == 281
    assert meta["corruption"] == "fog" and meta["level"] == 3 and meta["params"] == {"strength": 2.5, "decay": 1.7}
    assert meta["source"] == {"shard": "val-000000.tar", "key": "skimage_chelsea"} and meta["seed"] > 0


def test_verify_passes_then_catches_a_tampered_shard(two_runs, tmp_path):
    a, _, _ = two_runs
    ok = run_cli("verify", str(a))
    assert ok.returncode == 0 and "OK  52 shards" in ok.stdout
    victim = a / "contrast" / "2" / "val-000001.tar"
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[2000] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad = run_cli("verify", str(a))
    assert bad.returncode == 1
    assert "contrast/2/val-000001.tar" in bad.stdout and "sha256" in bad.stdout


def test_a_finished_release_is_never_overwritten(two_runs, ray_address):
    _, b, _ = two_runs
    again = run_cli("run", "configs/demo.yaml", "--address", ray_address, "--no-progress",
                    "--set", f"output.uri={b.parent.parent}")
    assert again.returncode == 2
    assert "finished release" in again.stderr and "immutable" in again.stderr


def test_bad_config_field_is_named_before_any_work(tmp_path):
    bad = run_cli("run", "configs/demo.yaml", "--set", f"output.uri={tmp_path}", "--set", "run.wokers=3")
    assert bad.returncode == 2 and "run.wokers" in bad.stderr and "Extra inputs" in bad.stderr
    assert not any(tmp_path.iterdir())


def test_preview_writes_a_png_grid(two_runs, tmp_path):
    a, _, _ = two_runs
    out = tmp_path / "preview.png"
    done = run_cli("preview", str(a), "--out", str(out))
    assert done.returncode == 0, done.stderr
    from PIL import Image

    image = Image.open(out)
    assert image.size[0] > 6 * 128 and image.size[1] > 5 * 128


def test_the_cluster_the_jobs_ran_on_listens_on_loopback_only(two_runs, ray_address):
    """Every server of the test head (GCS, raylet, agents, workers), started with RAY_TEST_ENV,
    listens on 127.0.0.1 only."""
    port = int(ray_address.rsplit(":", 1)[1])
    everyone = {int(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    gcs = [pid for pid, _, listened in listening_sockets(everyone) if listened == port]
    assert gcs, f"nothing listens on {ray_address}"
    sockets = listening_sockets(session_pids(os.getsid(gcs[0])))
    assert len(sockets) >= 5 and all(is_loopback(address) for _, address, _ in sockets), sockets
