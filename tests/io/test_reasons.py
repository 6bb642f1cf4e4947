"""Quarantine reasons are the same text on every run: memory addresses are cut (io/reasons.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from corrupter.io.codec import BadImage, decode_image
from corrupter.io.reasons import error_reason, stable_reason


@pytest.mark.parametrize("text, expected", [
    ("cannot identify image file <_io.BytesIO object at 0x7f3a2c1d9e40>", "cannot identify image file"),
    ("bad <function f at 0x55d0c0ffee00> here", "bad here"),
    ("pointer 0x00007f3a2c1d9e40 freed", "pointer 0x... freed"),
    ("byte 0xff at offset 0x1f", "byte 0xff at offset 0x1f"),  # short hex numbers are data, kept
    ("no address in here", "no address in here"),
])
def test_addresses_are_cut_and_other_text_kept(text, expected):
    assert stable_reason(text) == expected


def test_an_exception_reason_is_its_type_and_stable_message():
    first = error_reason(RuntimeError(f"cannot read {object()!r}"))
    second = error_reason(RuntimeError(f"cannot read {object()!r}"))
    assert first == second == "RuntimeError: cannot read"


def test_pil_errors_reach_the_manifest_without_the_buffer_address():
    with pytest.raises(BadImage) as info:
        decode_image(b"not an image at all", 10**6)
    assert str(info.value) == "undecodable image: UnidentifiedImageError: cannot identify image file"
    good = io.BytesIO()
    Image.new("RGB", (4, 4)).save(good, format="PNG")
    assert decode_image(good.getvalue(), 10**6).size == (4, 4)
