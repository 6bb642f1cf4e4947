"""The only place seeds are made: blake2b of (scheme, release seed, key, corruption, variant)."""

from __future__ import annotations

import hashlib

import torch

SEED_SCHEME = "seed-v1: blake2b-64('seed-v1', release, key, corruption, variant) & (2**63 - 1)"


def derive_seed(release: str, key: str, corruption: str, variant: str) -> int:
    """A stable 63-bit seed for one output sample; never Python's per-process salted hash()."""
    h = hashlib.blake2b(digest_size=8)
    for part in ("seed-v1", release, key, corruption, variant):
        encoded = str(part).encode("utf-8")
        h.update(len(encoded).to_bytes(4, "little"))  # length-prefixed: no ambiguity between parts
        h.update(encoded)
    return int.from_bytes(h.digest(), "little") & (2**63 - 1)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator for one sample's draws (drawn on the CPU, then moved to the device)."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    return generator
