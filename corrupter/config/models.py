"""The release configuration: pydantic models, frozen, unknown fields refused by name."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import ops
from ..io.limits import DEFAULT_MAX_MEMBER_BYTES, DEFAULT_NUM_CLASSES, MAX_SHARDS
from ..io.patterns import check_shard_patterns
from .card import CardConfig
from .params import check_param
from .ranges import count_values, expand
from .selection import SelectConfig
from .semver import check_semver

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # whole string (fullmatch): no trailing newline
MAX_NAME = 100  # name, version, split: each becomes a path component
MAX_URI = 4096
MAX_VARIANTS = 10_000  # variants one config may ask for (grids multiply)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _slug(value: str, what: str) -> str:
    if not _SLUG.fullmatch(value) or len(value) > MAX_NAME:
        raise ValueError(f"{what} {value[:MAX_NAME + 20]!r} must be 1 to {MAX_NAME} letters, digits, '.', '_' "
                         f"or '-', starting with a letter or digit (it becomes a path)")
    return value


def check_location(uri: str) -> str:
    """A local path or ``s3://bucket/...``; any other ``scheme://`` would become a local folder."""
    scheme = _SCHEME.match(uri)
    if scheme and scheme.group() != "s3://":
        raise ValueError(f"{uri[:200]!r}: only local paths and s3://bucket/... (lower case) are supported, "
                         f"not {scheme.group()}")
    if scheme and not uri[len("s3://"):].split("/", 1)[0]:
        raise ValueError(f"{uri[:200]!r}: no bucket after s3://")
    return uri


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(_Strict):
    shards: str | list[str] = Field(description=f"local paths or s3:// URIs; brace patterns expand (at most "
                                                f"{MAX_SHARDS:,} shards)")
    split: str = Field("val", description="split name used in output shard names")
    num_classes: int = Field(DEFAULT_NUM_CLASSES, gt=0, le=10**9,
                             description="labels outside 0..num_classes-1 are quarantined")
    max_member_bytes: int = Field(DEFAULT_MAX_MEMBER_BYTES, gt=0, le=4 * 1024**3,
                                  description="a tar member declaring more is never read; its sample is "
                                              "quarantined")
    select: SelectConfig | None = Field(None, description="use a subset of the input: {fraction: f} by a hash "
                                        "of the key, {every: k} per shard, or {keys: [...]} / {keys_file: "
                                        "path}; default: every sample (config/selection.py)")

    @field_validator("split")
    @classmethod
    def _split_is_slug(cls, value: str) -> str:
        return _slug(value, "split")

    @field_validator("shards")
    @classmethod
    def _bounded_shards(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError("names no shard")
        for item in items:
            if not item or len(item) > MAX_URI:
                raise ValueError(f"each entry must be 1 to {MAX_URI} characters")
            check_location(item)
        check_shard_patterns(value, MAX_SHARDS)  # counted, not expanded
        return value


class PreprocessConfig(_Strict):
    """What every input image becomes before the corruptions; three choices:

    - ``{resize: 256, crop: 224}`` (the default): ImageNet-C's test images, short side to 256 (PIL
      bilinear), centre crop 224 x 224;
    - ``{resize: 256, crop: null}``: resize only, the whole image kept (training sets: the loader's
      random crops see all of it); outputs keep each image's aspect ratio;
    - ``{resize: null, crop: null}``: every image at its own size.
    Images of several sizes go through the kernels as they are (a batch is grouped by shape, never
    padded); ``max_pixels`` and ``min_side`` bound them either way.
    """

    resize: int | None = Field(256, gt=0, description="short side after resize (PIL bilinear); null: none")
    crop: int | None = Field(224, gt=0, description="centre crop side; null: no crop (training sets: the whole image)")
    max_pixels: int = Field(89_478_485, gt=0, description="larger images are quarantined (decompression bombs)")
    min_side: int = Field(32, gt=0, description="images with a shorter side are quarantined as too small")

    @model_validator(mode="after")
    def _crop_fits_resize(self) -> PreprocessConfig:
        if self.resize is not None and self.crop is not None and self.crop > self.resize:
            raise ValueError(f"crop {self.crop} is larger than resize {self.resize}: every image would be "
                             f"quarantined (the short side is resized to {self.resize} before the crop)")
        return self


class CorruptionRequest(_Strict):
    """One corruption (or a family/tag such as ``imagenet-c``) and the variants wanted of it.

    ``levels`` picks numbered levels of the op's own table (1..5 for the ImageNet-C family, whose
    levels are its severities, so ``severities`` is accepted as another name for the same field);
    without levels, params or a grid, every level of the op is built.
    """

    name: str = Field(max_length=MAX_NAME)
    levels: list[int] | None = Field(
        None, min_length=1, validation_alias=AliasChoices("levels", "severities"),
        description="level variants 1..N of the op's table (N = 5 for ImageNet-C); default: all")
    params: dict[str, Any] = Field(default_factory=dict, description="explicit parameters (override levels)")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="a sweep: every combination is a "
                                       "variant; an axis may be a range, {range: [first, last], step: k}")

    @field_validator("levels", mode="before")
    @classmethod
    def _levels_range(cls, value: Any) -> Any:
        return expand(value, "levels", MAX_VARIANTS)

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_ranges(cls, value: Any) -> Any:
        """Ranges expanded, after the whole grid is counted (a product over MAX_VARIANTS is refused
        before any range is built)."""
        if not isinstance(value, dict):
            return value
        combinations = grid_combinations(value)
        if combinations > MAX_VARIANTS:
            raise ValueError(f"grid makes {combinations:,} variants; the limit is {MAX_VARIANTS:,}")
        return {key: expand(values, f"grid {key}", MAX_VARIANTS) for key, values in value.items()}

    @model_validator(mode="after")
    def _check(self) -> CorruptionRequest:
        names = expand_name(self.name)
        if self.grid and self.levels:
            raise ValueError(f"{self.name}: give either levels or a grid, not both (a grid's variants "
                             f"are explicit parameters)")
        if self.levels and len(set(self.levels)) != len(self.levels):
            raise ValueError(f"{self.name}: a level is listed twice in {self.levels}")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"{self.name}: grid {key} is empty (it would make no variant)")
        if self.variant_count() > MAX_VARIANTS:
            raise ValueError(f"{self.name}: asks for {self.variant_count():,} variants; the limit is {MAX_VARIANTS:,}")
        for name in names:
            spec = ops.get_corruption(name)
            outside = [level for level in self.levels or [] if level not in spec.level_numbers]
            if outside:
                raise ValueError(f"level(s) {outside} of {name!r} are outside its levels "
                                 f"1..{len(spec.levels)}")
            known = set(spec.levels[0])
            unknown = (set(self.params) | set(self.grid)) - known
            if unknown:
                raise ValueError(f"{name}: unknown parameter(s) {sorted(unknown)}; known: {sorted(known)}")
            for key, value in self.params.items():
                check_param(spec, key, value)
            for key, values in self.grid.items():
                for value in values:
                    check_param(spec, key, value)
        values = list(self.params.items()) + [(k, v) for k, vs in self.grid.items() for v in vs]
        for key, value in values:
            if not _json_finite(value):
                raise ValueError(f"{self.name}: parameter {key} = {value!r} is not a finite number; "
                                 f"manifests are JSON, which has no infinity or NaN (write the string "
                                 f"'inf' where an op takes it, e.g. gaussian_high_pass sigma: inf)")
        return self

    def variant_count(self) -> int:
        """Variants this request asks for, over every corruption it names (counted, not made)."""
        total = 0
        for name in expand_name(self.name):
            if self.grid:
                total += math.prod(len(v) for v in self.grid.values())
            elif self.params and not self.levels:
                total += 1
            else:
                total += len(self.levels or ops.get_corruption(name).levels)
        return total


