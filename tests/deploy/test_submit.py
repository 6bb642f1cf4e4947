"""`ray job submit` as deploy/README.md documents it, on a real Ray head with token authentication on.

One head for the module (`ray start --head` on 127.0.0.1, its token in a temporary $HOME, stopped by
its process). The README's command is read from the README and run with only its two placeholders
replaced (the head's address, the output URI), so the doc and the test cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corrupter.release.layout import RECEIPTS
from tests.conftest import run_cli
from tests.deploy.commands import BUCKET, HEAD_URL, split_submit, submit_recipe, token_file_of_fetch_command
from tests.processes import REPO, TokenHead, ray_head_with_token

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BIN = Path(sys.executable).parent  # `ray` and `python` of this environment: the head's, too
RELEASE = "demo/1.0.0"
JOB_ID = re.compile(r"raysubmit_[A-Za-z0-9]+")


def without(env: dict[str, str], *prefixes: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(prefixes)}


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    # The head's environment: its own $HOME (token), this environment's `python` first on PATH (the
    # job's entrypoint runs there), and no PYTHONPATH: the job must import the code it uploads.
    env = without(dict(os.environ), "PYTHONPATH", "RAY_ADDRESS")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    home = tmp_path_factory.mktemp("head-home")
    with ray_head_with_token(tmp_path_factory.mktemp("ray"), env, home) as head:
        yield head


@pytest.fixture(scope="module")
def client(head: TokenHead, tmp_path_factory) -> dict[str, str]:
    """A user's environment after following the README: the cluster's token fetched into the file
    the README names (``ray get-auth-token`` on the head), then the README's exports."""
    home = tmp_path_factory.mktemp("client-home")
    recipe = submit_recipe()
    token_path = recipe.exports["RAY_AUTH_TOKEN_PATH"]
    assert token_path == token_file_of_fetch_command(), "the README fetches the token into another file"
    token_file = Path(token_path.replace("~", str(home), 1))
    token_file.parent.mkdir(parents=True)
    head_env = {**os.environ, "HOME": str(head.home), "RAY_AUTH_MODE": "token"}
    token = subprocess.run([str(BIN / "ray"), "get-auth-token"], env=head_env, capture_output=True,
                           text=True, check=True, timeout=120).stdout.strip()
    assert token and token == head.token_file.read_text().strip()
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    env = without(dict(os.environ), "RAY_", "PYTHONPATH")
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    env.update({k: v.replace("~", str(home), 1) for k, v in recipe.exports.items()})
    return env


def documented_submit(head: TokenHead, output: Path, *extra: str) -> list[str]:
    """The README's command with its placeholders replaced, and ``extra`` arguments appended to
    the corrupter command."""
    argv = list(submit_recipe().argv)
    options, entrypoint = split_submit(argv)
    assert options.count(HEAD_URL) == 1 and f"output.uri={BUCKET}" in entrypoint, \
        "the README's submit command lost a placeholder this test replaces"
    argv = [str(BIN / "ray")] + [a.replace(HEAD_URL, head.dashboard_url).replace(BUCKET, str(output))
                                 for a in argv[1:]]
    return argv + list(extra)


