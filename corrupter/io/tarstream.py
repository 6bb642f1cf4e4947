"""The tar bytes of an input shard, read forward as tarfile's stream mode reads them, but bounded.

tarfile's own stream mode (``r|*``) has three flaws on untrusted shards, all fixed here:
- its gzip/bzip2/xz reader re-copies the whole decompressed remainder of every chunk, so a member
  of compressed zeros costs gigabytes and quadratic time just to be skipped: TarBytes decompresses
  with bounded output instead;
- it stops without a word at a zero block, a corrupt header or a short read, and cannot tell a
  complete gzip stream from a cut one: TarBytes keeps a short rewind window, so the reader can
  look at what stopped tarfile (shards.py), and records a compressed stream without its end;
- it reads extended headers (pax, GNU long names) and sparse maps whole, whatever size they
  declare: GuardedTarInfo refuses oversized ones and never reads a sparse map.
"""

from __future__ import annotations

import bz2
import lzma
import tarfile
import zlib
from typing import BinaryIO

from .limits import MAX_HEADER_BYTES

READ_SIZE = 1 << 16  # what tarfile asks for at a time (its bufsize); also the compressed chunk size
WINDOW = READ_SIZE + 2 * tarfile.BLOCKSIZE  # how far back a reader may rewind

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)


class _Decoder:
    """One gzip, bzip2 or xz stream, decoded at most ``size`` bytes at a time."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "gzip":
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif kind == "bzip2":
            self._obj = bz2.BZ2Decompressor()
        else:
            self._obj = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        self._tail = b""  # zlib keeps input it had no room to decode here, the others internally

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._tail if self.kind == "gzip" else self._obj.needs_input

    def decode(self, data: bytes, size: int) -> bytes:
        try:
            if self.kind == "gzip":
                out = self._obj.decompress(self._tail + data, size)
                self._tail = self._obj.unconsumed_tail
                return out
            return self._obj.decompress(data, max_length=size)
        except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
            raise tarfile.ReadError(f"corrupt {self.kind} data: {exc}") from None


class TarBytes:
    """The (decompressed) tar bytes of a raw shard stream, with a rewind of up to WINDOW bytes.

    ``problems`` collects what is wrong with the compression layer (a stream cut before its end
    marker, data after it that is not another stream); corrupt compressed data raises
    tarfile.ReadError. Concatenated compressed streams (``cat a.tar.gz b.tar.gz``) are one stream,
    as gzip reads them; zero padding after the last one is ignored.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._input = raw.read(READ_SIZE)  # compressed bytes not yet handed to the decoder
        self._raw_done = not self._input
        self.compression = next((kind for magic, kind in _MAGIC if self._input.startswith(magic)), "")
        self._decoder = _Decoder(self.compression) if self.compression else None
        self._finished = False
        self.problems: list[str] = []
        self.position = 0  # of the next byte read() returns, in tar bytes
        self._buffer = bytearray()  # tar bytes from self._start on: the rewind window and read-ahead
        self._start = 0

    def read(self, size: int = READ_SIZE) -> bytes:
        """Up to ``size`` bytes (at least one unless at the end); ``-1`` reads READ_SIZE, not all."""
        size = READ_SIZE if size is None or size < 0 else size
        if size == 0:
            return b""
        if self.position == self._start + len(self._buffer):
            data = self._fetch(size)
            if not data:
                return b""
            self._buffer += data
            if len(data) <= size:  # the usual case: handed on as fetched, without another copy
                self.position += len(data)
                self._trim()
                return data
        offset = self.position - self._start
        out = bytes(self._buffer[offset:offset + size])
        self.position += len(out)
        self._trim()
        return out

    def _trim(self) -> None:
        behind = self.position - WINDOW - self._start
        if behind > WINDOW:  # in large steps: amortised, not per read
            del self._buffer[:behind]
            self._start += behind

    def rewind(self, position: int) -> None:
        """Read again from ``position`` (at most WINDOW bytes before the furthest byte read)."""
        if not self._start <= position <= self._start + len(self._buffer):
            raise ValueError(f"cannot rewind to byte {position}: the window holds {self._start}.."
                             f"{self._start + len(self._buffer)}")
        self.position = position

    def _raw_chunk(self) -> bytes:
        if self._input:
            chunk, self._input = self._input, b""
            return chunk
        if self._raw_done:
            return b""
        chunk = self._raw.read(READ_SIZE)
        self._raw_done = not chunk
        return chunk

    def _fetch(self, size: int) -> bytes:
        if self._decoder is None:
            return self._raw_chunk()
        while not self._finished:
            if self._decoder.eof:
                self._next_stream()
                continue
            chunk = self._raw_chunk() if self._decoder.needs_input else b""
            out = self._decoder.decode(chunk, size)
            if out:
                return out
            if not chunk and self._raw_done and not self._decoder.eof:
                self._finished = True
                self.problems.append(f"the {self.compression} stream ends without its end marker: "
                                     f"the shard is truncated")
        return b""

    def _next_stream(self) -> None:
        """After one compressed stream: another one, zero padding, the end, or foreign data."""
        rest = self._decoder.unused_data  # type: ignore[union-attr]
        magic = next(m for m, kind in _MAGIC if kind == self.compression)
        while len(rest) < len(magic) and (more := self._raw_chunk()):
            rest += more
        if rest.startswith(magic):
            self._decoder, self._input = _Decoder(self.compression), rest
            return
        self._finished = True
        while rest and not rest.strip(b"\0"):
            rest = self._raw_chunk()
        if rest:
            self.problems.append(f"data that is not {self.compression} follows the end of the "
                                 f"{self.compression} stream; it was not read")


