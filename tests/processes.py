"""Real processes for tests: free loopback ports, stopping a process group, a private Ray head, and
the addresses a group of processes listens on."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
# Test clusters live on this machine only: token auth would make every CLI process fetch the
# head's token, so it is off for them (a real cluster keeps Ray's default), and Ray's single-node
# switch (corrupter/pipeline/loopback.py) puts every server of the head and of the drivers on
# 127.0.0.1 (test_e2e.py checks).
RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


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


def session_pids(session: int) -> set[int]:
    """The processes of a session (a process started with start_new_session leads its own)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat[stat.rindex(")") + 2:].split()[3]) == session:
                pids.add(int(entry.name))
    return pids


def _proc_net_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)  # 32-bit words in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket in LISTEN state that ``pids`` hold (Linux /proc)."""
    listening = {}  # socket inode -> (address, port)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                host, port = fields[1].split(":")
                listening[fields[9]] = (_proc_net_address(host), int(port, 16))
    found = []
    for pid in sorted(pids):
        for link in _descriptor_targets(pid):
            inode = link[len("socket:["):-1] if link.startswith("socket:[") else None
            if inode in listening:
                address, port = listening[inode]
                found.append((pid, str(address), port))
    return found


def _descriptor_targets(pid: int) -> list[str]:
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone meanwhile
        return []
    targets = []
    for fd in descriptors:
        try:
            targets.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            pass
    return targets


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


@dataclasses.dataclass(frozen=True)
class TokenHead:
    """A Ray head with token authentication on: its GCS address, its Jobs API, and its $HOME, which
    holds its token (.ray/auth_token)."""

    address: str
    dashboard_url: str
    home: Path

    @property
    def token_file(self) -> Path:
        return self.home / ".ray" / "auth_token"


@contextlib.contextmanager
def ray_head_with_token(log_dir: Path, env: dict[str, str], home: Path) -> Iterator[TokenHead]:
    """A real Ray head with token authentication ON and the Jobs API (dashboard) on loopback.

    Set up as an operator would: ``ray get-auth-token --generate`` writes the token to
    ``home/.ray/auth_token`` (``home`` stands in for the head's $HOME, so the real ~/.ray is never
    touched), then ``RAY_AUTH_MODE=token ray start --head``. Otherwise like ``ray_head``: free ports,
    a private temp dir, its own process group, stopped by its process, never by `ray stop`.
    """
    ports = pick_ports(9)
    port, dashboard, client, agent, agent_grpc, env_agent, metrics, node_manager, object_manager = ports
    head_env = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
    head_env.update(RAY_TEST_ENV, RAY_AUTH_MODE="token", HOME=str(home))
    ray_cli = str(Path(sys.executable).parent / "ray")
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=head_env, check=True,
                   capture_output=True, timeout=120)
    temp_dir = Path(tempfile.mkdtemp(prefix="cr-", dir="/tmp"))
    with open(log_dir / "head.log", "w") as log:
        head = subprocess.Popen(
            [ray_cli, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
             f"--temp-dir={temp_dir}", "--num-cpus=2", "--num-gpus=0", "--disable-usage-stats",
             "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
             f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
             f"--dashboard-agent-grpc-port={agent_grpc}", f"--runtime-env-agent-port={env_agent}",
             f"--metrics-export-port={metrics}", f"--node-manager-port={node_manager}",
             f"--object-manager-port={object_manager}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=head_env, cwd=home)
        try:
            _wait_for_jobs_api(head, dashboard, log.name)
            yield TokenHead(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}", home)
        finally:
            stop_process_group(head, timeout=30, leader_only=True)  # as in ray_head
            shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_jobs_api(head: subprocess.Popen, port: int, log_name: str, timeout: float = 120) -> None:
    """Until the Jobs API answers: it is up last, after the GCS, the raylet and the dashboard."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray head exited early; see {log_name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=2):
                return
        except urllib.error.HTTPError:  # it answers (401: the token is on), so it is up
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Jobs API of the ray head did not come up in {timeout:.0f} s; see {log_name}")
