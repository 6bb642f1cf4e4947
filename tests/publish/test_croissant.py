"""croissant.json read by mlcroissant (the test extra): `mlcroissant validate` passes, and the
``samples`` record set gives every sample of a release of several cells (clean, two corruptions x two
variants; two shards each, whose member names repeat from cell to cell) exactly once, with its key,
label, corruption, variant and image (format, mode, size and the sha256 of its pixels) as the shards
hold them, read here with tarfile and PIL. mlcroissant runs in a subprocess with its own
CROISSANT_CACHE: it reads that variable once, at import, and keys extractions by relative URL, which
every test release shares."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO
from tests.pipeline.releases import SAMPLE, build_release, small_config

CORRUPTIONS = [{"name": "clean"}, {"name": "contrast", "severities": [1, 2]},
               {"name": "fog", "severities": [1, 2]}]

RECORDS = """
import hashlib, json, sys
import mlcroissant as mlc
out = []
for record in mlc.Dataset(sys.argv[1]).records("samples"):
    image = record["samples/image"]
    pixels = hashlib.sha256(image.tobytes()).hexdigest()
    out.append({"key": record["samples/key"].decode(), "label": record["samples/label"],
                "corruption": record["samples/corruption"].decode(),
                "variant": record["samples/variant"].decode(),
                "image": [image.format, image.mode, list(image.size), pixels]})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    config = small_config(tmp_path_factory.mktemp("out"), [SAMPLE, SAMPLE.with_name("val-000001.tar")],
                          corruptions=CORRUPTIONS)
    return build_release(config, with_metadata=True)


def truth(release: Path) -> Counter:
    """Every sample as its shard holds it: (corruption, variant, key, label, image) from the shard's
    path and its members, read with tarfile."""
    samples: Counter = Counter()
    for shard in sorted(release.glob("*/*/*.tar")):
        corruption, variant = shard.relative_to(release).parts[:2]
        members: dict[str, dict[str, bytes]] = {}
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                key, _, extension = member.name.rpartition(".")
                members.setdefault(key, {})[extension] = tar.extractfile(member).read()
        for key, files in members.items():
            image = Image.open(io.BytesIO(files["jpg"]))
            pixels = hashlib.sha256(image.tobytes()).hexdigest()
            samples[(corruption, variant, key, int(files["cls"]),
                     (image.format, image.mode, image.size, pixels))] += 1
    return samples


def mlcroissant(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CROISSANT_CACHE": str(tmp_path / "croissant")}
    command = ([sys.executable, "-c", code, *args] if code is not None
               else [str(Path(sys.executable).parent / "mlcroissant"), *args])
    done = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_mlcroissant_validates_croissant_json(release, tmp_path):
    done = mlcroissant(tmp_path, "validate", "--jsonld", str(release / "croissant.json"))
    assert "error" not in (done.stdout + done.stderr).lower()


def test_mlcroissant_gives_every_sample_with_its_image_label_corruption_and_variant(release, tmp_path):
    expected = truth(release)
    manifest = json.loads((release / "manifest.json").read_text())
    assert len(manifest["shards"]) == 5 * 2
    assert sum(expected.values()) == manifest["totals"]["samples"] == 5 * 6
    assert {(c, v) for c, v, *_ in expected} == {("clean", "1"), ("contrast", "1"), ("contrast", "2"),
                                                ("fog", "1"), ("fog", "2")}
    done = mlcroissant(tmp_path, str(release / "croissant.json"), code=RECORDS)
    records = json.loads(done.stdout.strip().splitlines()[-1])
    found = Counter((r["corruption"], r["variant"], r["key"], r["label"],
                     (r["image"][0], r["image"][1], tuple(r["image"][2]), r["image"][3])) for r in records)
    assert len(records) == sum(expected.values())
    assert found == expected
