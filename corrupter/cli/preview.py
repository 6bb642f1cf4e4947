"""A PNG grid of what a release holds: one row per corruption, clean + each variant, a few images."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from PIL import Image, ImageDraw

from ..config import validate_config
from ..io.codec import prepare_image
from ..io.manifest import load_manifest
from ..io.shards import SAMPLE_EXTENSIONS, HashingReader, Rejected, iter_samples, parse_sample, safe_key
from ..io.storage import open_input, open_storage

CELL, LABEL_W, HEADER_H = 128, 150, 18


def _read_tar(release, path: str) -> dict[str, bytes]:
    """key -> image bytes of one output shard."""
    images = {}
    with release.open_read(path) as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
        for info in tar:
            key, ext = info.name.split(".", 1)
            if ext in ("jpg", "png"):
                images[key] = tar.extractfile(info).read()
    return images


def _clean_images(manifest: dict, keys_wanted: int) -> tuple[list[str], dict[str, Image.Image]]:
    config = validate_config(manifest["config"] | {"run": {}}, "manifest")
    source = manifest["sources"][0]["uri"]
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


def _label(shard: dict) -> str:
    """A column's heading: the variant, and for a level its parameters (``3 contrast=0.3``)."""
    params = shard.get("params") or {}
    if shard.get("level") is None or not params:
        return shard["variant"]
    return f"{shard['variant']} " + ",".join(f"{k}={v}" for k, v in params.items())


def write_preview(release_uri: str, out: str, images: int = 2, corruptions: list[str] | None = None) -> Path:
    release = open_storage(release_uri)
    manifest = load_manifest(release)
    keys, clean = _clean_images(manifest, images)
    source_name = Path(manifest["sources"][0]["uri"]).name
    rows: dict[str, list[dict]] = {}
    for shard in manifest["shards"]:
        if Path(shard["source"]["uri"]).name == source_name and (not corruptions or shard["corruption"] in corruptions):
            rows.setdefault(shard["corruption"], []).append(shard)
    columns = 1 + max((len(v) for v in rows.values()), default=0)
    width = LABEL_W + len(keys) * columns * CELL + (len(keys) - 1) * 8
    canvas = Image.new("RGB", (width, HEADER_H + len(rows) * (CELL + HEADER_H)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (corruption, shards) in enumerate(sorted(rows.items())):
        top = HEADER_H + r * (CELL + HEADER_H)
        draw.text((6, top + CELL // 2), corruption, fill="black")
        shards = sorted(shards, key=lambda s: (s["level"] or 0, s["variant"]))
        outputs = [(_label(s), _read_tar(release, s["path"])) for s in shards]
        for k, key in enumerate(keys):
            left = LABEL_W + k * (columns * CELL + 8)
            cells = [("clean", clean[key])] + [
                (name, Image.open(io.BytesIO(imgs[key])).convert("RGB")) for name, imgs in outputs if key in imgs]
            for c, (label, image) in enumerate(cells):
                canvas.paste(image.resize((CELL, CELL), Image.BILINEAR), (left + c * CELL, top))
                draw.text((left + c * CELL + 3, top - HEADER_H + 3), label, fill="black")
    path = Path(out)
    canvas.save(path)
    return path
