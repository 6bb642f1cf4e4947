"""The golden releases: two small releases, fixed forever, whose bytes are stored in
tests/data/golden/digests.json (tests/golden/test_golden.py recomputes them).

Every documented promise about bytes meets here: the seed scheme (corrupter/seeding.py), the
release seed (name#seed), the member order and tar headers, the encoders' settings, and every op's
output. One release in PNG (lossless: a change of one pixel level in any op shows), one in JPEG
(the encoder settings of ImageNet-C's JPEG step).

To record new digests after a deliberate change of bytes (a new seed scheme or op name, with a
changelog entry; never a silent change):  python -m tests.golden.release --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
import tempfile
from pathlib import Path

import torch

from corrupter.config import validate_config
from corrupter.pipeline.worker import release_seed
from corrupter.seeding import SEED_SCHEME, derive_seed
from tests.conftest import REPO
from tests.pipeline.releases import build_release

DIGESTS = REPO / "tests" / "data" / "golden" / "digests.json"
INPUT = REPO / "data" / "sample" / "val-000000.tar"  # 3 photos, in the repository since the start

# One level of an op from each family and source (ImageNet-C noise, blur, weather, digital; the
# filters and Fourier basis; Geirhos 2018; ImageNet-C-bar), the clean cell, and a grid variant.
PNG_CORRUPTIONS = [
    {"name": "clean"},
    {"name": "fourier_basis_noise", "levels": [3]},
    {"name": "fourier_basis_noise", "grid": {"i": [-5], "j": [7]}, "params": {"norm": 4.0}},
    {"name": "low_pass", "levels": [2]},
    {"name": "high_pass", "levels": [4]},
    {"name": "gaussian_noise", "levels": [2]},
    {"name": "shot_noise", "levels": [5]},
    {"name": "defocus_blur", "levels": [3]},
    {"name": "motion_blur", "levels": [2]},
    {"name": "zoom_blur", "levels": [1]},
    {"name": "fog", "levels": [3]},
    {"name": "frost", "levels": [4]},
    {"name": "snow", "levels": [2]},
    {"name": "contrast", "levels": [1]},
    {"name": "pixelate", "levels": [3]},
    {"name": "jpeg_compression", "levels": [5]},
    {"name": "elastic_transform", "levels": [2]},
    {"name": "phase_noise", "levels": [4]},
    {"name": "rotation", "levels": [2]},
    {"name": "plasma_noise", "levels": [3]},
    {"name": "caustic_refraction", "levels": [1]},
]
# The clean cell alone: Pillow's resize and crop, the JPEG encoder and the tar, no float kernel, so
# its bytes are the same whatever torch's CPU kernels are (see test_golden.py).
JPG_CORRUPTIONS = [{"name": "clean"}]


def golden_configs(out: Path) -> dict[str, dict]:
    base = {"version": "1.0.0", "seed": 7, "input": {"shards": [str(INPUT)]},
            "run": {"variants_per_unit": 8, "batch_size": 2}}
    return {
        "golden-png": base | {"name": "golden-png", "corruptions": PNG_CORRUPTIONS,
                              "output": {"uri": str(out), "format": "png"}},
        "golden-jpg": base | {"name": "golden-jpg", "corruptions": JPG_CORRUPTIONS,
                              "output": {"uri": str(out), "format": "jpg", "jpeg_quality": 85}},
    }


def input_keys() -> list[str]:
    with tarfile.open(INPUT) as tar:
        return sorted({Path(m.name).name.split(".", 1)[0] for m in tar.getmembers() if m.isfile()})


def compute(out: Path) -> dict:
    """Build both releases in ``out`` (in this process, one CPU thread per kernel as a worker has)
    and return what digests.json stores."""
    found: dict = {"seed_scheme": SEED_SCHEME, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                   "releases": {}}
    keys = input_keys()
    for name, raw in golden_configs(out).items():
        config = validate_config(raw)
        folder = build_release(config)
        manifest = json.loads((folder / "manifest.json").read_text())
        shards = {s["path"]: s["sha256"] for s in manifest["shards"]}
        seeds = {s["path"]: {key: derive_seed(release_seed(config), key, s["corruption"], s["variant"])
                             for key in keys} for s in manifest["shards"]}
        for path, expected in shards.items():  # the manifest's word, checked against the bytes
            assert hashlib.sha256((folder / path).read_bytes()).hexdigest() == expected, path
        found["releases"][name] = {"shards": shards, "seeds": seeds}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"record the digests in {DIGESTS}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = compute(Path(tmp))
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if args.write:
        DIGESTS.parent.mkdir(parents=True, exist_ok=True)
        DIGESTS.write_text(text)
        print(f"wrote {DIGESTS}")
    else:
        print(text)


if __name__ == "__main__":
    main()
