"""Golden digests: the bytes of two small releases and their per-sample seeds, recorded in
tests/data/golden/digests.json, recomputed here. Any change to the seed scheme, the release seed,
the member order, the tar headers, the encoders' settings or an op's output fails this test.

Releases must rebuild byte for byte from their config: a change of bytes is never a fix to make
this test pass. It needs a new seed scheme (``seed-v2``) or a new op name, a CHANGELOG entry, and
then new digests (python -m tests.golden.release --write).
"""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from corrupter.seeding import SEED_SCHEME, derive_seed
from tests.golden.release import DIGESTS, compute

HOW_TO_CHANGE = ("releases must rebuild byte for byte: a change of bytes needs a new seed scheme or op name "
                 "and a CHANGELOG entry, then new digests (python -m tests.golden.release --write)")

# Stored values, computed once with seed-v1; the last two differ only in where a boundary falls.
SEEDS = [
    (("demo#0", "ILSVRC2012_val_00000001", "fog", "3"), 6648764117238004051),
    (("t#1", "a", "clean", "1"), 7487375238720809040),
    (("", "", "", ""), 853466739637022271),
    (("x#0", "k", "fourier_basis_noise", "i-31_j+05_norm+15.7"), 1806320386604607064),
    (("n\u00e9#0", "k\u00fc", "b", "c"), 538982113821365999),
    (("ab#0", "c", "d", "e"), 3780432093200235038),
    (("a#0", "bc", "d", "e"), 4169664662409798991),
]


@pytest.mark.parametrize("parts, expected", SEEDS)
def test_derive_seed_gives_the_stored_values(parts, expected):
    assert derive_seed(*parts) == expected, HOW_TO_CHANGE


def test_derive_seed_is_the_documented_length_prefixed_blake2b():
    """SEED_SCHEME's words, written out again without the package's helper."""
    parts = ("seed-v1", "demo#0", "ILSVRC2012_val_00000001", "fog", "3")
    message = b"".join(len(p.encode()).to_bytes(4, "little") + p.encode() for p in parts)
    digest = hashlib.blake2b(message, digest_size=8).digest()
    assert derive_seed(*parts[1:]) == int.from_bytes(digest, "little") & (2**63 - 1) == SEEDS[0][1]
    assert SEED_SCHEME.startswith("seed-v1:")


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory):
    return compute(tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def stored():
    return json.loads(DIGESTS.read_text())


def test_the_seed_scheme_and_every_sample_seed_are_the_stored_ones(recomputed, stored):
    assert recomputed["seed_scheme"] == stored["seed_scheme"], HOW_TO_CHANGE
    for name, release in stored["releases"].items():
        assert recomputed["releases"][name]["seeds"] == release["seeds"], f"{name}: {HOW_TO_CHANGE}"


def test_the_jpeg_clean_release_has_the_stored_bytes(recomputed, stored):
    """Pillow's resize and crop, the JPEG encoder, the tar: no float kernel, the same on every CPU."""
    assert recomputed["releases"]["golden-jpg"]["shards"] == stored["releases"]["golden-jpg"]["shards"], HOW_TO_CHANGE


def test_every_op_of_the_png_release_has_the_stored_bytes(recomputed, stored):
    """The float kernels' bytes, one output shard per op. torch picks its CPU kernels by instruction
    set (AVX2, AVX-512), which may round differently: on another kind of CPU the comparison says so
    instead of failing (force the recorded kind with ATEN_CPU_CAPABILITY to compare anyway)."""
    capability = torch.backends.cpu.get_cpu_capability()
    if capability != stored["torch_cpu_capability"]:
        pytest.skip(f"digests recorded with torch's {stored['torch_cpu_capability']} CPU kernels, this "
                    f"machine runs {capability}: set ATEN_CPU_CAPABILITY={stored['torch_cpu_capability'].lower()}")
    found = recomputed["releases"]["golden-png"]["shards"]
    expected = stored["releases"]["golden-png"]["shards"]
    changed = sorted(path for path in expected if found.get(path) != expected[path])
    assert sorted(found) == sorted(expected), HOW_TO_CHANGE
    assert not changed, f"bytes changed in {changed}: {HOW_TO_CHANGE}"
