"""The README's recipe for turning an ImageNet val folder into input shards runs as written."""

from __future__ import annotations

import re
import tarfile

import yaml

from corrupter.config import load_config, validate_config
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from tests.conftest import REPO
from tests.sampleshards import SAMPLE

CLASSES = ("n01440764", "n01443537", "n01484850")


def readme_recipe() -> str:
    """The first Python block of the README's "Your own data" section."""
    section = (REPO / "README.md").read_text().split("### Your own data", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def sample_photos() -> list[bytes]:
    photos = []
    for shard in sorted(SAMPLE.glob("val-*.tar")):
        with tarfile.open(shard) as tar:
            photos += [tar.extractfile(m).read() for m in tar if m.name.endswith(".jpg")]
    return photos


def test_the_imagenet_val_recipe_makes_shards_the_worker_corrupts(tmp_path):
    root = tmp_path / "imagenet"
    expected = {}  # key -> label: photo n goes to class n % 3, so file-name order mixes the classes
    for n, photo in enumerate(sample_photos(), start=1):
        key = f"ILSVRC2012_val_{n:08d}"
        folder = root / "val" / CLASSES[n % 3]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{key}.JPEG").write_bytes(photo)
        expected[key] = sorted(CLASSES).index(CLASSES[n % 3])
    # no shards folder yet: the recipe makes it
    recipe = readme_recipe()
    assert "/data/imagenet" in recipe
    exec(compile(recipe.replace("/data/imagenet", str(root)), "README.md", "exec"), {})  # noqa: S102  (the point)

    shards = sorted((root / "shards").glob("val-*.tar"))
    assert [s.name for s in shards] == ["val-000000.tar"]
    config = validate_config({
        "name": "mine", "version": "1.0.0", "input": {"shards": [str(s) for s in shards]},
        "corruptions": [{"name": "contrast", "severities": [1]}], "output": {"uri": str(tmp_path / "out")}})
    worker = ShardWorker(config)
    reports = [worker.run(unit) for unit in plan_units(config)]
    [receipt] = [r for report in reports for r in report.receipts]
    assert receipt.samples == len(expected) and not receipt.quarantined
    with tarfile.open(tmp_path / "out" / "mine" / "1.0.0" / receipt.path) as tar:
        labels = {m.name.split(".")[0]: int(tar.extractfile(m).read()) for m in tar if m.name.endswith(".cls")}
    assert labels == expected and list(labels) == sorted(expected)  # file-name order


def test_the_readme_config_example_validates_and_plans():
    """The annotated config under "Using it" is a config corrupter accepts, as written."""
    section = (REPO / "README.md").read_text().split("## Using it", 1)[1]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1))
    variants = {(shard.variant.corruption, shard.variant.name)
                for unit in plan_units(validate_config(example)) for shard in unit.outputs}
    assert len(variants) == 15 * 5 + 1 + 3 * 5  # the grid: i in [0, 4, 8], j in -2..2


def test_the_one_image_per_class_keys_file_recipe_selects_one_per_class(tmp_path, monkeypatch):
    """The keys-file snippet of "Sweeps and subsets", on a class-folder layout, then the config that uses it."""
    val = tmp_path / "imagenet" / "val"
    for n in range(1, 10):
        folder = val / CLASSES[n % 3]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"ILSVRC2012_val_{n:08d}.JPEG").write_bytes(b"")
    section = (REPO / "README.md").read_text().split("### Sweeps and subsets", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet.replace("/data/imagenet", str(tmp_path / "imagenet")), "README.md", "exec"), {})  # noqa: S102
    config = load_config(REPO / "configs" / "fourier-heatmap.yaml",
                         ["input.select={keys_file: one-per-class.txt}"])
    # n % 3 == 0, 1, 2 -> classes 0, 1, 2; the first of each in file-name order: 3, 1, 2 (sorted by class name)
    assert config.input.select.keys == ["ILSVRC2012_val_00000003", "ILSVRC2012_val_00000001",
                                        "ILSVRC2012_val_00000002"]
