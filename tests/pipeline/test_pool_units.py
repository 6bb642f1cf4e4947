"""The one actor pool runs units of any kind: a worker class named by import path, built once per
actor, its reports returned by unit id (and handed to ``on_report`` as they come); an error that
fails the same way every time stops the job at once, naming the unit. On a real local Ray cluster,
driven from a fresh process (as `corrupter run` drives it: Ray's settings are read at its import)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corrupter.pipeline.ray_pool import WorkerSpec
from tests.conftest import RAY_TEST_ENV, REPO

pytestmark = [pytest.mark.ray]

DRIVER = """
import json, sys
from corrupter.pipeline.errors import JobFailed
from corrupter.pipeline.ray_pool import PoolOptions, WorkerSpec, run_units
from tests.pipeline.poolworkers import Square

spec = WorkerSpec("tests.pipeline.poolworkers:SquareWorker", (100,))
seen = []
result = run_units(spec, [Square(f"u{i}", i) for i in range(7)], PoolOptions(workers=2, label="squaring"),
                   address=sys.argv[1], progress=False,
                   on_report=lambda unit, report: seen.append([unit.unit_id, report.result]))
out = {"results": {uid: r.result for uid, r in result.reports.items()}, "seen": seen, "images": result.images,
       "workers": result.workers, "device": result.device,
       "devices": sorted({r.device for r in result.reports.values()}),
       "pids": len({r.pid for r in result.reports.values()})}
try:
    run_units(spec, [Square("fine", 2), Square("broken", -1)], PoolOptions(workers=1, max_unit_failures=5),
              address=sys.argv[1], progress=False, describe=lambda unit: f"square {unit.unit_id}")
except JobFailed as exc:
    out["failed"] = str(exc)
print(json.dumps(out))
"""


def test_units_of_another_kind_run_and_a_permanent_error_stops_the_pool(ray_address):
    import os

    done = subprocess.run([sys.executable, "-c", DRIVER, ray_address], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False, env={**os.environ, **RAY_TEST_ENV})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["results"] == {f"u{i}": i * i + 100 for i in range(7)}
    assert sorted(map(tuple, out["seen"])) == sorted(out["results"].items())
    assert (out["images"], out["device"], out["devices"]) == (7, "cpu", ["cpu"])
    # units go to actors as they start: the second may start after the seven quick units are done
    assert 1 <= out["pids"] <= out["workers"] <= 2  # a worker is built once per actor, not once per unit
    assert "square broken failed 1 time(s); last error:" in out["failed"] and "negative value -1" in out["failed"]


def test_a_bad_factory_path_is_refused():
    with pytest.raises(ValueError, match="not 'package.module:Name'"):
        WorkerSpec("tests.pipeline.poolworkers.SquareWorker").build("cpu")