def submit(argv: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def file_digests(release: Path) -> dict[str, str]:
    """sha256 of every file of a release but its manifest, dot files included (nothing may be left
    over from a stopped job)."""
    return {p.relative_to(release).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(release.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def manifest_but_created(release: Path) -> dict:
    manifest = json.loads((release / "manifest.json").read_text())
    del manifest["created"]
    return manifest


@pytest.fixture(scope="module")
def local_release(tmp_path_factory) -> Path:
    """The same config built by a local `corrupter run` (a private local cluster)."""
    out = tmp_path_factory.mktemp("local")
    result = run_cli("run", "configs/demo.yaml", "--set", f"output.uri={out}", "--no-progress")
    assert result.returncode == 0, result.stderr
    return out / RELEASE


def assert_same_release(release: Path, local: Path) -> None:
    verified = run_cli("verify", str(release))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert file_digests(release) == file_digests(local) != {}
    assert manifest_but_created(release) == manifest_but_created(local)


def test_without_the_token_the_cluster_refuses_the_job(head, client, tmp_path):
    anonymous = without(client, "RAY_AUTH")
    result = submit(documented_submit(head, tmp_path), anonymous, timeout=120)
    assert result.returncode != 0
    assert "Missing authentication token" in result.stdout + result.stderr
    assert not any(tmp_path.iterdir())


def test_the_job_imports_the_code_it_uploads(head, client):
    """The entrypoint (cwd first on sys.path) and the actors (Ray's working_dir on their path)
    import `corrupter` from Ray's unpacked copy of the working dir, not from an installed copy."""
    options, _ = split_submit(documented_submit(head, Path("/unused")))
    probe = ("import os, corrupter, ray; ray.init(); "
             "where = ray.remote(lambda: __import__('corrupter').__file__); "
             "print('driver', corrupter.__file__); print('actor', ray.get(where.remote())); "
             "print('cwd', os.getcwd())")
    result = submit([str(BIN / "ray"), "job", "submit", *options, "--", "python", "-c", probe], client)
    assert result.returncode == 0, result.stdout + result.stderr
    found = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("driver ", "actor ", "cwd ")))
    copy = Path(found["cwd"])
    assert "runtime_resources" in copy.parts and copy.name.startswith("_ray_pkg_")
    for side in ("driver", "actor"):
        assert Path(found[side]).parent == copy / "corrupter", (side, found[side])


def test_the_documented_command_builds_the_demo_release(head, client, tmp_path, local_release):
    result = submit(documented_submit(head, tmp_path), client)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 of 12 units already done)" in result.stdout
    assert re.search(r"\b12/12\b", result.stdout)  # the progress bar reached the submitter
    assert_same_release(tmp_path / RELEASE, local_release)


# `ray job stop JOB_ID`: the `ray` command itself (the console script's two lines), imported before
# the job starts and handed the job's id when the job is under way, so that it stops the job at once
# rather than after the seconds the CLI takes to import
RAY_JOB_STOP = """
import sys
from ray.scripts.scripts import main
print("ready", flush=True)
job_id = sys.stdin.readline().strip()
sys.argv = ["ray", "job", "stop", "--address", sys.argv[1], job_id]
sys.exit(main())
"""


def test_a_stopped_job_submitted_again_finishes_the_same_release(head, client, tmp_path, local_release):
    # One worker, one variant per unit: 52 small units, so that the job is stopped mid-way; run.*
    # never changes the bytes
    argv = documented_submit(head, tmp_path, "--set", "run.workers=1", "--set", "run.variants_per_unit=1")
    receipts = tmp_path / RELEASE / RECEIPTS
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    stopper = subprocess.Popen([sys.executable, "-c", RAY_JOB_STOP, head.dashboard_url], env=client, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while (line := stopper.stdout.readline()) != "ready\n":  # past any warning of the import
        assert line, "the ray job stop process ended before it was ready"
    first = follow(argv, client, first_log)
    try:
        # under way: a first shard is published (its receipt written)
        wait_for(lambda: first.poll() is not None or (receipts.is_dir() and any(receipts.rglob("*.json"))),
                 "published shard", first_log)
        assert first.poll() is None, first_log.read_text()
        stopped, _ = stopper.communicate(job_id(first_log) + "\n", timeout=120)
        assert stopper.returncode == 0 and "was stopped" in stopped, stopped
        first.wait(timeout=120)  # the submitter stops following when the job ends
    finally:
        for process in (stopper, first):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not (tmp_path / RELEASE / "manifest.json").exists(), "the job was not stopped mid-way"
    assert receipts.is_dir()

    # The same command again; its submitter interrupted (Ctrl-C stops following the log, not the job,
    # deploy/README.md "Watching it"), and the job followed to its end with `ray job logs -f`
    second = follow(argv, client, second_log)
    try:
        wait_for(lambda: JOB_ID.search(second_log.read_text()), "a job id", second_log)
        second.send_signal(signal.SIGINT)
        second.wait(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    logs = subprocess.run([str(BIN / "ray"), "job", "logs", "-f", "--address", head.dashboard_url,
                           job_id(second_log)], check=False, env=client, capture_output=True, text=True,
                          timeout=300)
    assert logs.returncode == 0, logs.stdout + logs.stderr
    skipped, units = map(int, re.search(r"\((\d+) of (\d+) units already done\)", logs.stdout).groups())
    assert units == 52 and 0 < skipped < units  # the shards published before the stop were kept
    assert_same_release(tmp_path / RELEASE, local_release)


def follow(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Run ``argv`` (a `ray job submit`, which follows the job's log) in the background into ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def job_id(log: Path) -> str:
    [found] = set(JOB_ID.findall(log.read_text()))
    return found


def wait_for(condition, what: str, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"no {what} in {timeout:.0f} s:\n{log.read_text()}")
        time.sleep(0.1)
