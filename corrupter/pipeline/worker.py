"""The work of one unit, as a plain class (no Ray): read -> decode -> corrupt -> encode -> publish.

The driver wraps it in a Ray actor; tests and debugging can call it directly.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import ops
from ..config import ReleaseConfig
from ..config.selection import sample_filter
from ..io.assets import load_assets
from ..io.codec import BadImage, encode_images, prepare_image
from ..io.errors import AlreadyExists, StorageError
from ..io.reasons import error_reason, stable_reason
from ..io.shards import (
    SAMPLE_EXTENSIONS,
    HashingReader,
    ParsedSample,
    RawSample,
    Rejected,
    iter_samples,
    parse_sample,
    safe_key,
)
from ..io.storage import object_digest, open_input, sha256_file
from ..io.tarwriter import DeterministicTarWriter
from ..release.layout import release_storage
from ..release.receipts import QuarantinedSample, Receipt, ReceiptSource, write_receipt
from ..seeding import derive_seed, make_generator
from .heap import release_free_heap, tune_heap
from .plan import OutputShard, Variant, WorkUnit

log = logging.getLogger(__name__)

CPU_KERNEL_BATCH = 4  # samples per kernel call on the CPU (see ShardWorker._corrupt)
# Variants of one op per multi-level kernel call (spec.apply_levels): each holds an output (and for
# zoom_blur a running sum) per chunk and its window's encoded outputs until they are written, so a
# unit of a long sweep of one op stays bounded.
LEVELS_PER_CALL = 8


def release_seed(config: ReleaseConfig) -> str:
    return f"{config.name}#{config.seed}"


def pick_jpeg_encoder(requested: str, device: torch.device) -> str:
    """``auto``: nvJPEG (torchvision) where the pixels already are on a GPU, Pillow on the CPU."""
    if requested == "auto":
        return "torchvision" if device.type == "cuda" else "pillow"
    return requested


def kernel_calls(variants: Sequence[Variant]) -> list[list[int]]:
    """The unit's variants (by index) grouped into kernel calls, in order of first appearance.

    Variants of an op with a multi-level kernel (``CorruptionSpec.apply_levels``: zoom_blur,
    brightness, saturate) go together, LEVELS_PER_CALL at most, wherever they stand in the unit;
    every other variant alone.
    No byte depends on the grouping (each variant has its own output shard, and the kernel gives
    every level exactly what a call of its own would).
    """
    calls: list[list[int]] = []
    open_calls: dict[str, list[int]] = {}
    for i, variant in enumerate(variants):
        if ops.get_corruption(variant.corruption).apply_levels is None:
            calls.append([i])
            continue
        call = open_calls.get(variant.corruption)
        if call is None or len(call) == LEVELS_PER_CALL:
            call = open_calls[variant.corruption] = []
            calls.append(call)
        call.append(i)
    return calls


def _as_levels(spec: ops.CorruptionSpec, output: torch.Tensor) -> torch.Tensor:
    """A kernel call's output as uint8 levels: an 8-bit kernel's as it is, a float one's quantised."""
    return output if spec.apply_uint8 is not None else ops.quantize_uint8(output)


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


@dataclass
class _Input:
    key: str
    label: int
    source_key: str
    pixels: torch.Tensor  # uint8 (3, H, W)


@dataclass
class _Group:
    """Samples of one window that share an image shape: one kernel input, written back in order."""

    indices: list[int]
    levels: torch.Tensor  # uint8 (n, 3, H, W) on the worker's device
    _images: torch.Tensor | None = None

    def images(self) -> torch.Tensor:
        """float (n, 3, H, W) in [0, 1], made once and shared by every variant (kernels never
        write their input); never made when every op of the unit has an 8-bit kernel."""
        if self._images is None:
            self._images = self.levels.float() / 255
        return self._images


@dataclass
class _Output:
    shard: OutputShard
    tmp_path: str
    writer: DeterministicTarWriter
    fileobj: Any
    samples: int = 0


