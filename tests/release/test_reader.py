"""corrupter.open_release: cells, samples equal to what stock webdataset reads, every shard checked
against the manifest while it streams (a changed byte, a cut, a missing shard, extra bytes), and a
location without a manifest named as such. The release is built without Ray (tests/pipeline/releases.py)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset as wds
from PIL import Image

import corrupter
from corrupter.publish.preview import CELL, HEADER_H, LABEL_W, write_preview
from corrupter.io.codec import encode_images, prepare_image
from corrupter.release import ManifestError, ReleaseNotFinished, ShardMismatch, ShardMissing
from tests.conftest import REPO
from tests.pipeline.releases import SAMPLE, build_release, small_config

CORRUPTIONS = [{"name": "clean"}, {"name": "contrast", "severities": [1, 2]}]
SHARDS = [SAMPLE, SAMPLE.parent / "val-000001.tar"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    return build_release(small_config(out, SHARDS, corruptions=CORRUPTIONS))


@pytest.fixture
def copy(built, tmp_path) -> Path:
    """A copy of the built release the test may damage."""
    target = tmp_path / "release"
    shutil.copytree(built, target)
    for path in target.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return target


def test_cells_are_the_corruption_variant_pairs_with_their_shards(built):
    release = corrupter.open_release(str(built))
    assert [(c.corruption, c.variant, c.level, c.params, c.samples) for c in release.cells] == [
        ("clean", "1", 1, {}, 6), ("contrast", "1", 1, {"factor": 0.4}, 6), ("contrast", "2", 2, {"factor": 0.3}, 6)]
    assert [s.path for s in release.cell("contrast", "2").shards] == ["contrast/2/val-000000.tar",
                                                                       "contrast/2/val-000001.tar"]
    assert release.manifest.name == "t" and release.config.preprocess.crop == 224
    assert release.manifest_sha256 == hashlib.sha256((built / "manifest.json").read_bytes()).hexdigest()
    assert release.shard("clean/1/val-000001.tar") is release.cell("clean", "1").shards[1]
    with pytest.raises(KeyError, match="contrast/3.*did you mean"):
        release.cell("contrast", "3")
    with pytest.raises(KeyError, match="no shard 'fog/1/val-000000.tar'"):
        release.shard("fog/1/val-000000.tar")


def test_samples_are_what_stock_webdataset_reads(built):
    release = corrupter.open_release(str(built))
    for cell in release.cells:
        ours = list(release.samples(cell))
        urls = [str(built / s.path) for s in cell.shards]
        theirs = list(wds.WebDataset(urls, shardshuffle=False).decode("torchrgb8")
                      .to_tuple("__key__", "jpg", "cls", "json"))
        assert len(ours) == len(theirs) == cell.samples
        for sample, (key, image, label, meta) in zip(ours, theirs):
            assert sample.key == key and sample.label == label and sample.metadata == meta
            assert sample.image.dtype == torch.uint8 and sample.image.shape == (3, 224, 224)
            assert torch.equal(sample.image, image)
            assert sample.metadata["corruption"] == cell.corruption and sample.metadata["variant"] == cell.variant


def test_the_clean_cell_is_the_input_through_the_same_recipe(built):
    """clean/1 holds each input image resized, cropped and JPEG-encoded exactly as every variant is."""
    release = corrupter.open_release(str(built))
    config = release.config
    with tarfile.open(SAMPLE) as tar:
        photos = {m.name.split(".")[0]: tar.extractfile(m).read() for m in tar if m.name.endswith(".jpg")}
    [shard] = [s for s in release.cell("clean", "1").shards if s.path.endswith("val-000000.tar")]
    stored = {s.key: s.image for s in release.read_shard(shard, decoder=bytes)}
    assert stored.keys() == photos.keys()
    for key, data in photos.items():
        pixels = prepare_image(data, config.preprocess)
        [expected] = encode_images(pixels[None], "jpg", config.output.jpeg_quality)
        assert stored[key] == expected, key


def test_one_changed_byte_fails_at_the_end_of_its_shard_naming_it(copy):
    victim = copy / "contrast" / "2" / "val-000001.tar"
    data = bytearray(victim.read_bytes())
    data[2000] ^= 0xFF  # inside the first image's data: the tar still parses
    victim.write_bytes(bytes(data))
    release = corrupter.open_release(str(copy))
    cell = release.cell("contrast", "2")
    assert len(list(release.read_shard(cell.shards[0]))) == 3  # the other shard is fine
    seen = []
    with pytest.raises(ShardMismatch, match="contrast/2/val-000001.tar: sha256 [0-9a-f]{64} differs"):
        for sample in release.samples(cell):
            seen.append(sample.key)
    assert len(seen) == 6  # yielded before the end of the shard showed it was bad (documented)


def test_a_changed_tar_header_is_still_reported_as_a_changed_shard(copy):
    victim = copy / "clean" / "1" / "val-000000.tar"
    data = bytearray(victim.read_bytes())
    data[0:4] = b"\xff\xfe\xfd\xfc"  # the first member's name
    victim.write_bytes(bytes(data))
    release = corrupter.open_release(str(copy))
    with pytest.raises(ShardMismatch, match="clean/1/val-000000.tar: sha256"):
        list(release.samples(release.cell("clean", "1")))


def test_a_truncated_shard_is_named(copy):
    victim = copy / "contrast" / "1" / "val-000000.tar"
    victim.write_bytes(victim.read_bytes()[:5000])
    release = corrupter.open_release(str(copy))
    with pytest.raises(ShardMismatch, match=r"contrast/1/val-000000.tar: 5000 bytes, the manifest records \d+"):
        list(release.samples(release.cell("contrast", "1")))


def test_a_grown_shard_is_not_read_past_its_recorded_size(copy):
    victim = copy / "contrast" / "1" / "val-000000.tar"
    size = victim.stat().st_size
    victim.write_bytes(victim.read_bytes() + b"\0" * 10_000_000)
    release = corrupter.open_release(str(copy))
    with pytest.raises(ShardMismatch, match=f"contrast/1/val-000000.tar: longer than the {size} bytes"):
        list(release.samples(release.cell("contrast", "1")))


def test_a_missing_shard_is_named(copy):
    (copy / "contrast" / "1" / "val-000001.tar").unlink()
    release = corrupter.open_release(str(copy))
    with pytest.raises(ShardMissing, match="contrast/1/val-000001.tar: missing"):
        list(release.samples(release.cell("contrast", "1")))


def test_a_location_without_a_manifest_says_whether_it_is_an_unfinished_release(copy, tmp_path):
    (copy / "manifest.json").unlink()
    with pytest.raises(ReleaseNotFinished, match=r"no manifest.json \(not a finished release\): nothing is there"):
        corrupter.open_release(str(copy))
    (copy / "_work").mkdir()
    (copy / "_work" / "config.json").write_text('{"config_digest": "x"}')
    with pytest.raises(ReleaseNotFinished, match="is an unfinished release.*`corrupter run`.*resume"):
        corrupter.open_release(str(copy))
    with pytest.raises(ReleaseNotFinished, match="not a finished release"):
        corrupter.open_release(str(tmp_path / "nothing-here"))


def test_a_manifest_with_a_path_out_of_the_release_is_refused_before_reading(copy):
    text = (copy / "manifest.json").read_text().replace('"path": "clean/1/val-000000.tar"',
                                                        '"path": "../../etc/hostname.tar"')
    (copy / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match="shards.0.path"):
        corrupter.open_release(str(copy))


def test_the_preview_puts_the_clean_cell_first(built, tmp_path):
    """Rows: clean, then contrast; columns: the input, then the variants. The clean row's variant
    is the input through the recipe (nearly the input), the contrast row's is not."""
    grid = np.asarray(Image.open(write_preview(str(built), str(tmp_path / "grid.png"), images=1)), dtype=float)
    assert grid.shape[:2] == (HEADER_H + 2 * (CELL + HEADER_H), LABEL_W + 3 * CELL)

    def tile(row: int, column: int) -> np.ndarray:
        top, left = HEADER_H + row * (CELL + HEADER_H), LABEL_W + column * CELL
        return grid[top + 20:top + CELL, left:left + CELL]  # below the column heading

    assert np.abs(tile(0, 1) - tile(0, 0)).mean() < 3 < np.abs(tile(1, 1) - tile(1, 0)).mean()



def test_the_readme_example_runs(built):
    """README "Reading a release in Python", as written, on this release (its contrast/2 for fog/3)."""
    section = (REPO / "README.md").read_text().split("### Reading a release in Python", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert '"releases/demo/1.0.0"' in example and 'release.cell("fog", "3")' in example
    example = example.replace('"releases/demo/1.0.0"', repr(str(built))).replace('"fog", "3"', '"contrast", "2"')
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)  # noqa: S102  (the point)
    assert scope["sample"].shard == "contrast/2/val-000001.tar" and scope["release"].manifest.name == "t"
