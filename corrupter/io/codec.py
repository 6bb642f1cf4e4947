"""Bytes <-> pixels: decoding with the conversions real datasets need, the ImageNet-C crop, encoding."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps

from .reasons import error_reason

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")


class BadImage(ValueError):
    """An image that cannot be used; the message is the reason recorded in the manifest."""


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode to an RGB PIL image, converting greyscale, palette, CMYK, alpha and 16-bit images.

    Raises BadImage for undecodable bytes and for images over ``max_pixels`` (decompression bombs),
    checked from the header before any pixel is decoded.
    """
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise BadImage(f"image of {width}x{height} pixels exceeds the limit of {max_pixels}")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except BadImage:
        raise
    except Exception as exc:  # PIL raises many types for broken data
        # PIL names the in-memory file by its address ("<_io.BytesIO object at 0x7f...>"): cut it
        raise BadImage(f"undecodable image: {error_reason(exc)}") from None
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit / 32-bit greyscale: scale to 8 bits rather than clip (PIL's convert("L") clips).
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on white: alpha has no meaning to an RGB classifier, and white is what viewers show.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def imagenet_crop(image: Image.Image, resize: int | None, crop: int | None, min_side: int = 1) -> torch.Tensor:
    """ImageNet-C preprocessing: short side to ``resize`` (PIL bilinear), centre crop ``crop``.

    Returns uint8 (3, H, W). Raises BadImage when the image's short side is below ``min_side``
    (upsampling a thumbnail is not a test image) or, without resize, smaller than the crop.
    """
    width, height = image.size
    if min(width, height) < min_side:
        raise BadImage(f"image of {width}x{height} is below the minimum side of {min_side} pixels")
    if resize is not None and max(width, height) * resize / min(width, height) > 64 * resize:
        # a 32 x 2,000,000 strip would become 256 x 16,000,000 pixels before the crop
        raise BadImage(f"image of {width}x{height} is too elongated: resizing its short side to {resize} "
                       f"would make it {round(max(width, height) * resize / min(width, height))} pixels long")
    if resize is not None:
        image = resize_short_side(image, resize)
    if crop is not None:
        if min(image.size) < crop:
            raise BadImage(f"image of {image.size[0]}x{image.size[1]} is smaller than the {crop}x{crop} crop")
        image = centre_crop(image, crop)
    return pil_to_planes(image)


# ImageNet-C's transforms are torchvision's Resize(256) and CenterCrop(224) on PIL images, which
# call Pillow. Their arithmetic is repeated here (tests/io/test_codec.py pins it against
# torchvision): importing torchvision costs a worker seconds and about 165 MiB of memory.


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    """``torchvision.transforms.functional.resize(image, size)`` on a PIL image: the short side to
    ``size``, the long side to int(size * long / short), Pillow's bilinear filter."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
    if (new_width, new_height) == (width, height):
        return image
    return image.resize((new_width, new_height), Image.Resampling.BILINEAR)


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    """``torchvision.transforms.functional.center_crop(image, [size, size])`` on a PIL image at least
    ``size`` on each side."""
    width, height = image.size
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def pil_to_planes(image: Image.Image) -> torch.Tensor:
    """A PIL RGB image -> uint8 (3, H, W), one band at a time (no strided copy)."""
    width, height = image.size
    planes = np.stack([np.frombuffer(image.tobytes("raw", band), np.uint8) for band in "RGB"])
    return torch.from_numpy(planes.reshape(3, height, width))


def planes_to_pil(pixels: torch.Tensor) -> Image.Image:
    """uint8 (3, H, W) on any device -> PIL RGB image, the planes interleaved by Pillow.

    Merging three single-band images costs a sixth of ``Image.fromarray`` on a permuted (H, W, 3)
    view, which Pillow first copies through a strided ``tobytes``: 0.03 against 0.2 ms at 224x224,
    per output image.
    """
    if pixels.dtype != torch.uint8 or pixels.ndim != 3 or pixels.shape[0] != 3:
        raise ValueError(f"expected uint8 pixels of shape (3, H, W), got {pixels.dtype} "
                         f"{tuple(pixels.shape)}")
    planes = pixels.cpu().contiguous().numpy()
    height, width = planes.shape[1:]
    bands = [Image.frombuffer("L", (width, height), plane, "raw", "L", 0, 1) for plane in planes]
    return Image.merge("RGB", bands)


def encode_image(pixels: torch.Tensor, fmt: str, jpeg_quality: int = 85) -> bytes:
    """Encode uint8 (3, H, W) as ``jpg`` (PIL, optimize=True, 4:2:0 as ImageNet-C) or ``png``."""
    image = planes_to_pil(pixels)
    buffer = io.BytesIO()
    if fmt == "jpg":
        image.save(buffer, format="JPEG", quality=jpeg_quality, optimize=True)
    elif fmt == "png":
        image.save(buffer, format="PNG", optimize=False, compress_level=6)
    else:
        raise ValueError(f"unknown output format {fmt!r}; use jpg or png")
    return buffer.getvalue()


def encode_images(pixels: torch.Tensor, fmt: str, jpeg_quality: int = 85,
                  jpeg_encoder: str = "pillow") -> list[bytes]:
    """Encode uint8 (B, 3, H, W) on any device; see OutputConfig.jpeg_encoder for the encoders.

    ``torchvision`` encodes JPEG where the pixels are: one batched nvJPEG call on CUDA (only the
    compressed bytes cross to the host), libjpeg-turbo on the CPU (Pillow's bytes without
    ``optimize``). ``pillow`` copies the pixels to the host and encodes them one by one.
    """
    if jpeg_encoder == "torchvision" and fmt == "jpg":
        from torchvision.io import encode_jpeg

        images = [image.contiguous() for image in pixels]
        if pixels.is_cuda:
            # Let the kernels that wrote the pixels finish first: nvJPEG has read inputs still being
            # written on another stream (pytorch/vision#8587, #9060). One wait per batch.
            torch.cuda.current_stream(pixels.device).synchronize()
        with warnings.catch_warnings():  # deprecated for TorchCodec in 0.29; pinned, so still here
            warnings.filterwarnings("ignore", "The image decoding and encoding", DeprecationWarning)
            encoded = encode_jpeg(images, quality=jpeg_quality)
        return [data.cpu().numpy().tobytes() for data in encoded]
    if jpeg_encoder not in ("pillow", "torchvision"):
        raise ValueError(f"unknown jpeg_encoder {jpeg_encoder!r}; use pillow or torchvision")
    return [encode_image(image, fmt, jpeg_quality) for image in pixels.cpu()]


def decode_rgb_array(data: bytes) -> np.ndarray:
    """Decode an encoded image to uint8 H x W x 3 (for previews and tests)."""
    return np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))


def prepare_image(data: bytes, preprocess) -> torch.Tensor:
    """Decode and crop one input image per a PreprocessConfig; uint8 (3, H, W). Raises BadImage."""
    image = decode_image(data, preprocess.max_pixels)
    return imagenet_crop(image, preprocess.resize, preprocess.crop, preprocess.min_side)