@dataclass
class _ReadState:
    """What reading one input shard found: samples read, samples set aside, shard-level errors."""

    read: int = 0
    quarantined: list[QuarantinedSample] = field(default_factory=list)
    shard_errors: list[str] = field(default_factory=list)
    position: int = 0  # samples seen so far, in shard order (input.select's `every` counts them)
    not_selected: int = 0  # left out by input.select: counted, never decoded, not quarantined

    def set_aside(self, key: str, reason: str) -> None:
        """Quarantine sample ``key``; every reason is recorded stable (no memory addresses)."""
        self.quarantined.append(QuarantinedSample(key=key, reason=stable_reason(reason)))

    def shard_error(self, reason: str) -> None:
        self.shard_errors.append(stable_reason(reason))


@dataclass
class UnitReport:
    receipts: list[Receipt] = field(default_factory=list)
    images: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0  # of the worker process so far (bounded memory is a promise)


class ShardWorker:
    """Computes work units of one release; holds the device, the assets and the release storage."""

    def __init__(self, config: ReleaseConfig, device: str | None = None) -> None:
        self.config = config
        self.device = pick_device(device or config.run.device)
        self.jpeg_encoder = pick_jpeg_encoder(config.output.jpeg_encoder, self.device)
        torch.set_num_threads(config.run.threads_per_worker)
        if self.device.type == "cpu" and not tune_heap():
            log.warning("glibc heap settings not applied (not glibc, or refused): CPU kernels may run slower")
        self.release = release_storage(config)
        self._assets: dict[str, Any] = {}
        self._keeps = sample_filter(config.input.select)

    def run(self, unit: WorkUnit) -> UnitReport:
        start = time.perf_counter()
        report = UnitReport()
        with tempfile.TemporaryDirectory(prefix="corrupter-") as staging:
            outputs = [self._open_output(shard, staging) for shard in unit.outputs]
            try:
                state, source = self._process(unit, outputs, report)
            finally:
                for out in outputs:
                    out.writer.close()
                    out.fileobj.close()
            for out in outputs:
                report.receipts.append(self._publish(out, unit, source, state))
        report.seconds = time.perf_counter() - start
        report.peak_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        log.info("unit %s: %d images, %d shards, %.2fs", unit.unit_id, report.images, len(outputs), report.seconds)
        return report

    def _open_output(self, shard: OutputShard, staging: str) -> _Output:
        path = os.path.join(staging, shard.path.replace("/", "__"))
        fileobj = open(path, "wb")  # noqa: SIM115  (closed in run(), after the unit's last batch)
        return _Output(shard, path, DeterministicTarWriter(fileobj), fileobj)

    def _process(self, unit: WorkUnit, outputs: list[_Output], report: UnitReport):
        state = _ReadState()
        calls = kernel_calls([out.shard.variant for out in outputs])
        with open_input(unit.source, self.config.s3) as raw:
            stream = HashingReader(raw)
            for window in self._windows(stream, unit.source, state):
                state.read += len(window)
                groups = self._group_by_shape(window)
                for call in calls:
                    members = [outputs[i] for i in call]
                    shared = self._corrupt_levels(groups, members) if len(members) > 1 else [None]
                    for out, encoded in zip(members, shared, strict=True):
                        self._corrupt_window(window, groups, out, unit, encoded)
                report.images += len(window) * len(outputs)
                release_free_heap()
            stream.drain()
        state.read += len(state.quarantined) + state.not_selected
        source = ReceiptSource(uri=unit.source, sha256=stream.sha256.hexdigest(), bytes=stream.bytes,
                               errors=state.shard_errors)
        return state, source

    def _windows(self, stream: HashingReader, source: str, state: _ReadState) -> Iterator[list[_Input]]:
        """Decoded, preprocessed samples in input order, ``run.batch_size`` at a time."""
        window: list[_Input] = []
        seen: set[str] = set()
        limit = self.config.input.max_member_bytes
        for item in iter_samples(stream, source, limit, read_extensions=SAMPLE_EXTENSIONS):
            if not self._selected(item, state):
                continue
            sample = self._prepare(item, seen, state)
            if sample is None:
                continue
            window.append(sample)
            if len(window) >= self.config.run.batch_size:
                yield window
                window = []
        if window:
            yield window

    def _group_by_shape(self, window: list[_Input]) -> list[_Group]:
        """The window's samples grouped by image shape (kernels take one shape per call), in order
        of first appearance. Without a crop, images keep their own sizes: grouping a window rather
        than cutting a batch at every change of shape keeps kernel calls full; no image is padded,
        and outputs are written back in input order (per-sample draws: no byte depends on it)."""
        indices: dict[tuple[int, ...], list[int]] = {}
        for i, sample in enumerate(window):
            indices.setdefault(tuple(sample.pixels.shape), []).append(i)
        return [_Group(members, torch.stack([window[i].pixels for i in members]).to(self.device))
                for members in indices.values()]

    def _selected(self, item: RawSample | Rejected, state: _ReadState) -> bool:
        """input.select's decision on a sample, by its key and its position in the shard; a sample left
        out is counted and goes no further (it is not bad: never quarantined). Shard-level trouble
        (no key) is not a sample and always goes on to be recorded."""
        if not item.key:
            return True
        position, state.position = state.position, state.position + 1
        if self._keeps is None or self._keeps(item.key, position):
            return True
        state.not_selected += 1
        return False

    def _prepare(self, item: RawSample | Rejected, seen: set[str], state: _ReadState) -> _Input | None:
        if isinstance(item, Rejected):
            if item.key:
                state.set_aside(item.key, item.reason)
            else:
                state.shard_error(item.reason)
            return None
        try:
            parsed: ParsedSample = parse_sample(item, self.config.input.num_classes)
            key = safe_key(parsed.key)
            if len(f"{key}.json".encode()) > 100:
                raise ValueError(f"key of {len(key.encode())} bytes is too long for a tar member name "
                                 f"(USTAR allows 100 bytes for KEY.EXT)")
            if key in seen:
                raise ValueError(f"output key {key!r} collides with an earlier sample's key")
            pixels = prepare_image(parsed.image_bytes, self.config.preprocess)
        except (BadImage, ValueError) as exc:
            state.set_aside(item.key, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001  (one sample, whatever breaks in it, never costs the unit)
            state.set_aside(item.key, f"cannot use this sample: {error_reason(exc)}")
            return None
        seen.add(key)
        return _Input(key, parsed.label, parsed.key, pixels)

    def _corrupt_window(self, window: list[_Input], groups: list[_Group], out: _Output, unit: WorkUnit,
                        encoded_groups: list[list[bytes]] | None = None) -> None:
        """One variant of a window: each shape group through the kernel, then written in input order.

        ``encoded_groups``: the variant's encoded outputs per group when a multi-level call made
        them (``_corrupt_levels``; deterministic ops only, so nothing was drawn); None: the kernel
        runs here.
        """
        variant = out.shard.variant
        spec = ops.get_corruption(variant.corruption)
        params = variant.param_dict
        fmt = self.config.output.format
        seeds = [derive_seed(release_seed(self.config), s.key, variant.corruption, variant.name) for s in window]
        encoded: list[bytes] = [b""] * len(window)
        sampled: list[dict[str, Any]] = [{}] * len(window)
        for g, group in enumerate(groups):
            if encoded_groups is None:
                pixels, drawn = self._corrupt(group, spec, params, [seeds[i] for i in group.indices])
                datas = self._encode(pixels)
            else:
                datas, drawn = encoded_groups[g], [{}] * len(group.indices)
            for i, data, draws in zip(group.indices, datas, drawn, strict=True):
                encoded[i], sampled[i] = data, draws
        for i, sample in enumerate(window):
            meta = {
                "corruption": variant.corruption, "variant": variant.name, "level": variant.level,
                "params": params, "sampled": sampled[i], "seed": seeds[i],
                "label": sample.label,
                "source": {"shard": posixpath.basename(unit.source), "key": sample.source_key},
            }
            out.writer.write(sample.key, {
                fmt: encoded[i],
                "cls": str(sample.label).encode(),
                "json": json.dumps(meta, sort_keys=True, separators=(",", ":")).encode(),
            })
            out.samples += 1

    def _corrupt(self, group: _Group, spec: ops.CorruptionSpec, params: dict[str, Any],
                 seeds: list[int]) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """uint8 (B, 3, H, W) outputs on the worker's device and each sample's recordable draws.

        Ops with an 8-bit kernel (``spec.apply_uint8``) take the decoded levels and return levels:
        the same bytes as the float kernel and the quantisation, without either conversion. On the
        CPU the kernel runs CPU_KERNEL_BATCH samples at a time: its float64 temporaries then stay
        under glibc's mmap ceiling and in cache (see heap.py); outputs do not depend on how a batch
        is split (tests/pipeline/test_worker.py, and the contract test batched == unbatched).
        """
        assets = self._assets_for(spec)
        apply = ops.apply_batch_uint8 if spec.apply_uint8 is not None else ops.apply_batch
        pixels, sampled = [], []
        for first, part in self._kernel_chunks(group, spec):
            generators = [make_generator(s) for s in seeds[first:first + len(part)]]
            corrupted, draws = apply(spec, part, params, generators, assets)
            pixels.append(_as_levels(spec, corrupted))
            sampled += [ops.recordable_draws(draws, i) for i in range(len(part))]
        return torch.cat(pixels), sampled

    def _kernel_chunks(self, group: _Group, spec: ops.CorruptionSpec) -> Iterator[tuple[int, torch.Tensor]]:
        """(first index, input) of each kernel call on a shape group: the op's route (uint8 levels
        for an op with an 8-bit kernel, else float images), CPU_KERNEL_BATCH samples per call on the
        CPU (see ``_corrupt``), the whole group elsewhere."""
        inputs = group.levels if spec.apply_uint8 is not None else group.images()
        chunk = CPU_KERNEL_BATCH if self.device.type == "cpu" else len(inputs)
        for first in range(0, len(inputs), chunk):
            yield first, inputs[first:first + chunk]

    def _corrupt_levels(self, groups: list[_Group], members: list[_Output]) -> list[list[list[bytes]]]:
        """Several variants of one deterministic op in one kernel call per chunk (``ops.apply_batch_levels``):
        for each variant, its encoded outputs per group, the bytes ``_corrupt`` and ``_encode`` give
        it alone (the kernel's contract, tests/ops/test_contract.py; chunks, and the 8-bit route
        for ops with an 8-bit kernel, as in ``_corrupt``). Each chunk's outputs are encoded at
        once, so the call holds compressed images, not the window's pixels of every level."""
        spec = ops.get_corruption(members[0].shard.variant.corruption)
        params_list = [out.shard.variant.param_dict for out in members]
        per_variant: list[list[list[bytes]]] = [[] for _ in members]
        for group in groups:
            parts: list[list[bytes]] = [[] for _ in members]
            for _, inputs in self._kernel_chunks(group, spec):
                outputs = ops.apply_batch_levels(spec, inputs, params_list)
                for part, output in zip(parts, outputs, strict=True):
                    part.extend(self._encode(_as_levels(spec, output)))
            for encoded, part in zip(per_variant, parts, strict=True):
                encoded.append(part)
        return per_variant

    def _encode(self, pixels: torch.Tensor) -> list[bytes]:
        return encode_images(pixels, self.config.output.format, self.config.output.jpeg_quality, self.jpeg_encoder)

    def _assets_for(self, spec: ops.CorruptionSpec) -> dict[str, Any]:
        missing = [a for a in spec.assets if a not in self._assets]
        if missing:
            self._assets.update(load_assets(missing, self.device))
        return self._assets

    def _publish(self, out: _Output, unit: WorkUnit, source: ReceiptSource, state: _ReadState) -> Receipt:
        size = os.path.getsize(out.tmp_path)
        if size > self.config.output.max_shard_bytes:
            raise StorageError(f"{out.shard.path}: {size} bytes exceed output.max_shard_bytes "
                               f"({self.config.output.max_shard_bytes}); split the input shard")
        digest = sha256_file(out.tmp_path)
        try:
            self.release.publish_file(out.tmp_path, out.shard.path, digest)
        except AlreadyExists:
            # A retried unit whose earlier attempt published this shard: fine if the bytes agree.
            existing = object_digest(self.release, out.shard.path)
            if existing is None or existing[0] != digest:
                raise StorageError(f"{out.shard.path} exists with different content; the release "
                                   f"directory holds output of another config") from None
        variant = out.shard.variant
        receipt = Receipt(
            path=out.shard.path, corruption=variant.corruption, variant=variant.name, level=variant.level,
            params=variant.param_dict, source=source, sha256=digest, bytes=size, samples=out.samples,
            samples_read=state.read, samples_selected=state.read - state.not_selected,
            quarantined=state.quarantined, device_type=self.device.type, published_at=time.time())
        write_receipt(self.release, receipt)
        return receipt
