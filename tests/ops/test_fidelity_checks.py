"""The cheap halves of docs/fidelity.md's long checks (bench/fidelity_checks.py runs the long ones).

- Fed the original's random numbers, our plasma fractal equals the original's to float32 rounding
  (2^-25 ~ 3e-8 on values in [0, 1]).
- The NumPy transcriptions of the original fog and frost (tests/reference_numpy.py), through the
  long checks' own code, reproduce the original script's stored statistics
  (tests/data/reference/imagenet-c-original-stats.json) exactly: what makes the long checks' many-seed
  comparisons a comparison with the original. Measured: equal to 1e-13.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from corrupter import ops
from corrupter.ops._common import plasma_draw_count, plasma_fractal
from tests import reference_numpy
from tests.conftest import REPO
from tests.reference_stats import STATS


def load_fidelity_checks():
    spec = importlib.util.spec_from_file_location("fidelity_checks", REPO / "bench" / "fidelity_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("decay", sorted({ops.get_corruption("fog").params(s)["decay"] for s in range(1, 6)}))
def test_plasma_fractal_equals_the_original_given_its_random_numbers(decay):
    ref = reference_numpy.plasma_fractal(np.random.RandomState(7), 256, decay)
    uniform = torch.from_numpy(np.random.RandomState(7).random_sample(plasma_draw_count(256)) * 2 - 1)
    ours = plasma_fractal(uniform[None], 256, decay)[0].double().numpy()
    assert np.abs(ours - ref).max() <= 3e-8
    assert ref.min() == 0 and ref.max() == 1


@pytest.mark.parametrize("name", ["fog", "frost"])
def test_the_long_checks_reference_side_reproduces_the_original(name, photos, original_stats):
    checks = load_fidelity_checks()
    for severity in range(1, 6):
        ours = checks.original_runs(name, severity, range(2), ["astronaut"], photos)
        for seed, run in enumerate(ours):
            stored = original_stats["runs"][name][str(severity)]["astronaut"][seed]
            for k in STATS:
                assert run[k] == pytest.approx(float(np.mean(stored[k])), abs=1e-9), (severity, seed, k)
