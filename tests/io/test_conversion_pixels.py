"""decode_image's conversions to RGB, checked pixel by pixel against values computed here.

Documented (corrupter/io/codec.py): transparency (RGBA, LA, a palette with tRNS) is composited on
white, out = a * colour + (1 - a) * 255 with a = alpha / 255; 16-bit greyscale is scaled to 8 bits,
round(v * 255 / 65535), not clipped; CMYK follows Pillow's conversion, R = (255 - C)(255 - K) / 255
(likewise G from M, B from Y); greyscale and palette colours are copied to the three channels.
Pillow's integer compositing rounds, so alpha results may be one level from the exact formula.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from corrupter.io.codec import decode_image


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    image = decode_image(data, max_pixels=10**6)
    assert image.mode == "RGB"
    return np.asarray(image).astype(np.float64)


def on_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64) / 255
    return a * colour + (1 - a) * 255


def random_levels(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_rgba_with_partial_alpha_is_composited_on_white():
    rgba = random_levels((32, 40, 4), seed=1)
    rgba[0, :8, 3] = (0, 1, 64, 127, 128, 200, 254, 255)  # the extremes are in for sure
    out = decoded(encoded(Image.fromarray(rgba, "RGBA")))
    expected = on_white(rgba[..., :3].astype(np.float64), rgba[..., 3:])
    assert np.abs(out - expected).max() <= 1
    assert (out[0, 0] == 255).all()  # fully transparent: white, whatever its colour
    assert (out[0, 7] == rgba[0, 7, :3]).all()  # opaque: its own colour


def test_la_with_partial_alpha_is_composited_on_white_into_equal_channels():
    la = random_levels((24, 30, 2), seed=2)
    out = decoded(encoded(Image.fromarray(la, "LA")))
    expected = on_white(la[..., 0].astype(np.float64), la[..., 1])
    for channel in range(3):
        assert np.abs(out[..., channel] - expected).max() <= 1
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_palette_with_per_entry_transparency_is_composited_on_white():
    palette = random_levels((16, 3), seed=3)
    alphas = np.array([0, 255, 128, 64, 200, 1, 254, 30, 90, 160, 220, 10, 100, 180, 240, 50], np.uint8)
    indices = np.random.default_rng(4).integers(0, 16, (20, 25), dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.reshape(-1).tolist())
    out = decoded(encoded(image, transparency=alphas.tobytes()))  # a PNG tRNS chunk
    expected = on_white(palette[indices].astype(np.float64), alphas[indices][..., None])
    assert np.abs(out - expected).max() <= 1


def test_palette_with_one_transparent_index_and_opaque_palette():
    palette = random_levels((8, 3), seed=5)
    indices = np.arange(40, dtype=np.uint8).reshape(5, 8) % 8
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.reshape(-1).tolist())
    out = decoded(encoded(image, transparency=3))
    expected = palette[indices].astype(np.float64)
    expected[indices == 3] = 255
    assert np.array_equal(out, expected)
    plain = decoded(encoded(image))  # no transparency: the palette colours, exactly
    assert np.array_equal(plain, palette[indices])


def test_16_bit_greyscale_is_scaled_not_clipped_at_every_value():
    every_value = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    image = Image.fromarray(every_value)
    assert image.mode == "I;16"
    data = encoded(image)
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # what a 16-bit PNG decodes to
    out = decoded(data)
    expected = np.floor(every_value.astype(np.float64) * 255 / 65535 + 0.5)  # no ties: 65535 = 255 * 257
    for channel in range(3):
        assert np.array_equal(out[..., channel], expected)


def test_8_bit_greyscale_is_copied_to_three_channels():
    every_level = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = decoded(encoded(Image.fromarray(every_level, "L")))
    for channel in range(3):
        assert np.array_equal(out[..., channel], every_level)


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    cmyk = cmyk.astype(np.float64)
    return (255 - cmyk[..., :3]) * (255 - cmyk[..., 3:]) / 255


def test_cmyk_pixels_follow_the_subtractive_formula():
    cmyk = random_levels((20, 24, 4), seed=6)
    out = decoded(encoded(Image.fromarray(cmyk, "CMYK"), "TIFF"))  # lossless: every value checked
    assert np.abs(out - cmyk_to_rgb(cmyk)).max() <= 1


@pytest.mark.parametrize("colour", [(10, 200, 30, 40), (0, 0, 0, 0), (255, 0, 128, 0), (30, 60, 90, 200)])
def test_cmyk_jpeg_flat_colours(colour):
    """The form CMYK usually arrives in (print-ready JPEG files); flat colours survive JPEG exactly."""
    image = Image.new("CMYK", (16, 16), colour)
    out = decoded(encoded(image, "JPEG", quality=100))
    expected = cmyk_to_rgb(np.array(colour, np.uint8))
    assert np.abs(out - expected).max() <= 1.5  # rounding in Pillow's formula, plus JPEG's own
