"""A job's private local Ray cluster listens on loopback only; joining a cluster changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from corrupter.pipeline.loopback import SINGLE_NODE_SWITCH, keep_private_cluster_on_loopback
from tests.processes import REPO, is_loopback, stop_process_group


@pytest.fixture
def clean_env(monkeypatch):
    """No switch, no RAY_ADDRESS, Ray not imported yet (all restored afterwards)."""
    for name in (SINGLE_NODE_SWITCH, "RAY_ADDRESS"):
        monkeypatch.setenv(name, "placeholder")  # so that monkeypatch restores the original
        monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    return monkeypatch


@pytest.mark.parametrize("address, ray_address", [(None, None), ("local", None), (None, "local")])
def test_a_private_cluster_is_made_single_node(clean_env, address, ray_address):
    if ray_address:
        clean_env.setenv("RAY_ADDRESS", ray_address)
    assert keep_private_cluster_on_loopback(address)
    assert os.environ[SINGLE_NODE_SWITCH] == "0"


@pytest.mark.parametrize("address, ray_address", [("auto", None), ("10.0.0.5:6379", None),
                                                  (None, "http://head:8265")])
def test_joining_a_cluster_changes_nothing(clean_env, address, ray_address):
    if ray_address:
        clean_env.setenv("RAY_ADDRESS", ray_address)
    assert not keep_private_cluster_on_loopback(address)
    assert SINGLE_NODE_SWITCH not in os.environ


def test_the_users_own_setting_is_kept(clean_env):
    clean_env.setenv(SINGLE_NODE_SWITCH, "1")
    assert not keep_private_cluster_on_loopback(None)
    assert os.environ[SINGLE_NODE_SWITCH] == "1"


def test_too_late_once_ray_is_imported_and_says_so(clean_env, caplog):
    clean_env.setitem(sys.modules, "ray", object())
    assert not keep_private_cluster_on_loopback(None)
    assert SINGLE_NODE_SWITCH not in os.environ
    assert SINGLE_NODE_SWITCH in caplog.text and "every interface" in caplog.text


# The driver's own steps, in a fresh process leading its own session: the switch, then the private
# cluster `corrupter run` starts without --address, and one task so that a worker process runs too.
PRIVATE_CLUSTER = """
import json, os
from corrupter.pipeline.loopback import keep_private_cluster_on_loopback
assert keep_private_cluster_on_loopback(None)
import ray
from corrupter.pipeline.ray_pool import _connect
_connect(None)
assert ray.get(ray.remote(lambda: os.getpid()).remote()) != os.getpid()
from tests.processes import listening_sockets, session_pids
print(json.dumps(listening_sockets(session_pids(os.getsid(0)))))
ray.shutdown()
"""


@pytest.mark.ray
@pytest.mark.slow
def test_a_jobs_private_cluster_listens_on_loopback_only():
    env = {k: v for k, v in os.environ.items() if k not in (SINGLE_NODE_SWITCH, "RAY_ADDRESS")}
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    process = subprocess.Popen([sys.executable, "-c", PRIVATE_CLUSTER], cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=300)
    finally:
        stop_process_group(process)  # whatever Ray left of the session
    assert process.returncode == 0, err[-3000:]
    sockets = json.loads(out.strip().splitlines()[-1])
    assert len(sockets) >= 5, sockets
    assert all(is_loopback(address) for _, address, _ in sockets), sockets
