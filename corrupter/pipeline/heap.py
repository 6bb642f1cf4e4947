"""glibc heap settings for a worker: big image batches served from a reused heap, trimmed on demand.

Kernel temporaries are a few MB to tens of MB each. glibc serves blocks above its mmap threshold
(128 KiB, raised adaptively up to 32 MiB) with a fresh mmap, i.e. a page fault per 4 KiB page on
every allocation, and trims the heap top whenever more than twice that threshold is free. So a
worker pins the threshold at its maximum, keeps freed heap within a batch, and hands it back to the
OS itself between batches (RSS stays flat). What that buys is measured by bench/bench_worker.py
(docs/benchmarks.md, "One CPU worker"). The settings are process-wide: a ShardWorker made
in-process (tests, debugging) applies them to its host process too. No-op without glibc.
"""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024  # in practice never: release_free_heap trims between batches

try:
    _LIBC = ctypes.CDLL("libc.so.6")
    _LIBC.mallopt  # noqa: B018  (glibc only)
    _LIBC.malloc_trim  # noqa: B018
except (OSError, AttributeError):
    _LIBC = None


def tune_heap() -> bool:
    """Serve blocks up to 32 MiB from the heap and stop automatic trimming; True if applied."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc malloc_trim); call between batches.

    Image batches are large, short-lived blocks; glibc keeps what they leave behind, fragmented, so
    without this a worker's peak RSS creeps up with every shard (bench/bench_job.py measures it).
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
