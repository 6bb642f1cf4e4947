"""Versions are semantic versions, checked before any work; NAME/index.json lists every version and
the latest by semver precedence, and concurrent writers (threads, processes) lose no entry."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from corrupter.config import ConfigError, validate_config
from corrupter.config.semver import semver_key
from corrupter.io.errors import ChangedMeanwhile, StorageError
from corrupter.io.storage import LocalStorage
from corrupter.release.catalogue import CatalogueError, read_catalogue, record_release
from corrupter.release.manifest import parse_manifest
from tests.conftest import run_cli
from tests.publish.builds import build

PRECEDENCE = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
              "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.1.0-rc.1", "1.1.0", "1.10.0", "2.0.0"]


def test_semver_precedence_follows_semver_org():
    shuffled = PRECEDENCE[::-1][3:] + PRECEDENCE[::-1][:3]
    assert sorted(shuffled, key=semver_key) == PRECEDENCE


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-rc..1", "1.0.0-01",
                                     "1.0.0+build.5", "1.0.0 ", "１.0.0"])
def test_a_version_that_is_not_semver_is_refused_naming_the_field(version):
    raw = {"name": "x", "version": version, "input": {"shards": "a.tar"}, "corruptions": [{"name": "fog"}]}
    with pytest.raises(ConfigError, match=r"version.*(semantic version|letters, digits)"):
        validate_config(raw)


def test_the_command_refuses_a_non_semver_version_before_any_work(tmp_path):
    done = run_cli("run", "configs/demo.yaml", "--no-progress", "--set", "version=1.0",
                   "--set", f"output.uri={tmp_path / 'out'}")
    assert done.returncode == 2, done.stderr
    assert "version: Value error, version 1.0 is a number, not a semantic version" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Three versions, built out of order; each commit records itself in t/index.json."""
    out = tmp_path_factory.mktemp("out")
    return {v: build(out, v) for v in ("1.1.0-rc.1", "1.1.0", "1.0.0")}


def test_every_built_version_is_in_the_catalogue_and_latest_is_by_precedence(built):
    benchmark = built["1.0.0"].parent
    catalogue = read_catalogue(LocalStorage(benchmark))
    assert [e.version for e in catalogue.versions] == ["1.0.0", "1.1.0-rc.1", "1.1.0"]
    assert catalogue.latest == "1.1.0"  # built before 1.0.0, and above its own pre-release
    for entry in catalogue.versions:
        data = (built[entry.version] / "manifest.json").read_bytes()
        manifest = parse_manifest(data, "m")
        assert entry.manifest_sha256 == __import__("hashlib").sha256(data).hexdigest()
        assert entry.totals == manifest.totals and entry.created == manifest.created
        assert entry.corruptions == ["clean", "contrast", "fog"]


def test_recording_again_changes_nothing_and_another_manifest_is_refused(built, tmp_path):
    benchmark = LocalStorage(built["1.0.0"].parent)
    before = (built["1.0.0"].parent / "index.json").read_bytes()
    manifest = parse_manifest((built["1.0.0"] / "manifest.json").read_bytes(), "m")
    sha = json.loads(before)["versions"][0]["manifest_sha256"]
    assert record_release(benchmark, manifest, sha) is False
    assert (built["1.0.0"].parent / "index.json").read_bytes() == before
    with pytest.raises(CatalogueError, match="records version 1.0.0 with manifest sha256"):
        record_release(benchmark, manifest, "f" * 64)


@pytest.mark.parametrize("content, problem", [(b"{not json", "not valid JSON"),
                                              (b'{"format": "other"}', "not a catalogue"),
                                              (b'{"format": "corrupter-catalogue/1", "name": "t", "latest": "1", "versions": []}',
                                               "latest")])
def test_a_damaged_catalogue_is_refused_not_overwritten(built, tmp_path, content, problem):
    benchmark = tmp_path / "t"
    benchmark.mkdir()
    (benchmark / "index.json").write_bytes(content)
    manifest = parse_manifest((built["1.0.0"] / "manifest.json").read_bytes(), "m")
    with pytest.raises(CatalogueError, match=problem):
        record_release(LocalStorage(benchmark), manifest, "a" * 64)
    assert (benchmark / "index.json").read_bytes() == content


def test_a_local_compare_and_swap_with_a_stale_tag_is_refused(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.replace_tagged("index.json", b"one", None)
    with pytest.raises(ChangedMeanwhile):
        storage.replace_tagged("index.json", b"two", None)  # it exists now
    _, tag = storage.read_tagged("index.json")
    storage.replace_tagged("index.json", b"two", tag)
    with pytest.raises(ChangedMeanwhile):
        storage.replace_tagged("index.json", b"three", tag)  # stale: "one" was replaced
    assert storage.read_bytes("index.json") == b"two"


def _versions(count: int, offset: int) -> list[str]:
    return [f"{offset}.{i}.0" for i in range(count)]


def _record_many(benchmark: str, template: bytes, versions: list[str]) -> None:
    manifest = parse_manifest(template, "m")
    for version in versions:
        record_release(LocalStorage(benchmark), manifest.model_copy(update={"version": version}),
                       __import__("hashlib").sha256(version.encode()).hexdigest())


def test_concurrent_threads_and_processes_lose_no_entry(built, tmp_path):
    """Two processes and four threads record six versions each into one new catalogue at once."""
    template = (built["1.0.0"] / "manifest.json").read_bytes()
    benchmark = str(tmp_path / "t")
    context = multiprocessing.get_context("fork")  # before any thread starts; spawn would import torch again
    processes = [context.Process(target=_record_many, args=(benchmark, template, _versions(6, n)))
                 for n in range(4, 6)]
    threads = [threading.Thread(target=_record_many, args=(benchmark, template, _versions(6, n))) for n in range(4)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*threads, *processes):
        worker.join(120)
    assert all(p.exitcode == 0 for p in processes)
    catalogue = read_catalogue(LocalStorage(benchmark))
    assert sorted((e.version for e in catalogue.versions), key=semver_key) == [
        v for n in range(6) for v in _versions(6, n)]
    assert catalogue.latest == "5.5.0"


def test_releases_prints_the_versions_newest_first(built):
    done = run_cli("releases", str(built["1.0.0"].parent))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "CREATED", "SHARDS"]
    assert [line.split()[0] for line in lines[1:4]] == ["1.1.0", "1.1.0-rc.1", "1.0.0"]
    assert "(latest)" in lines[1] and "3: clean, contrast, fog" in lines[1]
    assert lines[-1] == "3 version(s) of t; latest 1.1.0"
    with pytest.raises(CatalogueError, match="no catalogue there"):
        read_catalogue(LocalStorage(built["1.0.0"].parent.parent / "nothing"))


def test_a_run_whose_catalogue_cannot_be_updated_keeps_its_release_and_says_how_to_record_it(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "index.json").write_text("{damaged")
    with pytest.raises(StorageError, match=r"1.0.0 is committed, but the catalogue was not updated \(.*not valid "
                                           r"JSON.*record it with `corrupter publish .*/t/1.0.0 "):
        build(tmp_path, "1.0.0")
    assert (tmp_path / "t" / "1.0.0" / "manifest.json").is_file()
    assert (tmp_path / "t" / "index.json").read_text() == "{damaged"
