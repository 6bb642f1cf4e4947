"""The three recipes of issue 13 end to end: the real CLI on a real Ray cluster, on the sample shards,
each run with one worker and with two (other batch sizes and unit groupings too): the same bytes.

Cheap by design (two cores): the heat map on the 3 x 3 centre of its grid with a subset rule that
keeps 4 of the 6 photos; Geirhos et al. 2018 whole (54 variants, fast ops); ImageNet-C-bar at its
strongest level (10 of its 50 variants: its ops are the slowest).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from corrupter import ops
from corrupter.config import load_config
from corrupter.io.codec import prepare_image
from corrupter.io.storage import LocalStorage
from corrupter.pipeline.plan import plan_variants, planned_shards
from corrupter.release.verify import verify_release
from corrupter.seeding import make_generator
from tests.conftest import REPO, run_cli
from tests.pipeline.releases import reconcile
from tests.pipeline.test_e2e import shard_digests, without_timestamp
from tests.test_config_sweeps import documented_fraction

pytestmark = [pytest.mark.ray, pytest.mark.slow]

HEATMAP_SETS = ("input.select.fraction=0.5", "corruptions.0.grid.i={range: [-1, 1]}",
                "corruptions.0.grid.j={range: [-1, 1]}")
RECIPES = {
    "fourier-heatmap": HEATMAP_SETS,
    "geirhos2018": (),
    "imagenet-c-bar": ("corruptions.0.levels=[5]",),
}
EXECUTIONS = {  # worker count, batch size, variants per unit: none of it may change a byte
    "one": ("run.workers=1", "run.batch_size=3", "run.variants_per_unit=100"),
    "two": ("run.workers=2", "run.batch_size=2", "run.variants_per_unit=7"),
}


@pytest.fixture(scope="module")
def releases(ray_address, tmp_path_factory) -> dict[tuple[str, str], Path]:
    built = {}
    for recipe, sets in RECIPES.items():
        for execution, run_sets in EXECUTIONS.items():
            out = tmp_path_factory.mktemp(f"{recipe}-{execution}")
            args = [x for s in (f"output.uri={out}", *sets, *run_sets) for x in ("--set", s)]
            done = run_cli("run", f"configs/{recipe}.yaml", "--address", ray_address, "--no-progress", *args)
            assert done.returncode == 0, done.stderr
            built[recipe, execution] = out / recipe / "1.0.0"
    return built


@pytest.mark.parametrize("recipe", RECIPES)
def test_each_recipe_gives_the_same_bytes_on_one_worker_and_on_two(releases, recipe):
    one, two = releases[recipe, "one"], releases[recipe, "two"]
    variants = plan_variants(load_config(REPO / "configs" / f"{recipe}.yaml", list(RECIPES[recipe])))
    digests = shard_digests(one)
    assert len(digests) == 2 * len(variants) > 0
    assert digests == shard_digests(two)
    assert without_timestamp(one / "manifest.json") == without_timestamp(two / "manifest.json")
    manifest = json.loads((one / "manifest.json").read_text())
    reconcile(manifest)
    assert verify_release(LocalStorage(one), planned_shards)[1] == []


def test_the_heatmap_subset_and_grid_come_out_as_configured(releases):
    release = releases["fourier-heatmap", "one"]
    names = sorted(p.name for p in (release / "fourier_basis_noise").iterdir())
    assert names == [f"i{i}_j{j}_norm+15.7" for i in ("+00", "+01", "-01") for j in ("+00", "+01", "-01")]
    manifest = json.loads((release / "manifest.json").read_text())
    photos = {"val-000000.tar": ["skimage_chelsea", "skimage_coffee", "skimage_rocket"],
              "val-000001.tar": ["skimage_camera", "skimage_clock", "skimage_astronaut"]}
    for source in manifest["sources"]:
        kept = [k for k in photos[Path(source["uri"]).name] if documented_fraction(k) < 0.5]
        assert (source["samples_read"], source["samples_selected"], source["samples_ok"]) == (3, len(kept), len(kept))
    assert manifest["config"]["input"]["select"]["fraction"] == 0.5 and manifest["totals"]["samples"] == 4 * 9


def test_a_heatmap_image_is_the_clean_crop_plus_the_signed_basis_exactly(releases):
    """PNG is lossless: the written pixels are the kernel's output for the recorded seed, byte for byte."""
    import tarfile

    shard = releases["fourier-heatmap", "two"] / "fourier_basis_noise" / "i-01_j+01_norm+15.7" / "val-000000.tar"
    with tarfile.open(shard) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    meta = json.loads(members["skimage_coffee.json"])
    assert meta["params"] == {"i": -1, "j": 1, "norm": 15.7} and set(meta["sampled"]) == {"signs"}
    with tarfile.open(REPO / "data" / "sample" / "val-000000.tar") as tar:
        clean_bytes = tar.extractfile("skimage_coffee.jpg").read()
    config = load_config(REPO / "configs" / "fourier-heatmap.yaml")
    clean = prepare_image(clean_bytes, config.preprocess)[None].float() / 255
    spec = ops.get_corruption("fourier_basis_noise")
    expected, _ = ops.apply_batch(spec, clean, meta["params"], [make_generator(meta["seed"])])
    written = torch.from_numpy(np.array(Image.open(io.BytesIO(members["skimage_coffee.png"])))).permute(2, 0, 1)
    assert torch.equal(written, ops.quantize_uint8(expected)[0])
    assert not torch.equal(written, ops.quantize_uint8(clean)[0])
