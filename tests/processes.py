"""Real processes for tests: free loopback ports, stopping a process group, a private Ray head."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
# Test clusters live on this machine only; token auth would make every CLI process fetch the
# head's token, so it is off for them (a real cluster keeps Ray's default).
RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int) -> list[int]:
    """Free loopback ports p with p + 10000 free too (SeaweedFS derives its gRPC ports that way)."""
    ports: list[int] = []
    rng = random.Random()
    while len(ports) < count:
        port = rng.randrange(20000, 55000)
        if all(abs(port - p) > 1 and abs(port + 10000 - p) > 1 and abs(port - p - 10000) > 1 for p in ports) \
                and port_free(port) and port_free(port + 10000):
            ports.append(port)
    return ports


def stop_process_group(process: subprocess.Popen, timeout: float = 20, leader_only: bool = False) -> None:
    """SIGTERM the process group we started (or only its leader, which then stops the rest), then
    SIGKILL whatever of the group is left after ``timeout``."""
    if process.poll() is None:
        try:
            if leader_only:
                process.send_signal(signal.SIGTERM)
            else:
                os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group, if any
    except ProcessLookupError:
        pass
    process.wait()


@contextlib.contextmanager
def ray_head(log_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """A real Ray head (`ray start --head --block`) on explicit free ports; yields its address.

    A private temp dir (short: it holds unix sockets) keeps the head out of /tmp/ray, so no later
    `ray.init()` on the machine finds and tries to join it after it is gone. The head runs in its own
    process group and only it is stopped at teardown: `ray stop` would kill every cluster here.
    """
    port, client, agent, agent_grpc, env_agent, metrics, node_manager, object_manager = pick_ports(8)
    temp_dir = Path(tempfile.mkdtemp(prefix="cr-", dir="/tmp"))
    log = open(log_dir / "head.log", "w")
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}",
         "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", "--num-cpus=2", "--num-gpus=0",
         "--include-dashboard=false", "--disable-usage-stats", f"--ray-client-server-port={client}",
         f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
         f"--runtime-env-agent-port={env_agent}", f"--metrics-export-port={metrics}",
         f"--node-manager-port={node_manager}", f"--object-manager-port={object_manager}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**env, **RAY_TEST_ENV}, cwd=REPO)
    try:
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
    finally:
        # SIGTERM to `ray start --block` alone: it drains the node and stops its processes (a SIGTERM
        # to the whole group kills the GCS first and leaves the head waiting 30 s for it)
        stop_process_group(head, timeout=30, leader_only=True)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
