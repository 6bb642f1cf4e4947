"""Input shards of any size, made from the bundled sample photos (data/sample) under new keys.

Used by the tests and by the benchmarks in bench/ that need more samples than the sample shards hold.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def write_repeated_shard(path: Path, samples: int, sources: list[Path] | None = None) -> None:
    """A shard of ``samples`` samples cycling through the photos of ``sources`` (default: the first
    sample shard), each sample's members (jpg, cls, ...) copied under the key r0000, r0001, ..."""
    photos: dict[str, list[tuple[str, bytes]]] = {}  # stem -> (extension, data) in shard order
    for source in sources or [SAMPLE / "val-000000.tar"]:
        with tarfile.open(source) as tar:
            for member in tar:
                stem, ext = member.name.split(".", 1)
                photos.setdefault(stem, []).append((ext, tar.extractfile(member).read()))
    stems = sorted(photos)
    with tarfile.open(path, "w") as tar:
        for i in range(samples):
            for ext, data in photos[stems[i % len(stems)]]:
                info = tarfile.TarInfo(f"r{i:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