class OversizedHeader(tarfile.HeaderError):
    """An extended tar header larger than MAX_HEADER_BYTES."""


class GuardedTarInfo(tarfile.TarInfo):
    """tarfile's TarInfo, minus the header parsing that reads what a header declares, unbounded.

    Sparse members are marked (``sparse == []``) but their map is never read: the reader refuses
    them (shards.py), so their data, skipped by its stored size, is all that matters.
    """

    def _proc_member(self, tarfile_: tarfile.TarFile):  # type: ignore[override]
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise OversizedHeader(f"extended tar header of {self.size:,} bytes (the limit is {MAX_HEADER_BYTES:,})")
        return super()._proc_member(tarfile_)

    def _proc_sparse(self, tarfile_: tarfile.TarFile):  # type: ignore[override]
        # old GNU sparse: skip the extension blocks of the map (tarfile would keep every entry)
        _, extended, real_size = self._sparse_structs  # type: ignore[attr-defined]
        del self._sparse_structs  # type: ignore[attr-defined]
        while extended:
            block = tarfile_.fileobj.read(tarfile.BLOCKSIZE)
            if len(block) < tarfile.BLOCKSIZE:
                raise tarfile.TruncatedHeaderError("sparse map cut short")
            extended = bool(block[504])
        self.sparse = []
        self.offset_data = tarfile_.fileobj.tell()
        tarfile_.offset = self.offset_data + self._block(self.size)
        self.size = real_size
        return self

    def _proc_gnusparse_00(self, next, pax_headers, buf):  # tarfile's own names and signatures
        next.sparse = []

    def _proc_gnusparse_01(self, next, pax_headers):
        next.sparse = []

    def _proc_gnusparse_10(self, next, pax_headers, tarfile_):
        next.sparse = []  # the map sits in the member's data, skipped with it


def open_archive(data: TarBytes) -> tarfile.TarFile:
    """A forward-only tarfile reading one archive from ``data``'s current position."""
    return tarfile.open(fileobj=data, mode="r|", bufsize=READ_SIZE, tarinfo=GuardedTarInfo)  # type: ignore[arg-type]