def grid_combinations(grid: dict[Any, Any]) -> int:
    """Variants a raw grid makes, its ranges counted, not expanded (axes that are neither a list nor a
    range count 1: their type is refused later)."""
    return math.prod(count_values(values, f"grid {key}") or 1 for key, values in grid.items())


def _json_finite(value: Any) -> bool:
    """False for a float infinity or NaN anywhere in a parameter value (lists included)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_json_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_json_finite(v) for v in value.values())
    return True


def expand_name(name: str) -> list[str]:
    """A corruption name, or every corruption of a family or tag (``imagenet-c``, ``blur``...)."""
    if name in ops.list_corruptions():
        return [name]
    members = ops.list_corruptions(tag=name)
    if not members:
        try:
            ops.get_corruption(name)
        except KeyError as exc:  # pydantic reports ValueErrors with the field's location
            raise ValueError(exc.args[0]) from None
    return members


class S3Config(_Strict):
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint; default AWS or AWS_ENDPOINT_URL")
    region: str | None = Field(None, description="default from AWS_REGION / AWS_DEFAULT_REGION")
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: int = Field(8, ge=1)
    checksum_calculation: Literal["when_supported", "when_required"] = Field(
        "when_supported", description="when_required for stores that reject boto3's CRC trailers")


class OutputConfig(_Strict):
    uri: str = Field("releases", min_length=1, max_length=MAX_URI, description="local directory or s3://bucket/prefix")
    format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(85, ge=1, le=100)
    jpeg_encoder: Literal["auto", "pillow", "torchvision"] = Field(
        "auto", description="pillow: libjpeg with optimised Huffman tables on the host, ImageNet-C's save "
        "step; torchvision: torchvision.io.encode_jpeg on the worker's device, batched nvJPEG on a GPU; "
        "auto: pillow on CPU workers, torchvision on GPU workers. nvJPEG's bytes differ from libjpeg's; "
        "the manifest records the device type")
    max_shard_bytes: int = Field(4 * 1024**3, gt=0, description="a larger output shard fails loudly")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        return check_location(value)

    @model_validator(mode="after")
    def _encoder_fits_format(self) -> OutputConfig:
        if self.jpeg_encoder == "torchvision" and self.format != "jpg":
            raise ValueError(f"jpeg_encoder {self.jpeg_encoder!r} needs format jpg, not {self.format!r}")
        return self


class RunConfig(_Strict):
    """How to execute; nothing here changes the bytes of a release."""

    workers: int | None = Field(None, ge=1, description="actors; default: as many as the nodes hold by CPUs "
                                "(threads_per_worker each) and memory (worker_memory_mib each), or one per GPU")
    batch_size: int = Field(32, ge=1)
    variants_per_unit: int = Field(8, ge=1, description="variants computed from one decode of a shard")
    max_unit_failures: int = Field(3, ge=1, description="failures of one work unit before the job stops")
    device: Literal["auto", "cpu", "cuda", "cpu-on-gpu-slots"] = Field(
        "auto", description="auto: one worker per GPU where the cluster has GPUs, else CPU workers; cpu; cuda "
        "(a worker on a node without CUDA fails at start, naming the node); cpu-on-gpu-slots: workers placed "
        "on GPUs exactly as cuda places them, kernels on the CPU (to test GPU scheduling on logical GPUs, "
        "e.g. ray start --num-gpus 1; same bytes as cpu)")
    threads_per_worker: int = Field(1, ge=1, description="CPUs (torch threads) per actor")
    worker_memory_mib: int | None = Field(
        1024, ge=1, le=1024**2, description="memory each actor reserves from Ray (MiB; null: none), so that no "
        "node gets more workers than its memory holds beside the object store; a CPU worker of the "
        "ImageNet-C recipe peaks near 750-850 MiB RSS, about 300 of it library pages shared by all workers "
        "(docs/benchmarks.md)")
    start_timeout_s: float = Field(300, gt=0, description="how long the job waits for a worker to start "
                                   "(e.g. while another job holds the CPUs) before it fails")


class ReleaseConfig(_Strict):
    name: str
    version: str
    seed: str = Field("0", max_length=256, description="release seed; per-sample seeds derive from it")
    input: InputConfig
    preprocess: PreprocessConfig = PreprocessConfig()
    corruptions: list[CorruptionRequest] = Field(min_length=1, max_length=1000)
    output: OutputConfig = OutputConfig()
    s3: S3Config = S3Config()
    run: RunConfig = RunConfig()
    card: CardConfig = Field(CardConfig(), description="title, description, authors, the input's license, "
                             "citation, homepage: for the dataset card (README.md) and CITATION.cff")

    @field_validator("name", "version")
    @classmethod
    def _slug(cls, value: str, info: Any) -> str:
        return _slug(value, info.field_name)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # YAML reads 1.0 as a number
            raise ValueError(f"version {value!r} is a number, not a semantic version: write it as a quoted "
                             f"string MAJOR.MINOR.PATCH, e.g. \"1.0.0\"")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        return check_semver(value)  # the catalogue orders versions by it (corrupter releases)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_text(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return value  # refused below as not a string, without str() of a list (alias bombs)
        return str(value)

    @field_validator("corruptions", mode="before")
    @classmethod
    def _bounded_grids(cls, requests: Any) -> Any:
        """The grids of all requests counted before any range is expanded: 1,000 requests of a
        10,000-value range each would otherwise be built before the total is refused."""
        if not isinstance(requests, list):
            return requests
        counts = {}
        for index, request in enumerate(requests):
            if isinstance(request, dict) and isinstance(request.get("grid"), dict):
                try:
                    counts[index] = grid_combinations(request["grid"])
                except ValueError:
                    continue  # a bad range: refused, naming its field, by the request's own check
        if sum(counts.values()) > MAX_VARIANTS:
            largest = max(counts, key=counts.__getitem__)
            raise ValueError(f"the grids make {sum(counts.values()):,} variants; the limit is {MAX_VARIANTS:,} "
                             f"(corruptions.{largest}'s grid makes {counts[largest]:,})")
        return requests

    @model_validator(mode="after")
    def _bounded_variants(self) -> ReleaseConfig:
        total = sum(r.variant_count() for r in self.corruptions)
        if total > MAX_VARIANTS:
            raise ValueError(f"corruptions ask for {total:,} variants; the limit is {MAX_VARIANTS:,}")
        return self
