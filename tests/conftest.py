"""Shared fixtures: real photos, devices, and the reference statistics shipped in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.processes import RAY_TEST_ENV, REPO, ray_head  # noqa: F401  (REPO, RAY_TEST_ENV re-exported)

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Five real 224x224 photos (ImageNet-C recipe), uint8 H x W x 3."""
    return dict(np.load(REFERENCE / "photos224.npz"))


@pytest.fixture(scope="session")
def photo_batch(photos) -> torch.Tensor:
    """The five photos as a float (5, 3, 224, 224) batch in [0, 1], in sorted name order."""
    return torch.stack([torch.from_numpy(photos[k]).permute(2, 0, 1) for k in sorted(photos)]).float() / 255


@pytest.fixture(scope="session")
def imagecorruptions_stats() -> dict:
    return json.loads((REFERENCE / "imagecorruptions-1.1.2-stats.json").read_text())


@pytest.fixture(scope="session")
def original_stats() -> dict:
    return json.loads((REFERENCE / "imagenet-c-original-stats.json").read_text())


@pytest.fixture(scope="session")
def deterministic_outputs() -> dict[str, np.ndarray]:
    return dict(np.load(REFERENCE / "imagecorruptions-1.1.2-deterministic.npz"))




@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    """One real local Ray cluster per test module."""
    import os

    with ray_head(tmp_path_factory.mktemp("ray"), dict(os.environ)) as address:
        yield address


def run_cli(*args: str, cwd: Path = REPO, timeout: int = 600, env: dict | None = None):
    """Run the real `corrupter` command (python -m corrupter) and return the CompletedProcess."""
    import os
    import subprocess
    import sys

    full_env = {**os.environ, **RAY_TEST_ENV, **(env or {})}
    return subprocess.run([sys.executable, "-m", "corrupter", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)
