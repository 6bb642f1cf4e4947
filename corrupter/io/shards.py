"""Streaming reader for ImageNet-style WebDataset shards, robust to the broken files real data has."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .codec import IMAGE_EXTENSIONS
from .limits import DEFAULT_MAX_MEMBER_BYTES, DEFAULT_NUM_CLASSES, MAX_JSON_BYTES, MAX_MEMBERS_PER_SAMPLE
from .tarstream import READ_SIZE, TarBytes, open_archive

SAMPLE_EXTENSIONS = frozenset((*IMAGE_EXTENSIONS, "cls", "json"))  # what parse_sample reads


class ShardReadError(RuntimeError):
    """An input shard that cannot be read at all (missing, not a tar)."""


@dataclass
class RawSample:
    """One sample as read: its key and its members (extension -> bytes).

    ``unread`` lists the extensions present whose data was skipped (not needed, see iter_samples).
    """

    key: str
    members: dict[str, bytes] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)


@dataclass
class Rejected:
    """A sample or member set aside while reading, with the reason (goes to the manifest)."""

    key: str
    reason: str


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
    """WebDataset naming: key = path up to the first dot of the basename; extension = the rest.

    None for a name without a key or without an extension (``README``, ``x/.hidden.jpg``).
    """
    directory, base = posixpath.split(name)
    if "." not in base or base.startswith("."):
        return None
    stem, ext = base.split(".", 1)
    return (posixpath.join(directory, stem) if directory else stem), ext.lower()


def _not_a_file(info: tarfile.TarInfo) -> str:
    kinds = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.CHRTYPE: "character device",
             tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "FIFO"}
    kind = kinds.get(info.type, f"tar entry of type {info.type!r}")
    return f"member {info.name!r} is a {kind}, not a regular file"


def _name_problem(name: str) -> str:
    """Why a member name belongs to no sample, or "" if it has a key and an extension."""
    if name.startswith("/") or ".." in name.split("/"):
        return f"unsafe tar member name {name!r} (absolute or '..')"
    base = posixpath.basename(name)
    if base.startswith("."):
        return f"member {name!r} is a hidden file (name starts with a dot): it has no sample key"
    if "." not in base:
        return f"member {name!r} has no extension: it belongs to no sample"
    return ""


class _Samples:
    """Groups members into samples: contiguous members of one key; a key is used only once.

    Whatever is set aside is one Rejected per key (a sample) or per name (a member that belongs
    to no sample), so samples read = samples yielded + Rejected with a key, always.
    """

    def __init__(self) -> None:
        self.out: list[RawSample | Rejected] = []
        self.current: RawSample | None = None
        self.seen: set[str] = set()  # keys of samples, and names rejected on their own
        self.skipping = ""  # key of a sample already rejected: its remaining adjacent members go with it

    def add(self, key: str, ext: str, data: bytes | None) -> None:
        """A member of sample ``key``; ``data`` None: present but not read."""
        if key == self.skipping:
            return
        self.skipping = ""
        current = self.current
        if current is not None and key == current.key:
            if ext in current.members or ext in current.unread:
                self.reject(key, f"duplicate member {key}.{ext} in one sample")  # which copy is meant?
            elif len(current.members) + len(current.unread) >= MAX_MEMBERS_PER_SAMPLE:
                self.reject(key, f"sample has more than {MAX_MEMBERS_PER_SAMPLE} members")
            elif data is None:
                current.unread.append(ext)
            else:
                current.members[ext] = data
            return
        if key in self.seen:
            self.reject(key, "")
            return
        self.close()
        self.seen.add(key)
        self.current = RawSample(key, {ext: data} if data is not None else {}, [ext] if data is None else [])

    def reject(self, key: str, reason: str) -> None:
        """Set sample ``key`` aside (once); "" as reason: it appeared earlier in the shard."""
        if key == self.skipping:
            return
        if self.current is not None and key == self.current.key:
            self.current = None
        else:
            self.close()
            if key in self.seen:
                reason = (f"key {key!r} appears again later in the shard (duplicate key or members not "
                          f"adjacent); this later occurrence is skipped")
            self.seen.add(key)
        self.skipping = key
        self.out.append(Rejected(key, reason))

    def reject_name(self, name: str, reason: str) -> None:
        if name not in self.seen:  # the same stray name twice is one entry
            self.seen.add(name)
            self.out.append(Rejected(name, reason))

    def close(self) -> None:
        if self.current is not None:
            self.out.append(self.current)
            self.current = None

    def drain(self) -> list[RawSample | Rejected]:
        out, self.out = self.out, []
        return out


def _after_archive(data: TarBytes, end: int) -> tuple[str, str]:
    """What follows the point where tarfile stopped: ("end" | "next" | "error", message).

    A whole archive ends with two zero blocks (zero padding may follow); a header after them
    starts the next archive of a concatenation; anything else is a cut or a corrupt header.
    """
    try:
        data.rewind(end)
    except ValueError:  # tarfile read on past a header it then found invalid (a pax header's body)
        return "error", f"corrupt tar header at byte {end} of the tar data; reading stopped there"
    zeros = 0  # zero bytes from ``end`` on
    truncated = ("error", (f"shard truncated: no end-of-archive marker after {end} bytes of tar data; "
                           f"samples after that point are missing"))
    while chunk := data.read(READ_SIZE):
        stripped = chunk.lstrip(b"\0")
        if not stripped:
            zeros += len(chunk)
            continue
        zeros += len(chunk) - len(stripped)
        block = end + zeros // tarfile.BLOCKSIZE * tarfile.BLOCKSIZE
        data.rewind(block)
        if len(_read_exactly(data, tarfile.BLOCKSIZE)) < tarfile.BLOCKSIZE:
            return truncated  # cut inside a header
        if zeros >= 2 * tarfile.BLOCKSIZE and zeros % tarfile.BLOCKSIZE == 0:
            data.rewind(block)
            return "next", ""
        return "error", (f"corrupt tar header at byte {block} of the tar data; reading stopped there "
                         f"and the rest of the shard is lost")
    return ("end", "") if zeros >= 2 * tarfile.BLOCKSIZE else truncated


def _read_exactly(data: TarBytes, size: int) -> bytes:
    out = b""
    while len(out) < size and (more := data.read(size - len(out))):
        out += more
    return out


def iter_samples(stream: HashingReader, source: str, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                 read_extensions: Collection[str] | None = None) -> Iterator[RawSample | Rejected]:
    """Yield samples in tar order, grouping contiguous members by key.

    Nothing is dropped in silence: every key and every stray member name is yielded once, as a
    RawSample or as a Rejected with the reason (unsafe or keyless names; members that are links,
    devices or sparse, or over ``max_member_bytes``, whose data is skipped unread; duplicate or
    non-adjacent keys); trouble with the shard itself (truncation, a corrupt header, data after a
    compressed stream) is a Rejected with an empty key. Archives concatenated in one shard are
    read one after the other. Members of extensions not in ``read_extensions`` (None: all) are
    listed in ``RawSample.unread`` without being read.
    """
    data = TarBytes(stream)
    try:
        tar = open_archive(data)
    except tarfile.TarError as exc:
        raise ShardReadError(f"{source}: not a readable tar archive ({exc})") from None
    samples = _Samples()
    pending = ""  # key of the last member whose data was not consumed yet, for a cut inside it
    base = 0  # where the current archive starts in the tar data
    try:
        while True:
            while (info := tar.next()) is not None:
                tar.members.clear()  # stream mode would otherwise keep every header of the shard
                pending = ""
                yield from samples.drain()
                if info.isdir():
                    continue
                problem = _name_problem(info.name)
                if problem:
                    samples.reject_name(info.name, problem)
                    continue
                key, ext = split_member_name(info.name)  # type: ignore[misc]
                pending = key
                if not info.isreg():
                    samples.reject(key, _not_a_file(info))
                elif info.size > max_member_bytes:
                    samples.reject(key, f"member {info.name!r} declares {info.size:,} bytes, over the limit "
                                        f"of {max_member_bytes:,} (input.max_member_bytes); not read")
                elif info.sparse is not None:
                    samples.reject(key, f"member {info.name!r} is a sparse file (not supported)")
                elif read_extensions is not None and ext not in read_extensions:
                    samples.add(key, ext, None)
                elif key != samples.skipping:
                    payload = tar.extractfile(info).read()  # type: ignore[union-attr]
                    pending = ""
                    samples.add(key, ext, payload)
            yield from samples.drain()
            state, message = _after_archive(data, base + tar.offset)
            if state != "next":
                break
            base = data.position
            try:
                tar = open_archive(data)
            except tarfile.TarError as exc:
                state, message = "error", (f"data after the end-of-archive marker at byte {base} of the "
                                           f"tar data is not a tar archive ({exc}); it was not read")
                break
        samples.close()
        if state == "error":
            samples.out.append(Rejected("", message))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if pending and tar.fileobj.tell() < tar.offset:  # stopped inside its data, not at the next header
            samples.reject(pending, f"shard truncated or corrupt inside this sample ({exc})")
        samples.close()
        samples.out.append(Rejected("", f"shard truncated or corrupt; reading stopped here "
                                        f"({type(exc).__name__}: {exc})"))
    for problem in data.problems:
        samples.out.append(Rejected("", problem))
    yield from samples.drain()


@dataclass
class ParsedSample:
    key: str
    image_bytes: bytes
    label: int
    source_meta: dict


def parse_sample(sample: RawSample, num_classes: int = DEFAULT_NUM_CLASSES) -> ParsedSample:
    """Pick the image and the label of an ImageNet-style sample; ValueError says what is wrong.

    The label (a ``cls`` member of plain decimal digits, or an integer ``label``, ``cls`` or
    ``class_index`` in the json member) must lie in 0..num_classes-1; a json member is at most
    MAX_JSON_BYTES and must parse (however deep it nests) to an object.
    """
    images = [ext for ext in IMAGE_EXTENSIONS if ext in sample.members]
    if not images:
        found = sorted([*sample.members, *sample.unread])
        raise ValueError(f"no image member (looked for {', '.join(IMAGE_EXTENSIONS)}; "
                         f"found {', '.join(found) or 'nothing'})")
    meta = _metadata(sample.members.get("json"))
    label = _label(sample.members.get("cls"), meta, num_classes)
    return ParsedSample(sample.key, sample.members[images[0]], label, meta)


def _metadata(data: bytes | None) -> dict:
    if data is None:
        return {}
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"json member of {len(data):,} bytes is over the limit of {MAX_JSON_BYTES:,}")
    try:
        meta = json.loads(data)
    except RecursionError:
        raise ValueError("invalid json member: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of too many digits
        raise ValueError(f"invalid json member: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError("json member is not an object")  # noqa: TRY004  (callers quarantine ValueErrors)
    return meta


_DIGITS = re.compile(r"[0-9]{1,18}")


def _label(cls_bytes: bytes | None, meta: dict, num_classes: int) -> int:
    if cls_bytes is not None:
        text = cls_bytes.decode("ascii", errors="replace").strip(" \t\r\n")
        if not _DIGITS.fullmatch(text):
            raise ValueError(f"invalid cls label {text[:40]!r} (expected decimal digits 0-9 only)")
        return _in_range(int(text), num_classes, "cls label")
    for name in ("label", "cls", "class_index"):
        value = meta.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return _in_range(value, num_classes, f"json {name!r}")
    raise ValueError("missing label (no cls member and no integer 'label' in json)")


def _in_range(label: int, num_classes: int, what: str) -> int:
    if not 0 <= label < num_classes:
        shown = str(label) if abs(label) < 10**18 else f"{str(label)[:12]}... ({len(str(label))} digits)"
        raise ValueError(f"{what} {shown} is outside 0..{num_classes - 1} (input.num_classes is {num_classes})")
    return label


def safe_key(key: str) -> str:
    """Output keys keep the input key but may not contain dots or slashes (WebDataset readers)."""
    return key.replace("/", "_").replace(".", "_")
