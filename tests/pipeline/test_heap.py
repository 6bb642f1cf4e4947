"""The worker's glibc heap settings take effect (heap.py explains why they matter for speed)."""

from __future__ import annotations

import platform

import pytest

from corrupter.pipeline import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")
def test_tune_heap_is_accepted_by_glibc():
    # mallopt returns 0 for a value glibc refuses (e.g. an mmap threshold above its ceiling).
    assert heap.tune_heap() is True
    heap.release_free_heap()
