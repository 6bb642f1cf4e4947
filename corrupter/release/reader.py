"""Reading a finished release: its manifest, its (corruption, variant) cells, and their samples, every
shard checked against the manifest while it streams.

    release = corrupter.open_release("releases/demo/1.0.0")     # or s3://bucket/prefix/demo/1.0.0
    for cell in release.cells:                                  # Cell: corruption, variant, level,
        for sample in release.samples(cell):                    #   params, shards, samples
            sample.image, sample.label, sample.metadata         # uint8 (3, H, W), int, dict

Every byte read is hashed; at the end of each shard its size and sha256 are compared with the
manifest's, and its sample count too. A mismatch raises ShardMismatch naming the shard **after** its
samples were yielded (they are only known to be bad at its end): a consumer that must not count a bad
shard's samples (an evaluation) counts per shard and keeps a shard's counts only once ``read_shard``
has run to its end. A shard read only in part is not verified. A missing shard raises ShardMissing,
a location without a manifest ReleaseNotFinished (saying whether it is an unfinished release, which
`corrupter run` resumes).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch

from ..config import ConfigError, ReleaseConfig, validate_config
from ..config.models import S3Config
from ..io.codec import decode_image
from ..io.errors import NotFound
from ..io.shards import SAMPLE_EXTENSIONS, Rejected, ShardReadError, iter_samples, parse_sample
from ..io.storage import Storage, open_storage
from .errors import ManifestError, ShardMismatch, ShardMissing
from .layout import MANIFEST
from .manifest import ReleaseManifest, ShardEntry, manifest_bytes, parse_manifest

Decoder = Callable[[bytes], Any]  # image bytes -> what Sample.image holds


@dataclass(frozen=True, eq=False)
class Cell:
    """One (corruption, variant) of a release: its shards, one per input shard, in input order."""

    corruption: str
    variant: str
    level: int | None  # None: explicit parameters (a sweep)
    params: dict[str, Any]
    shards: tuple[ShardEntry, ...]
    samples: int  # in all its shards

    @property
    def name(self) -> str:
        return f"{self.corruption}/{self.variant}"


@dataclass
class Sample:
    key: str
    image: Any  # torch.Tensor uint8 (3, H, W), RGB; or what the decoder given returns (``bytes``: undecoded)
    label: int
    metadata: dict[str, Any]  # the sample's json: corruption, variant, params, sampled, seed, source
    shard: str  # its shard's path in the release


class Release:
    """A finished release, opened by ``open_release``; its manifest was checked against the schema.

    Attributes: ``uri``, ``storage``, ``manifest`` (ReleaseManifest), ``config`` (the ReleaseConfig
    that built it), ``manifest_sha256`` (of manifest.json's bytes: which release exactly), ``cells``.
    """

    def __init__(self, storage: Storage, manifest: ReleaseManifest, manifest_sha256: str) -> None:
        self.storage, self.uri = storage, storage.uri
        self.manifest, self.manifest_sha256 = manifest, manifest_sha256
        try:
            self.config: ReleaseConfig = validate_config(manifest.config, f"{self.uri}/{MANIFEST} config")
        except ConfigError as exc:
            raise ManifestError(str(exc)) from None
        self.cells = _cells(manifest)

    def cell(self, corruption: str, variant: str) -> Cell:
        """The cell ``corruption/variant``; KeyError names the cells there are."""
        for cell in self.cells:
            if (cell.corruption, cell.variant) == (corruption, variant):
                return cell
        close = difflib.get_close_matches(f"{corruption}/{variant}", [c.name for c in self.cells], n=3)
        raise KeyError(f"{self.uri} has no cell {corruption}/{variant}"
                       + (f"; did you mean {', '.join(close)}?" if close else f" ({len(self.cells)} cells)"))

    def shard(self, path: str) -> ShardEntry:
        """The manifest's entry for the shard at ``path`` (relative to the release); KeyError if none."""
        for shard in self.manifest.shards:
            if shard.path == path:
                return shard
        raise KeyError(f"{self.uri} lists no shard {path!r}")

    def samples(self, cell: Cell, decoder: Decoder | None = None) -> Iterator[Sample]:
        """The cell's samples, shard after shard, each shard verified at its end (read_shard)."""
        for shard in cell.shards:
            yield from self.read_shard(shard, decoder)

    def read_shard(self, shard: ShardEntry, decoder: Decoder | None = None) -> Iterator[Sample]:
        """The samples of one shard of the manifest, in tar order; when the last is yielded, the shard's
        size, sha256 and sample count have been checked (ShardMismatch otherwise, ShardMissing if it
        is not there). ``decoder``: image bytes -> Sample.image; default Pillow to a uint8 (3, H, W) RGB
        tensor (as webdataset's ``torchrgb8``); ``bytes`` keeps the encoded image."""
        where = f"{self.uri}/{shard.path}"
        try:
            raw = self.storage.open_read(shard.path)
        except NotFound:
            raise ShardMissing(f"{where}: missing; the manifest lists it ({shard.samples} samples, "
                               f"{shard.bytes} bytes)") from None
        decode = decoder or self._decode
        with raw:
            stream = _CheckedStream(raw, shard, where)
            count, problem = 0, ""
            try:
                for item in iter_samples(stream, where, max(shard.bytes, 1), SAMPLE_EXTENSIONS):
                    if isinstance(item, Rejected):
                        problem = f"sample {item.key!r}: {item.reason}" if item.key else item.reason
                        break
                    try:
                        parsed = parse_sample(item, self.config.input.num_classes)
                        image = decode(parsed.image_bytes)
                    except ValueError as exc:  # BadImage too
                        problem = f"sample {item.key!r}: {exc}"
                        break
                    count += 1
                    yield Sample(item.key, image, parsed.label, parsed.source_meta, shard.path)
            except ShardReadError as exc:
                problem = str(exc)
            stream.finish()  # a shard with other bytes says so, whatever else went wrong in it
            if problem:
                raise ShardMismatch(f"{where}: does not read back as a release shard ({problem})")
            if count != shard.samples:
                raise ShardMismatch(f"{where}: holds {count} samples, the manifest says {shard.samples}")

    def _decode(self, data: bytes) -> torch.Tensor:
        image = decode_image(data, self.config.preprocess.max_pixels)
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


class _CheckedStream:
    """Hashes and counts every byte read; refuses to read past the manifest's size (so a shard that
    grew cannot be read without bound) and, at ``finish``, compares size and sha256."""

    def __init__(self, raw: BinaryIO, shard: ShardEntry, where: str) -> None:
        self._raw, self._shard, self._where = raw, shard, where
        self._sha256, self.bytes = hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._sha256.update(data)
        self.bytes += len(data)
        if self.bytes > self._shard.bytes:
            raise ShardMismatch(f"{self._where}: longer than the {self._shard.bytes} bytes the manifest "
                                f"records; not the shard that was published")
        return data

    def finish(self) -> None:
        while self.read(1 << 20):
            pass
        if self.bytes != self._shard.bytes:
            raise ShardMismatch(f"{self._where}: {self.bytes} bytes, the manifest records {self._shard.bytes} "
                                f"(truncated or replaced)")
        digest = self._sha256.hexdigest()
        if digest != self._shard.sha256:
            raise ShardMismatch(f"{self._where}: sha256 {digest} differs from the manifest's "
                                f"{self._shard.sha256}; its bytes were changed after it was published")


def _cells(manifest: ReleaseManifest) -> list[Cell]:
    """The manifest's shards grouped by (corruption, variant); ordered by corruption, then level
    (explicit-parameter variants after the levels), then variant name."""
    groups: dict[tuple[str, str], list[ShardEntry]] = {}
    for shard in manifest.shards:
        groups.setdefault((shard.corruption, shard.variant), []).append(shard)
    cells = []
    for (corruption, variant), shards in groups.items():
        shards.sort(key=lambda s: s.path)  # SPLIT-NNNNNN: input shard order
        first = shards[0]
        cells.append(Cell(corruption, variant, first.level, first.params, tuple(shards),
                          sum(s.samples for s in shards)))
    return sorted(cells, key=lambda c: (c.corruption, c.level is None, c.level or 0, c.variant))


def open_release(uri: str, s3: S3Config | None = None) -> Release:
    """Open the finished release at ``uri`` (a local directory or ``s3://bucket/prefix/NAME/VERSION``).

    S3 settings come from ``s3`` (the config's ``s3`` section) or, without it, from the standard AWS
    chain and environment (AWS_ENDPOINT_URL, AWS_REGION, credentials...). Reads and schema-checks the
    manifest (ManifestError, ReleaseNotFinished); shards are read, and verified, as they are iterated.
    """
    storage = open_storage(uri.rstrip("/") or uri, s3)
    data = manifest_bytes(storage)
    manifest = parse_manifest(data, f"{storage.uri}/{MANIFEST}")
    return Release(storage, manifest, hashlib.sha256(data).hexdigest())
