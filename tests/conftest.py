"""Shared fixtures: real photos, devices, and the reference statistics shipped in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

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


REPO = Path(__file__).resolve().parent.parent
# Test clusters live on this machine only; token auth would make every CLI process fetch the
# head's token, so it is off for them (a real cluster keeps Ray's default).
RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    """One real local Ray cluster per test module (a head started with `ray start --block`).

    The head runs in its own process group, and only that group is stopped at teardown: `ray stop`
    would also kill any other Ray cluster on the machine.
    """
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    port = free_port()
    ray_bin = Path(sys.executable).parent / "ray"
    log = open(tmp_path_factory.mktemp("ray") / "head.log", "w")
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
         "--include-dashboard=false", "--disable-usage-stats"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **RAY_TEST_ENV})
    deadline = time.time() + 90
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if head.poll() is not None:
            raise RuntimeError(f"ray head exited early; see {log.name}")
        time.sleep(0.5)
    time.sleep(2)  # the raylet registers shortly after the GCS port opens
    yield f"127.0.0.1:{port}"
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)  # draining is pointless for a test cluster
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
    log.close()


def run_cli(*args: str, cwd: Path = REPO, timeout: int = 600, env: dict | None = None):
    """Run the real `corrupter` command (python -m corrupter) and return the CompletedProcess."""
    import os
    import subprocess
    import sys

    full_env = {**os.environ, **RAY_TEST_ENV, **(env or {})}
    return subprocess.run([sys.executable, "-m", "corrupter", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)
