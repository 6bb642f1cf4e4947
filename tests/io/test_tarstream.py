"""The shard reader on broken streams (issue 15): nothing lost in silence, nothing read unbounded."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import tracemalloc

import pytest

from corrupter.io.shards import HashingReader, RawSample, Rejected, ShardReadError, iter_samples
from tests.badshards import (
    CONCATENATED_KEYS,
    _add,
    _sample_start,
    tar_bytes,
    write_bad_shard,
    write_concatenated_shard,
    write_gzip_bomb,
    write_gzip_of_cut_tar,
)


def read(data: bytes, **kw) -> tuple[list[str], dict[str, str], list[str]]:
    """(keys of samples, {rejected key: reason}, shard-level errors) of a shard's bytes."""
    stream = HashingReader(io.BytesIO(data))
    items = list(iter_samples(stream, "mem", **kw))
    stream.drain()
    assert stream.bytes == len(data)
    samples = [i.key for i in items if isinstance(i, RawSample)]
    rejected = {i.key: i.reason for i in items if isinstance(i, Rejected) and i.key}
    assert len(rejected) == len([i for i in items if isinstance(i, Rejected) and i.key]), "one entry per key"
    return samples, rejected, [i.reason for i in items if isinstance(i, Rejected) and not i.key]


FIVE = [(f"s{i}", 60 + i) for i in range(5)]


def test_concatenated_archives_are_read_whole(tmp_path):
    write_concatenated_shard(tmp_path / "cat.tar")
    assert read((tmp_path / "cat.tar").read_bytes()) == (CONCATENATED_KEYS, {}, [])


def test_concatenated_gzip_streams_are_one_shard():
    first, second = tar_bytes(FIVE[:2]), tar_bytes(FIVE[2:])
    assert read(gzip.compress(first, mtime=0) + gzip.compress(second, mtime=0)) == ([k for k, _ in FIVE], {}, [])


@pytest.mark.parametrize("compress", [lambda b: gzip.compress(b, mtime=0), bz2.compress, lzma.compress,
                                      lambda b: gzip.compress(b, mtime=0) + b"\0" * 4096])
def test_compressed_shards_read_as_plain_ones(compress):
    assert read(compress(tar_bytes(FIVE))) == ([k for k, _ in FIVE], {}, [])


def test_a_gzip_of_a_tar_cut_at_a_member_boundary_is_reported(tmp_path):
    kept = write_gzip_of_cut_tar(tmp_path / "cut.tar.gz")
    samples, rejected, errors = read((tmp_path / "cut.tar.gz").read_bytes())
    assert len(samples) == kept and not rejected
    assert len(errors) == 1 and "no end-of-archive marker" in errors[0]


