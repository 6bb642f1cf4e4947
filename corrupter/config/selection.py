"""``input.select``: which input samples a release uses, decided per sample without coordination.

A work unit is one input shard, so every rule is one a unit can apply on its own, in one pass:

* ``fraction`` (with an optional ``salt``): a sample is taken when the hash of its key falls below
  the fraction. Independent of how the input is sharded, of order and of the other samples: the same
  keys give the same subset wherever they are. About ``fraction`` of the samples, at random over
  the classes (a binomial count, not an exact one).
* ``every`` (with an optional ``offset``): the samples at positions offset, offset + every, ... of
  each input shard, counting every sample the shard holds in its order (set-aside ones included).
  Exact per shard, but it depends on how the shards were made.
* ``keys``: exactly the samples whose key is listed (``keys_file``: one key per line, read when the
  config is loaded and recorded as ``keys``, so the release identity holds the list itself). Any
  rule needing the whole input at once (N per class over every shard) is made this way, by a pass
  over the labels that writes the list.

Samples not selected are read (the shard's sha256 covers every byte) and counted, never decoded and
never quarantined: for every input shard, read = written + quarantined + not selected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, model_validator

SELECT_SCHEME = "select-v1: blake2b-64('select-v1', salt, key) little-endian < fraction * 2**64"
MAX_SELECT_KEYS = 100_000  # keys one config may list (ImageNet val: 50,000)
MAX_KEY_CHARS = 1024
MAX_KEYS_FILE_BYTES = 16 * 1024**2


class SelectConfig(BaseModel):
    """One selection rule: ``fraction`` (+ ``salt``), ``every`` (+ ``offset``) or ``keys``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # no "0.5" or true for a number

    fraction: float | None = Field(None, gt=0, le=1, description="take a sample when the hash of its key "
                                   "(and salt) falls below this fraction of the hash range")
    salt: str = Field("", max_length=256, description="another salt draws another subset (fraction only)")
    every: int | None = Field(None, ge=1, le=10**9, description="take every k-th sample of each input shard")
    offset: int = Field(0, ge=0, description="the first position taken in each shard (every only)")
    keys: list[str] | None = Field(None, min_length=1, max_length=MAX_SELECT_KEYS,
                                   description="take exactly these keys (keys_file: one per line)")

    @model_validator(mode="after")
    def _one_rule(self) -> SelectConfig:
        rules = [name for name in ("fraction", "every", "keys") if getattr(self, name) is not None]
        if len(rules) != 1:
            raise ValueError(f"give exactly one rule of fraction, every, keys (or keys_file); got "
                             f"{rules or 'none'}")
        if self.salt and self.fraction is None:
            raise ValueError("salt goes with fraction only")
        if self.offset and self.every is None:
            raise ValueError("offset goes with every only")
        if self.every is not None and self.offset >= self.every:
            raise ValueError(f"offset {self.offset} must be below every ({self.every}): no position would be taken")
        if self.keys is not None:
            seen: set[str] = set()
            for key in self.keys:
                if not key or len(key) > MAX_KEY_CHARS or "\n" in key or "\0" in key:
                    raise ValueError(f"key {key[:60]!r} must be 1 to {MAX_KEY_CHARS} characters on one line")
                if key in seen:
                    raise ValueError(f"key {key[:60]!r} is listed twice")
                seen.add(key)
        return self


def key_fraction(key: str, salt: str = "") -> float:
    """Where ``key`` falls in [0, 1) under SELECT_SCHEME (exactly: the 64-bit hash over 2**64)."""
    return _key_hash(key, salt) / 2**64


def _key_hash(key: str, salt: str) -> int:
    h = hashlib.blake2b(digest_size=8)
    for part in ("select-v1", salt, key):
        encoded = part.encode("utf-8", "surrogatepass")
        h.update(len(encoded).to_bytes(4, "little"))  # length-prefixed: no ambiguity between parts
        h.update(encoded)
    return int.from_bytes(h.digest(), "little")


def sample_filter(select: SelectConfig | None) -> Callable[[str, int], bool] | None:
    """``keeps(key, position)`` for a rule (position: the sample's place in its shard, from 0);
    None when every sample is used."""
    if select is None:
        return None
    if select.fraction is not None:
        bound, salt = select.fraction * 2**64, select.salt  # int < float compares exactly
        return lambda key, position: _key_hash(key, salt) < bound
    if select.every is not None:
        every, offset = select.every, select.offset
        return lambda key, position: position % every == offset
    wanted = frozenset(select.keys or ())
    return lambda key, position: key in wanted


def read_keys_file(path: str) -> list[str]:
    """The keys of a keys file: one per line, surrounding blanks stripped, empty lines and lines
    starting with '#' skipped. ValueError names the file and the problem."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEYS_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"keys_file {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_KEYS_FILE_BYTES:
        raise ValueError(f"keys_file {path}: larger than {MAX_KEYS_FILE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"keys_file {path}: not UTF-8 text ({exc})") from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [k for k in keys if k and not k.startswith("#")]
    if not keys:
        raise ValueError(f"keys_file {path}: lists no key")
    return keys
