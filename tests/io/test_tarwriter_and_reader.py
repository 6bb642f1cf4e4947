"""The deterministic tar writer and the streaming reader, round trip."""

import io
import tarfile

import pytest
import webdataset as wds

from corrupter.io.shards import HashingReader, RawSample, iter_samples, parse_sample, split_member_name
from corrupter.io.tarwriter import FIXED_MTIME, DeterministicTarWriter

SAMPLES = [("a1", {"jpg": b"\xff\xd8img1", "cls": b"3", "json": b"{}"}),
           ("b2", {"cls": b"4", "jpg": b"\xff\xd8img2"})]


def write(samples) -> bytes:
    buffer = io.BytesIO()
    with DeterministicTarWriter(buffer) as writer:
        for key, members in samples:
            writer.write(key, members)
    return buffer.getvalue()


def test_same_samples_same_bytes_with_fixed_metadata():
    data = write(SAMPLES)
    assert data == write(SAMPLES)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a1.cls", "a1.jpg", "a1.json", "b2.cls", "b2.jpg"]
    assert {(m.mtime, m.mode, m.uid, m.gid, m.uname) for m in members} == {(FIXED_MTIME, 0o444, 0, 0, "corrupter")}


def tarfile_stream_bytes(samples) -> bytes:
    """What the writer wrote before it wrote headers itself: tarfile's stream mode, USTAR."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            for ext in sorted(members):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size, info.mtime, info.mode = len(members[ext]), FIXED_MTIME, 0o444
                info.uid = info.gid = 0
                info.uname = info.gname = "corrupter"
                tar.addfile(info, io.BytesIO(members[ext]))
    return buffer.getvalue()


@pytest.mark.parametrize("sizes", [[], [0], [1, 511, 512, 513], [10240 - 512 * 3], [9216], [20000, 7, 3000]])
def test_the_bytes_of_tarfiles_stream_mode(sizes):
    """Member sizes around the 512-byte block and the 10,240-byte record (end-of-archive padding)."""
    samples = [(f"k{i:03d}", {"jpg": bytes([i % 251]) * size, "cls": b"7"}) for i, size in enumerate(sizes)]
    assert write(samples) == tarfile_stream_bytes(samples)


def test_stock_webdataset_reads_it(tmp_path):
    (tmp_path / "s.tar").write_bytes(write(SAMPLES))
    keys = [s["__key__"] for s in wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False)]
    assert keys == ["a1", "b2"]


def test_keys_with_dots_are_refused():
    with pytest.raises(ValueError, match="dot"):
        write([("a.b", {"jpg": b"x"})])


def test_reader_groups_members_and_hashes_the_stream():
    data = write(SAMPLES)
    stream = HashingReader(io.BytesIO(data))
    items = list(iter_samples(stream, "mem"))
    stream.drain()
    assert [i.key for i in items] == ["a1", "b2"] and all(isinstance(i, RawSample) for i in items)
    assert stream.bytes == len(data)
    parsed = parse_sample(items[0])
    assert parsed.label == 3 and parsed.image_bytes.startswith(b"\xff\xd8")


def test_member_names_split_at_the_first_dot_of_the_basename():
    assert split_member_name("dir.v2/img.seg.png") == ("dir.v2/img", "seg.png")
    assert split_member_name("x.JPG") == ("x", "jpg")
    assert split_member_name("README") is None


def test_label_sources_and_errors():
    assert parse_sample(RawSample("k", {"jpg": b"x", "json": b'{"label": 12}'})).label == 12
    with pytest.raises(ValueError, match="missing label"):
        parse_sample(RawSample("k", {"jpg": b"x"}))
    with pytest.raises(ValueError, match="no image member"):
        parse_sample(RawSample("k", {"cls": b"1", "txt": b"t"}))


@pytest.mark.parametrize("name, size", [("a.jpg", 0), ("k" * 96 + ".jpg", 123456), ("d/e/f" * 30 + ".cls", 5),
                                        ("\u00e9t\u00e9.json", 8 ** 11 - 1), ("x.jpg", 8 ** 11)])
def test_headers_from_the_template_are_tarfiles(name, size):
    from corrupter.io.tarwriter import _tar_info, ustar_header

    if size >= 8 ** 11:
        with pytest.raises(ValueError):
            ustar_header(name, size)  # USTAR cannot hold it; tarfile's own refusal
        return
    assert ustar_header(name, size) == _tar_info(name, size).tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