def test_a_cut_gzip_stream_is_reported_even_after_a_whole_tar():
    whole = gzip.compress(tar_bytes(FIVE), mtime=0)
    samples, _, errors = read(whole[:-8])  # the CRC and size trailer gone: the tar itself is complete
    assert len(samples) == 5 and errors == ["the gzip stream ends without its end marker: the shard is truncated"]
    samples, rejected, errors = read(whole[: len(whole) // 2])
    assert samples and len(samples) + len(rejected) <= 5 and any("end marker" in e for e in errors)


def test_foreign_data_after_the_end_is_reported():
    plain = tar_bytes(FIVE)
    samples, _, errors = read(plain + b"\x01trailing junk" * 100)
    assert len(samples) == 5 and len(errors) == 1 and "not a tar archive" in errors[0]
    samples, _, errors = read(gzip.compress(plain, mtime=0) + b"junk after the gzip stream")
    assert len(samples) == 5 and errors == ["data that is not gzip follows the end of the gzip stream; it was not read"]


def test_a_corrupt_header_in_the_middle_is_reported_not_taken_for_the_end():
    data = bytearray(tar_bytes(FIVE))
    start = _sample_start(bytes(data), "s3.")
    data[start:start + 100] = b"\x07" * 100  # the name, so the checksum no longer matches
    samples, rejected, errors = read(bytes(data))
    assert samples == ["s0", "s1", "s2"] and not rejected
    assert len(errors) == 1 and f"corrupt tar header at byte {start}" in errors[0]


def test_a_lone_zero_block_then_data_is_corrupt_not_the_end():
    data = tar_bytes(FIVE[:2])
    members_end = len(data) - 10240 + _trailing_zero_start(data[-10240:])
    spliced = data[:members_end] + b"\0" * 512 + tar_bytes(FIVE[2:])
    samples, _, errors = read(spliced)
    assert samples == ["s0", "s1"] and len(errors) == 1 and "corrupt tar header" in errors[0]


def _trailing_zero_start(record: bytes) -> int:
    end = len(record)
    while end and not record[end - 512:end].strip(b"\0"):
        end -= 512
    return end


def test_an_oversized_extended_header_stops_reading_without_reading_it():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for key, seed in FIVE[:2]:
            _add(tar, f"{key}.cls", str(seed).encode())
        _add(tar, "s1.txt", b"not read, but whole: s1 is not cut")
        info = tarfile.TarInfo("long.jpg")
        info.pax_headers = {"comment": "x" * (2 * 1024**2)}
        tar.addfile(info, io.BytesIO(b""))
    samples, rejected, errors = read(buffer.getvalue(), read_extensions={"cls"})
    assert samples == ["s0", "s1"] and not rejected
    assert len(errors) == 1 and "extended tar header of 2,097," in errors[0] and "limit is 1,048,576" in errors[0]


def test_members_over_the_limit_or_unneeded_are_never_read():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("a.jpg", b"j" * 100), ("a.txt", b"t" * 50), ("b.jpg", b"j" * 101), ("b.cls", b"1"),
                           ("c.jpg", b"j")):
            _add(tar, name, data)
    stream = HashingReader(io.BytesIO(buffer.getvalue()))
    items = list(iter_samples(stream, "mem", max_member_bytes=100, read_extensions={"jpg", "cls"}))
    a, b, c = items
    assert a == RawSample("a", {"jpg": b"j" * 100}, ["txt"])
    assert b == Rejected("b", "member 'b.jpg' declares 101 bytes, over the limit of 100 (input.max_member_bytes); "
                              "not read")
    assert c == RawSample("c", {"jpg": b"j"})


def test_stray_names_are_one_entry_each_and_directories_none():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        folder = tarfile.TarInfo("x")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name in ("x/.hidden.jpg", "x/.hidden.jpg", ".DS_Store", "x/README", "x/a.jpg"):
            _add(tar, name, b"data")
    samples, rejected, errors = read(buffer.getvalue())
    assert samples == ["x/a"] and errors == []
    assert sorted(rejected) == [".DS_Store", "x/.hidden.jpg", "x/README"]


def test_a_shard_that_is_empty_or_not_a_tar_is_a_read_error():
    for data in (b"", b"\x01not a tar" * 100, gzip.compress(b"\x01not a tar" * 100)):
        with pytest.raises(ShardReadError, match="not a readable tar"):
            read(data)


def test_the_rewind_window_is_bounded():
    from corrupter.io.tarstream import WINDOW, TarBytes

    data = TarBytes(io.BytesIO(bytes(range(256)) * 4096))
    while data.read():
        pass
    data.rewind(data.position - WINDOW)
    with pytest.raises(ValueError, match="cannot rewind"):
        data.rewind(data.position - 3 * WINDOW)


def peak_while_reading(shard) -> tuple[int, list[str], dict[str, str]]:
    """Peak bytes Python allocated while reading ``shard`` (tracemalloc), samples, rejections."""
    data = shard.read_bytes()
    tracemalloc.start()
    try:
        found = list(iter_samples(HashingReader(io.BytesIO(data)), "mem"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak, [i.key for i in found if isinstance(i, RawSample)],
            {i.key: i.reason for i in found if isinstance(i, Rejected)})


def test_a_gzip_bomb_member_is_refused_without_being_read(tmp_path):
    """256 MiB of zeros in 340 KB of gzip, over the 64 MiB default: skipped in bounded memory."""
    write_gzip_bomb(tmp_path / "bomb.tar.gz")
    assert (tmp_path / "bomb.tar.gz").stat().st_size < 1024**2
    peak, ok, rejected = peak_while_reading(tmp_path / "bomb.tar.gz")
    assert peak < 8 * 1024**2, peak  # the member alone would be 256 MiB
    assert ok == ["gzbomb_before", "gzbomb_after"]
    assert "declares 268,435,456 bytes, over the limit" in rejected["gzbomb"]


def test_a_sparse_bomb_is_refused_without_being_read(tmp_path):
    """The issue's 10 KB tar declaring 1.5 GB (old GNU sparse and pax sparse)."""
    write_bad_shard(tmp_path / "bad.tar")
    peak, ok, rejected = peak_while_reading(tmp_path / "bad.tar")
    assert peak < 8 * 1024**2 + (tmp_path / "bad.tar").stat().st_size, peak  # the shard's own samples, held
    for key in ("sparse_bomb", "pax_sparse_bomb"):
        assert "declares 1,500,000,000 bytes, over the limit" in rejected[key]
    assert "good_last" in ok
