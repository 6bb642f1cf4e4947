"""What the shard reader sets aside, and that it keeps reading after it (Rejected, not an exception)."""

import io
import tarfile

from corrupter.io.shards import HashingReader, RawSample, Rejected, iter_samples


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_bad_members_are_rejected_with_their_key_and_reason_and_the_rest_is_read():
    data = tar_of([("a.jpg", b"a"), ("a.cls", b"1"),
                   ("b.jpg", b"b1"), ("b.jpg", b"b2"),  # two copies of one member: which is meant?
                   ("c.jpg", b"c"),
                   ("../evil.jpg", b"x"),  # escapes the shard's directory
                   ("a.png", b"late"),  # key a again, after other keys
                   ("d.jpg", b"d")])
    items = list(iter_samples(HashingReader(io.BytesIO(data)), "mem"))
    assert [(type(i).__name__, i.key) for i in items] == [
        ("RawSample", "a"), ("Rejected", "b"), ("Rejected", "../evil.jpg"), ("RawSample", "c"),
        ("Rejected", "a"), ("RawSample", "d")]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert "duplicate member b.jpg" in rejected[0].reason
    assert "unsafe" in rejected[1].reason and "../evil.jpg" in rejected[1].reason
    assert "appears again" in rejected[2].reason
    samples = [i for i in items if isinstance(i, RawSample)]
    assert samples[0].members == {"jpg": b"a", "cls": b"1"}  # the first a, whole; its late member not added
