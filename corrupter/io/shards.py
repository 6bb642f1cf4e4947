"""Streaming reader for ImageNet-style WebDataset shards, robust to the broken files real data has."""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import braceexpand

from .codec import IMAGE_EXTENSIONS


class ShardReadError(RuntimeError):
    """An input shard that cannot be read at all (missing, not a tar)."""


@dataclass
class RawSample:
    """One sample as read: its key and its members (extension -> bytes)."""

    key: str
    members: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Rejected:
    """A sample or member set aside while reading, with the reason (goes to the manifest)."""

    key: str
    reason: str


def expand_shard_patterns(patterns: str | list[str]) -> list[str]:
    """Brace patterns (``val-{000000..000003}.tar``) to an ordered list of shard URIs."""
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    out: list[str] = []
    for item in items:
        out.extend(braceexpand.braceexpand(item))
    return out


class HashingReader:
    """Wraps a binary stream and hashes every byte read through it (sha256, size)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self.sha256, self.bytes = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.sha256.update(data)
        self.bytes += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def split_member_name(name: str) -> tuple[str, str] | None:
    """WebDataset naming: key = path up to the first dot of the basename; extension = the rest."""
    directory, base = posixpath.split(name)
    if "." not in base or base.startswith("."):
        return None
    stem, ext = base.split(".", 1)
    return (posixpath.join(directory, stem) if directory else stem), ext.lower()


def iter_samples(stream: HashingReader, source: str) -> Iterator[RawSample | Rejected]:
    """Yield samples in tar order, grouping contiguous members by key.

    Unsafe member names (absolute, ``..``), members of a key seen earlier (non-adjacent or
    duplicate keys) and a truncated end are yielded as Rejected instead of raising, so one bad
    member never costs the rest of the shard.
    """
    seen: set[str] = set()
    current: RawSample | None = None
    reading = ""  # key of the member being read, for a truncation in the middle of it
    skipping = ""  # key of a sample already rejected: its remaining adjacent members go with it
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")  # type: ignore[arg-type]
    except tarfile.TarError as exc:
        raise ShardReadError(f"{source}: not a readable tar archive ({exc})") from None
    try:
        for info in tar:
            if not info.isfile():
                continue
            name = info.name
            if name.startswith("/") or ".." in name.split("/"):
                yield Rejected(name, f"unsafe tar member name {name!r} (absolute or '..')")
                continue
            parts = split_member_name(name)
            if parts is None:
                continue  # files without an extension carry no sample data (e.g. READMEs)
            key, ext = parts
            if key == skipping:
                continue
            skipping = ""
            reading = key
            data = tar.extractfile(info).read()  # type: ignore[union-attr]
            reading = ""
            if current is not None and key == current.key:
                if ext in current.members:
                    current, skipping = None, key  # which copy is meant is unknowable: set it aside
                    yield Rejected(key, f"duplicate member {key}.{ext} in one sample")
                    continue
                current.members[ext] = data
                continue
            if current is not None:
                yield current
            if key in seen:
                current, skipping = None, key
                yield Rejected(key, f"key {key!r} appears again later in the shard (duplicate key or "
                                    f"members not adjacent); this later occurrence is skipped")
                continue
            seen.add(key)
            current = RawSample(key, {ext: data})
    except (tarfile.TarError, EOFError, OSError) as exc:
        if current is not None and current.key != reading:
            yield current  # complete: the break came in the next sample
        if reading:
            yield Rejected(reading, f"shard truncated or corrupt inside this sample ({exc})")
        current = None
        yield Rejected("", f"shard truncated or corrupt; reading stopped here ({type(exc).__name__}: {exc})")
    else:
        stream.drain()
        if getattr(tar.fileobj, "comptype", "") == "tar" and stream.bytes < tar.offset + 2 * tarfile.BLOCKSIZE:
            # tarfile ends quietly at a short or missing header, so a cut at a member boundary
            # would otherwise lose the tail without a word: a whole archive ends with two zero blocks
            if current is not None:
                yield current
                current = None
            yield Rejected("", f"shard truncated: no end-of-archive marker after {stream.bytes} bytes; "
                               f"samples after that point are missing")
    if current is not None:
        yield current


@dataclass
class ParsedSample:
    key: str
    image_bytes: bytes
    label: int
    source_meta: dict


def parse_sample(sample: RawSample) -> ParsedSample:
    """Pick the image and the label of an ImageNet-style sample; ValueError says what is wrong."""
    images = [ext for ext in IMAGE_EXTENSIONS if ext in sample.members]
    if not images:
        raise ValueError(f"no image member (looked for {', '.join(IMAGE_EXTENSIONS)}; "
                         f"found {', '.join(sorted(sample.members)) or 'nothing'})")
    meta: dict = {}
    if "json" in sample.members:
        try:
            meta = json.loads(sample.members["json"])
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"invalid json member: {exc}") from None
        if not isinstance(meta, dict):
            raise ValueError("json member is not an object")
    label = _label(sample.members.get("cls"), meta)
    return ParsedSample(sample.key, sample.members[images[0]], label, meta)


def _label(cls_bytes: bytes | None, meta: dict) -> int:
    if cls_bytes is not None:
        text = cls_bytes.decode("ascii", errors="replace").strip()
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"invalid cls label {text[:40]!r} (expected an integer)") from None
    for name in ("label", "cls", "class_index"):
        value = meta.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise ValueError("missing label (no cls member and no integer 'label' in json)")


def safe_key(key: str) -> str:
    """Output keys keep the input key but may not contain dots or slashes (WebDataset readers)."""
    return key.replace("/", "_").replace(".", "_")
