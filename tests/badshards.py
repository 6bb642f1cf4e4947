"""A corpus of broken and unusual input, written as real WebDataset tars (for issue: nothing lost)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def _photo(seed: int, size=(300, 260)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    noisy = (base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 0
    tar.addfile(info, io.BytesIO(data))


def good_members(key: str, seed: int, label: int = 1) -> list[tuple[str, bytes]]:
    return [(f"{key}.jpg", _encode(_photo(seed), "JPEG", quality=90)), (f"{key}.cls", str(label).encode())]


# key -> expected outcome: "ok" (converted and processed) or a fragment of the quarantine reason
EXPECTED = {
    "good_rgb": "ok",
    "cmyk": "ok",
    "greyscale": "ok",
    "palette": "ok",
    "alpha": "ok",
    "png16": "ok",
    "label_in_json": "ok",
    "dir.v2/dotted": "ok",  # a dot in the directory part: the key is kept, made dot-free on output
    "truncated_jpeg": "undecodable image",
    "not_an_image": "undecodable image",
    "tiny": "below the minimum side",
    "bomb": "exceeds the limit",
    "no_label": "missing label",
    "bad_label": "invalid cls label",
    "bad_json": "invalid json",
    "no_image": "no image member",
    "split": "appears again later",  # members not adjacent: the later occurrence is skipped...
    "/abs.jpg": "unsafe tar member name",  # rejected per member, by full name
    "../escape.jpg": "unsafe tar member name",
}
# ...and the first occurrence of "split" has no label (its cls came later)
EXPECTED_EXTRA = {"split": "missing label"}
BOMB_PIXELS = 4_000_000  # preprocess.max_pixels to use with this corpus


def write_bad_shard(path: Path) -> None:
    photo = _photo(3)
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    sixteen = Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257)
    good_jpeg = _encode(photo, "JPEG", quality=90)
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in good_members("good_rgb", 1):
            _add(tar, name, data)
        _add(tar, "cmyk.jpg", _encode(photo.convert("CMYK"), "JPEG"))
        _add(tar, "cmyk.cls", b"2")
        _add(tar, "greyscale.png", _encode(photo.convert("L"), "PNG"))
        _add(tar, "greyscale.cls", b"3")
        _add(tar, "palette.png", _encode(photo.convert("P", palette=Image.ADAPTIVE), "PNG"))
        _add(tar, "palette.cls", b"4")
        _add(tar, "alpha.png", _encode(rgba, "PNG"))
        _add(tar, "alpha.cls", b"5")
        _add(tar, "png16.png", _encode(sixteen, "PNG"))
        _add(tar, "png16.cls", b"6")
        _add(tar, "label_in_json.jpg", good_jpeg)
        _add(tar, "label_in_json.json", json.dumps({"label": 7, "wnid": "n0000007"}).encode())
        _add(tar, "dir.v2/dotted.jpg", good_jpeg)
        _add(tar, "dir.v2/dotted.cls", b"8")
        _add(tar, "truncated_jpeg.jpg", good_jpeg[: len(good_jpeg) // 3])
        _add(tar, "truncated_jpeg.cls", b"9")
        _add(tar, "not_an_image.jpg", b"this is not a JPEG at all")
        _add(tar, "not_an_image.cls", b"10")
        _add(tar, "tiny.png", _encode(photo.resize((20, 12)), "PNG"))
        _add(tar, "tiny.cls", b"11")
        _add(tar, "bomb.png", _encode(Image.new("L", (2500, 2000)), "PNG"))
        _add(tar, "bomb.cls", b"12")
        _add(tar, "no_label.jpg", good_jpeg)
        _add(tar, "bad_label.jpg", good_jpeg)
        _add(tar, "bad_label.cls", b"cat")
        _add(tar, "bad_json.jpg", good_jpeg)
        _add(tar, "bad_json.json", b"{not json")
        _add(tar, "no_image.cls", b"13")
        _add(tar, "no_image.txt", b"caption only")
        _add(tar, "split.jpg", good_jpeg)
        _add(tar, "between.jpg", good_jpeg)
        _add(tar, "between.cls", b"14")
        _add(tar, "split.cls", b"15")
        _add(tar, "/abs.jpg", good_jpeg)
        _add(tar, "../escape.jpg", good_jpeg)
        for name, data in good_members("good_last", 16, label=16):
            _add(tar, name, data)


# "between" and "good_last" are also fine samples
OK_KEYS = sorted([k for k, v in EXPECTED.items() if v == "ok"] + ["between", "good_last"])


def write_truncated_shard(path: Path, good: int = 4) -> None:
    """A tar cut off in the middle of its last sample's image."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(good + 1):
            if i == good:
                last_sample_starts = buffer.tell()
            for name, data in good_members(f"sample{i}", 100 + i):
                _add(tar, name, data)
    path.write_bytes(buffer.getvalue()[: last_sample_starts + 512 + 1000])  # header + part of the JPEG
