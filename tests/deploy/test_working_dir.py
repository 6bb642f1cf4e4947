"""What `ray job submit --working-dir .` uploads: the package Ray itself would build from the checkout."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from ray._private.ray_constants import get_runtime_env_default_excludes
from ray._private.runtime_env.packaging import GCS_STORAGE_MAX_SIZE, create_package

from tests.processes import REPO

SMALL = 10 * 10**6  # deploy/README.md: "under 10 MB zipped"

# What a job needs from the upload (deploy/README.md, "What the working dir contains")
NEEDED = ["corrupter/__init__.py", "corrupter/__main__.py", "corrupter/ops/fourier.py",
          "corrupter/assets/frost/frost1.png", "configs/demo.yaml", "configs/imagenet-c.yaml",
          "data/sample/val-000000.tar", "pyproject.toml"]
# What must never go up: outputs, environments, caches, the tests' data, VCS history
JUNK = [".git/objects/pack/pack-1.pack", ".venv/lib/python3.11/site-packages/torch/lib/libtorch.so",
        "venv/bin/python", "releases/demo/1.0.0/fog/1/val-000000.tar", "bench/results/job.json",
        "gpu-check/report.txt", "build/lib/corrupter/api.py", "dist/corrupter-0.1.0.whl",
        "corrupter.egg-info/PKG-INFO", "corrupter/__pycache__/api.cpython-311.pyc",
        "corrupter/ops/stale.pyc", ".pytest_cache/v/cache/lastfailed", ".ruff_cache/0.1/x",
        "preview.png", "tests/data/reference/photos224.npz"]


def ray_package(root: Path, tmp: Path, *, with_ray_defaults: bool) -> zipfile.ZipFile:
    """The zip Ray uploads for ``--working-dir root``: .rayignore and .gitignore read, plus Ray's
    default excludes (as `ray job submit` does), or .rayignore alone (``with_ray_defaults=False``:
    the worst case, RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1 and the defaults overridden)."""
    target = tmp / f"package-{with_ray_defaults}.zip"
    create_package(str(root), target, include_gitignore=with_ray_defaults,
                   excludes=get_runtime_env_default_excludes() if with_ray_defaults else [])
    return zipfile.ZipFile(target)


def test_the_checkouts_package_is_small(tmp_path):
    package = ray_package(REPO, tmp_path, with_ray_defaults=True)
    size = Path(package.filename).stat().st_size
    assert GCS_STORAGE_MAX_SIZE == 512 * 2**20  # the limit deploy/README.md quotes
    assert size < SMALL < GCS_STORAGE_MAX_SIZE, f"{size / 1e6:.1f} MB"
    names = set(package.namelist())
    assert {"corrupter/__main__.py", "configs/demo.yaml", "data/sample/val-000000.tar"} <= names
    assert not any(n.startswith(("releases/", ".venv/", ".git/", "tests/", "bench/results/")) for n in names)


@pytest.mark.parametrize("with_ray_defaults", [False, True], ids=["rayignore-alone", "as-ray-submits"])
def test_rayignore_keeps_outputs_environments_caches_and_tests_out(tmp_path, with_ray_defaults):
    root = tmp_path / "checkout"
    for rel in NEEDED + JUNK:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / rel).is_file():
            shutil.copyfile(REPO / rel, path)
        else:
            path.write_bytes(b"x" * 1000)
    shutil.copyfile(REPO / ".rayignore", root / ".rayignore")
    if with_ray_defaults:
        shutil.copyfile(REPO / ".gitignore", root / ".gitignore")
    names = set(ray_package(root, tmp_path, with_ray_defaults=with_ray_defaults).namelist())
    assert set(NEEDED) <= names
    assert not names & set(JUNK)
