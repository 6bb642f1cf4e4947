"""A PNG grid of what a release holds: one row per corruption (``clean`` first), the input image and
each variant as columns, a few images. Shards are read through the release reader, so each one is
checked against the manifest as it is read (`corrupter preview`); the grid written into a release
while it is built (preview.png) reads only the first samples of its just-written shards."""

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


def _read_images(release: Release, shard: ShardEntry, keys: list[str], whole: bool) -> dict[str, Image.Image]:
    """key -> image of the samples ``keys`` of one output shard; only those images are decoded. With
    ``whole`` the shard is read to its end (and so verified), else only until they are found."""
    wanted, found = set(keys), {}
    for sample in release.read_shard(shard, decoder=bytes):
        if sample.key in wanted:
            found[sample.key] = Image.open(io.BytesIO(sample.image)).convert("RGB")
            if not whole and len(found) == len(wanted):
                break
    return found


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


def _evenly(shards: list[ShardEntry], most: int | None) -> list[ShardEntry]:
    """At most ``most`` of a row's shards, spread evenly from its first to its last variant."""
    if most is None or len(shards) <= most:
        return shards
    if most == 1:
        return shards[:1]
    return [shards[round(i * (len(shards) - 1) / (most - 1))] for i in range(most)]


def write_preview(release_uri: str, out: str, images: int = 2, corruptions: list[str] | None = None) -> Path:
    """`corrupter preview`: the grid of the finished release at ``release_uri``, every shard shown
    verified, saved as PNG at ``out``."""
    path = Path(out)
    render_preview(open_release(release_uri), images, corruptions).save(path)
    return path


def preview_png(release: Release, images: int = 2, max_columns: int = 8) -> bytes:
    """preview.png of a release being committed: ``images`` source images, at most ``max_columns``
    variants per corruption (a sweep of thousands shows eight, evenly spread); only the first samples
    of each shard are read. The same release gives the same bytes (Pillow is pinned)."""
    buffer = io.BytesIO()
    render_preview(release, images, max_columns=max_columns, whole_shards=False).save(buffer, format="PNG")
    return buffer.getvalue()


def render_preview(release: Release, images: int = 2, corruptions: list[str] | None = None,
                   max_columns: int | None = None, whole_shards: bool = True) -> Image.Image:
    keys, clean = _clean_images(release, images)
    source = release.manifest.sources[0].uri
    rows: dict[str, list[ShardEntry]] = {}
    for cell in release.cells:  # ordered by corruption, then level
        if not corruptions or cell.corruption in corruptions:
            rows.setdefault(cell.corruption, []).extend(s for s in cell.shards if s.source.uri == source)
    rows = {name: _evenly(shards, max_columns) for name, shards in rows.items()}
    ordered = sorted(rows.items(), key=lambda row: (row[0] != "clean", row[0]))
    columns = 1 + max((len(v) for v in rows.values()), default=0)
    width = LABEL_W + len(keys) * columns * CELL + (len(keys) - 1) * 8
    canvas = Image.new("RGB", (width, HEADER_H + len(rows) * (CELL + HEADER_H)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (corruption, shards) in enumerate(ordered):
        top = HEADER_H + r * (CELL + HEADER_H)
        draw.text((6, top + CELL // 2), corruption, fill="black")
        outputs = [(_label(s), _read_images(release, s, keys, whole_shards)) for s in shards]
        for k, key in enumerate(keys):
            left = LABEL_W + k * (columns * CELL + 8)
            cells = [("clean", clean[key])] + [(name, imgs[key]) for name, imgs in outputs if key in imgs]
            for c, (label, image) in enumerate(cells):
                canvas.paste(image.resize((CELL, CELL), Image.BILINEAR), (left + c * CELL, top))
                draw.text((left + c * CELL + 3, top - HEADER_H + 3), label, fill="black")
    return canvas
