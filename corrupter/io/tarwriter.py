"""A reproducible WebDataset tar writer: same samples in, same bytes out."""

from __future__ import annotations

import tarfile
from typing import BinaryIO, Mapping

# A constant mtime (2020-01-01T00:00:00Z): a wall-clock mtime would make every rerun a new file.
FIXED_MTIME = 1577836800
_BLOCK = tarfile.BLOCKSIZE  # 512
_RECORD = tarfile.RECORDSIZE  # 20 blocks: the archive is padded to a whole record, as tarfile does
_ENCODING = "utf-8"


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = "corrupter"
    return info


def _header_template() -> bytes:
    """tarfile's USTAR header of this writer's members, with the name, size and checksum blank."""
    header = bytearray(_tar_info("x", 0).tobuf(tarfile.USTAR_FORMAT, _ENCODING, "surrogateescape"))
    header[0:100] = bytes(100)
    header[124:136] = bytes(12)
    header[148:156] = b" " * 8  # the checksum is computed over the header with its field as spaces
    return bytes(header)


_TEMPLATE = _header_template()


def ustar_header(name: str, size: int) -> bytes:
    """The header tarfile's ``TarInfo.tobuf(USTAR_FORMAT)`` writes for a member of this writer.

    Filled in from a template: only the name, size and checksum differ between members, and
    tarfile's Python header code was most of the cost of writing a sample. Names over 100 bytes
    (which USTAR splits into a prefix) and sizes over 11 octal digits go through tarfile itself.
    """
    encoded = name.encode(_ENCODING, "surrogateescape")
    if len(encoded) > 100 or size >= 8 ** 11:
        return _tar_info(name, size).tobuf(tarfile.USTAR_FORMAT, _ENCODING, "surrogateescape")
    header = bytearray(_TEMPLATE)
    header[0:len(encoded)] = encoded
    header[124:136] = b"%011o\x00" % size
    header[148:155] = b"%06o\x00" % sum(header)
    return bytes(header)


class DeterministicTarWriter:
    """Writes samples as contiguous members ``KEY.EXT`` (extensions sorted), USTAR, fixed metadata.

    The bytes of ``tarfile.open(fileobj, "w|", format=USTAR_FORMAT)`` with ``addfile`` per member
    (tests/io/test_tarwriter_and_reader.py), written straight to the file with headers filled in
    from a template (``ustar_header``): tarfile's stream mode copies every member through a Python
    buffer, and its header code costs more than the rest of writing a sample.
    """

    def __init__(self, fileobj: BinaryIO) -> None:
        self._out = fileobj
        self._offset = 0
        self.samples = 0

    def write(self, key: str, members: Mapping[str, bytes]) -> None:
        if not key or "." in key.rsplit("/", 1)[-1]:
            raise ValueError(f"sample key {key!r} is empty or has a dot (readers split keys at the first dot)")
        for ext in sorted(members):
            data = members[ext]
            header = ustar_header(f"{key}.{ext}", len(data))
            padding = -len(data) % _BLOCK
            self._out.write(header)
            self._out.write(data)
            self._out.write(bytes(padding))
            self._offset += len(header) + len(data) + padding
        self.samples += 1

    def close(self) -> None:
        """End of archive: two zero blocks, then zeros up to a whole record."""
        end = 2 * _BLOCK
        end += -(self._offset + end) % _RECORD
        self._out.write(bytes(end))
        self._offset += end

    def __enter__(self) -> DeterministicTarWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
