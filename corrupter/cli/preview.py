"""A PNG grid of what a release holds: one row per corruption (``clean`` first), the input image and
each variant as columns, a few images. Shards are read through the release reader, so each one is
checked against the manifest as it is read."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from ..io.codec import prepare_image
from ..io.shards import SAMPLE_EXTENSIONS, HashingReader, Rejected, iter_samples, parse_sample, safe_key
from ..io.storage import open_input
from ..release import Release, open_release
from ..release.manifest import ShardEntry

CELL, LABEL_W, HEADER_H = 128, 150, 18


def _read_images(release: Release, shard: ShardEntry, keys: list[str]) -> dict[str, Image.Image]:
    """key -> image of the samples ``keys`` of one output shard; the shard is read whole (and so
    verified), only those images are decoded."""
    wanted = set(keys)
    return {s.key: Image.open(io.BytesIO(s.image)).convert("RGB")
            for s in release.read_shard(shard, decoder=bytes) if s.key in wanted}


def _clean_images(release: Release, keys_wanted: int) -> tuple[list[str], dict[str, Image.Image]]:
    """The first input images of the first input shard, after the release's preprocessing."""
    config = release.config
    source = release.manifest.sources[0].uri
    keys, clean = [], {}
    with open_input(source, config.s3) as raw:
        for item in iter_samples(HashingReader(raw), source, config.input.max_member_bytes, SAMPLE_EXTENSIONS):
            if isinstance(item, Rejected):
                continue
            try:
                parsed = parse_sample(item, config.input.num_classes)
                pixels = prepare_image(parsed.image_bytes, config.preprocess)
            except Exception:  # noqa: BLE001, S112  (quarantined in the release: not shown)
                continue
            key = safe_key(parsed.key)
            keys.append(key)
            clean[key] = Image.fromarray(pixels.permute(1, 2, 0).numpy())
            if len(keys) == keys_wanted:
                break
    return keys, clean


def _label(shard: ShardEntry) -> str:
    """A column's heading: the variant, and for a level its parameters (``3 contrast=0.3``)."""
    if shard.level is None or not shard.params:
        return shard.variant
    return f"{shard.variant} " + ",".join(f"{k}={v}" for k, v in shard.params.items())


def write_preview(release_uri: str, out: str, images: int = 2, corruptions: list[str] | None = None) -> Path:
    release = open_release(release_uri)
    keys, clean = _clean_images(release, images)
    source = release.manifest.sources[0].uri
    rows: dict[str, list[ShardEntry]] = {}
    for cell in release.cells:  # ordered by corruption, then level
        if not corruptions or cell.corruption in corruptions:
            rows.setdefault(cell.corruption, []).extend(s for s in cell.shards if s.source.uri == source)
    ordered = sorted(rows.items(), key=lambda row: (row[0] != "clean", row[0]))
    columns = 1 + max((len(v) for v in rows.values()), default=0)
    width = LABEL_W + len(keys) * columns * CELL + (len(keys) - 1) * 8
    canvas = Image.new("RGB", (width, HEADER_H + len(rows) * (CELL + HEADER_H)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (corruption, shards) in enumerate(ordered):
        top = HEADER_H + r * (CELL + HEADER_H)
        draw.text((6, top + CELL // 2), corruption, fill="black")
        outputs = [(_label(s), _read_images(release, s, keys)) for s in shards]
        for k, key in enumerate(keys):
            left = LABEL_W + k * (columns * CELL + 8)
            cells = [("clean", clean[key])] + [(name, imgs[key]) for name, imgs in outputs if key in imgs]
            for c, (label, image) in enumerate(cells):
                canvas.paste(image.resize((CELL, CELL), Image.BILINEAR), (left + c * CELL, top))
                draw.text((left + c * CELL + 3, top - HEADER_H + 3), label, fill="black")
    path = Path(out)
    canvas.save(path)
    return path
