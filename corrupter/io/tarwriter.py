"""A reproducible WebDataset tar writer: same samples in, same bytes out."""

from __future__ import annotations

import io
import tarfile
from typing import BinaryIO, Mapping

# A constant mtime (2020-01-01T00:00:00Z): a wall-clock mtime would make every rerun a new file.
FIXED_MTIME = 1577836800


class DeterministicTarWriter:
    """Writes samples as contiguous members ``KEY.EXT`` (extensions sorted), USTAR, fixed metadata."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.USTAR_FORMAT)
        self.samples = 0

    def write(self, key: str, members: Mapping[str, bytes]) -> None:
        if not key or "." in key.rsplit("/", 1)[-1]:
            raise ValueError(f"sample key {key!r} is empty or has a dot (readers split keys at the first dot)")
        for ext in sorted(members):
            data = members[ext]
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o444
            info.uid = info.gid = 0
            info.uname = info.gname = "corrupter"
            self._tar.addfile(info, io.BytesIO(data))
        self.samples += 1

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> DeterministicTarWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
