"""A corpus of broken and unusual input, written as real WebDataset tars (for issue: nothing lost)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib
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


def _add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    """A member that is not a regular file: a link, a device, a FIFO."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, linkname, 0
    tar.addfile(info)


def _add_pax_sparse(tar: tarfile.TarFile, name: str, headers: dict[str, str], stored: bytes) -> None:
    """A GNU sparse member in pax form (0.1 or 1.0): the pax records say the real size."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.pax_headers = len(stored), 0, headers
    fmt, tar.format = tar.format, tarfile.PAX_FORMAT
    tar.addfile(info, io.BytesIO(stored))
    tar.format = fmt


def _add_gnu_sparse(tar: tarfile.TarFile, name: str, real_size: int) -> None:
    """An old-GNU sparse member (type S) with one extension block: 512 bytes stored, ``real_size``
    declared. tarfile cannot write these, so the header is patched by hand."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = tarfile.GNUTYPE_SPARSE, 512, 0
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")[-tarfile.BLOCKSIZE:])
    header[386:410] = tarfile.itn(0, 12, tarfile.GNU_FORMAT) + tarfile.itn(512, 12, tarfile.GNU_FORMAT)
    header[482] = 1  # one extension block of the sparse map follows
    header[483:495] = tarfile.itn(real_size, 12, tarfile.GNU_FORMAT)
    header[148:156] = b"        "
    header[148:155] = b"%06o\0" % tarfile.calc_chksums(bytes(header))[0]
    extension = bytearray(tarfile.BLOCKSIZE)
    extension[0:24] = tarfile.itn(real_size - 512, 12, tarfile.GNU_FORMAT) + tarfile.itn(0, 12, tarfile.GNU_FORMAT)
    tar.fileobj.write(bytes(header) + bytes(extension) + b"\xff" * 512)
    tar.offset += 3 * tarfile.BLOCKSIZE


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
    # issue 15: one bad member quarantines its sample, whatever the failure, and nothing vanishes
    "deep_json": "nested too deeply",  # RecursionError in json.loads
    "huge_json": "over the limit of 1,048,576",
    "label_negative": "invalid cls label",
    "label_digits": "invalid cls label",  # thousands of digits
    "label_underscore": "invalid cls label",  # int() would read 7_000
    "label_too_big": "outside 0..999",
    "json_label_too_big": "outside 0..999",
    "label_padded": "ok",  # " 0999\n": plain digits around whitespace
    "link_only": "symbolic link",
    "hardlink_only": "hard link",
    "device_only": "character device",
    "fifo_only": "FIFO",
    "half_linked": "symbolic link",  # a good image, but its label is a link: the whole sample goes
    "x/.hidden.jpg": "hidden file",  # no key (by full name)
    "README": "no extension",
    "sparse_bomb": "over the limit",  # old-GNU sparse declaring 1.5 GB in 1.5 KB: never read
    "pax_sparse_bomb": "over the limit",  # the same in pax 0.1 form
    "pax_sparse": "sparse file",  # pax 1.0 sparse of a legal size: refused, its map never read
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
        _add(tar, "deep_json.jpg", good_jpeg)
        _add(tar, "deep_json.cls", b"17")
        _add(tar, "deep_json.json", b"[" * 100_000 + b"]" * 100_000)
        _add(tar, "huge_json.jpg", good_jpeg)
        _add(tar, "huge_json.json", b'{"label": 18}' + b" " * 1024**2)
        for key, label in (("label_negative", b"-1"), ("label_digits", b"7" * 5000), ("label_underscore", b"7_000"),
                           ("label_too_big", b"1000"), ("label_padded", b" 0999\n")):
            _add(tar, f"{key}.jpg", good_jpeg)
            _add(tar, f"{key}.cls", label)
        _add(tar, "json_label_too_big.jpg", good_jpeg)
        _add(tar, "json_label_too_big.json", b'{"label": 5000}')
        _add_special(tar, "link_only.jpg", tarfile.SYMTYPE, "good_rgb.jpg")
        _add_special(tar, "hardlink_only.jpg", tarfile.LNKTYPE, "good_rgb.jpg")
        _add_special(tar, "device_only.jpg", tarfile.CHRTYPE)
        _add_special(tar, "fifo_only.jpg", tarfile.FIFOTYPE)
        _add(tar, "half_linked.jpg", good_jpeg)
        _add_special(tar, "half_linked.cls", tarfile.SYMTYPE, "good_rgb.cls")
        _add(tar, "x/.hidden.jpg", good_jpeg)
        _add(tar, "README", b"a file that belongs to no sample")
        _add_gnu_sparse(tar, "sparse_bomb.jpg", 1_500_000_000)
        _add(tar, "sparse_bomb.cls", b"19")
        _add_pax_sparse(tar, "pax_sparse_bomb.jpg", {"GNU.sparse.size": "1500000000", "GNU.sparse.numblocks": "1",
                                                     "GNU.sparse.map": "0,512"}, b"\xff" * 512)
        _add(tar, "pax_sparse_bomb.cls", b"20")
        _add_pax_sparse(tar, "pax_sparse.jpg", {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                                                "GNU.sparse.name": "pax_sparse.jpg", "GNU.sparse.realsize": "2048"},
                        b"1\n0\n512\n".ljust(512, b"\0") + b"\xff" * 512)
        _add(tar, "pax_sparse.cls", b"21")
        for name, data in good_members("good_last", 16, label=16):
            _add(tar, name, data)


# "between" and "good_last" are also fine samples (label_padded: see EXPECTED)
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


def tar_bytes(samples: list[tuple[str, int]]) -> bytes:
    """A whole USTAR tar of good samples (key, seed), ending with its end-of-archive marker."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, seed in samples:
            for name, data in good_members(key, seed):
                _add(tar, name, data)
    return buffer.getvalue()


CONCATENATED_KEYS = ["cat_a0", "cat_a1", "cat_b0", "cat_b1", "cat_b2"]


def write_concatenated_shard(path: Path) -> None:
    """``cat a.tar b.tar``: two whole archives in one shard; all five samples are to be read."""
    path.write_bytes(tar_bytes([("cat_a0", 30), ("cat_a1", 31)]) + tar_bytes([("cat_b0", 32), ("cat_b1", 33),
                                                                                ("cat_b2", 34)]))


def write_gzip_of_cut_tar(path: Path) -> int:
    """A complete gzip of a tar cut at a member boundary (3 of 4 samples); returns the samples kept."""
    whole = tar_bytes([(f"gzcut{i}", 40 + i) for i in range(4)])
    cut = _sample_start(whole, "gzcut3.")
    path.write_bytes(gzip.compress(whole[:cut], mtime=0))
    return 3


def _sample_start(tar: bytes, prefix: str) -> int:
    """Offset of the first header whose name starts with ``prefix``."""
    for offset in range(0, len(tar), tarfile.BLOCKSIZE):
        if tar[offset:offset + len(prefix)] == prefix.encode():
            return offset
    raise ValueError(prefix)


GZ_BOMB_BYTES = 256 * 1024**2  # over the default input.max_member_bytes (64 MiB), ~250 KB compressed


def write_gzip_bomb(path: Path, member_bytes: int = GZ_BOMB_BYTES) -> None:
    """A .tar.gz of a good sample, a sample whose image is ``member_bytes`` of zeros, and another good
    sample; built without ever holding the zeros: deflate blocks of zeros are identical after a
    full flush, so one is repeated."""
    prefix = tar_bytes([("gzbomb_before", 50)])
    prefix = prefix[:_end_of_members(prefix)]  # no end marker yet: more members follow
    header = tarfile.TarInfo("gzbomb.jpg")
    header.size, header.mtime = member_bytes, 0
    head = prefix + header.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
    tail = b"\0" * (-member_bytes % tarfile.BLOCKSIZE) + tar_bytes([("gzbomb_after", 51)])
    chunk = b"\0" * 1024**2
    assert member_bytes % len(chunk) == 0
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)]
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    blocks = member_bytes // len(chunk)
    body += [first, repeated * (blocks - 1)]
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(chunk, crc)
    body.append(deflate.compress(tail) + deflate.flush())
    crc = zlib.crc32(tail, crc)
    size = len(head) + member_bytes + len(tail)
    gz_header = b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\xff"
    path.write_bytes(gz_header + b"".join(body) + crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little"))


def _end_of_members(tar: bytes) -> int:
    """Where the zero blocks at the end of a tar begin."""
    end = len(tar)
    while end >= tarfile.BLOCKSIZE and not tar[end - tarfile.BLOCKSIZE:end].strip(b"\0"):
        end -= tarfile.BLOCKSIZE
    return end
