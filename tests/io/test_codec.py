"""Decoding, the ImageNet-C crop and encoding."""

import io

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from corrupter.io.codec import BadImage, decode_image, encode_image, encode_images, imagenet_crop


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_crop_equals_torchvision_resize_256_centre_crop_224(photos):
    image = Image.fromarray(np.concatenate([photos["coffee"], photos["rocket"]], axis=1))  # 224 x 448
    expected = np.asarray(transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(image))
    assert np.array_equal(imagenet_crop(image, 256, 224).permute(1, 2, 0).numpy(), expected)


def test_resize_and_crop_are_torchvisions_at_any_size():
    """codec repeats torchvision's Resize / CenterCrop arithmetic (so workers need not import it):
    odd and even sides, up and down, portrait and landscape, ties in the centring."""
    rng = np.random.default_rng(5)
    sizes = [(w, h) for w, h in rng.integers(32, 700, size=(40, 2))] + [(224, 224), (256, 256), (255, 301),
                                                                         (301, 255), (640, 427), (33, 2000)]
    for width, height in sizes:
        image = Image.fromarray(rng.integers(0, 256, (int(height), int(width), 3), dtype=np.uint8))
        for resize, crop in ((256, 224), (64, 63), (300, None), (None, 31)):
            steps = ([transforms.Resize(resize)] if resize else []) + ([transforms.CenterCrop(crop)] if crop else [])
            expected = np.asarray(transforms.Compose(steps)(image))
            assert np.array_equal(imagenet_crop(image, resize, crop).permute(1, 2, 0).numpy(), expected), \
                (width, height, resize, crop)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16"])
def test_unusual_modes_become_rgb(mode):
    base = Image.fromarray((np.indices((40, 50)).sum(0) * 3 % 256).astype(np.uint8))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base).astype(np.uint16) * 257)
    else:
        image = base.convert(mode)
    out = decode_image(encoded(image, "JPEG" if mode == "CMYK" else "PNG"), max_pixels=10**6)
    assert out.mode == "RGB" and out.size == (50, 40)
    if mode == "I;16":
        assert np.abs(np.asarray(out)[..., 0].astype(int) - np.asarray(base)).max() <= 1


def test_decompression_bombs_and_garbage_are_bad_images():
    with pytest.raises(BadImage, match="exceeds the limit"):
        decode_image(encoded(Image.new("L", (1000, 1000)), "PNG"), max_pixels=999_999)
    with pytest.raises(BadImage, match="undecodable"):
        decode_image(b"not an image", max_pixels=10**6)


def test_too_small_images_are_refused():
    with pytest.raises(BadImage, match="minimum side"):
        imagenet_crop(Image.new("RGB", (20, 300)), 256, 224, min_side=32)
    with pytest.raises(BadImage, match="smaller than the 224x224 crop"):
        imagenet_crop(Image.new("RGB", (100, 300)), None, 224)


def test_encoders_round_trip():
    import torch

    pixels = torch.randint(0, 256, (3, 32, 48), dtype=torch.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_image(pixels, "png")))),
                          pixels.permute(1, 2, 0).numpy())
    jpeg = Image.open(io.BytesIO(encode_image(pixels, "jpg", 85)))
    assert jpeg.format == "JPEG" and jpeg.size == (48, 32)


def test_pillow_encoder_bytes_are_those_of_image_fromarray():
    """planes_to_pil only changes how the planes reach Pillow, not the file."""
    import torch

    from corrupter.io.codec import planes_to_pil

    pixels = torch.randint(0, 256, (3, 33, 47), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    image = Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()), "RGB")
    for fmt, save_args in (("jpg", {"format": "JPEG", "quality": 85, "optimize": True}),
                           ("png", {"format": "PNG", "optimize": False, "compress_level": 6})):
        buffer = io.BytesIO()
        image.save(buffer, **save_args)
        assert encode_image(pixels, fmt, 85) == buffer.getvalue()
    strided = pixels[:, :, ::2]
    assert np.array_equal(np.asarray(planes_to_pil(strided)), strided.permute(1, 2, 0).numpy())
    with pytest.raises(ValueError, match="uint8"):
        planes_to_pil(pixels.to(torch.int64))


def test_extremely_elongated_images_are_refused_before_resizing():
    with pytest.raises(BadImage, match="too elongated"):
        imagenet_crop(Image.new("RGB", (40, 40 * 100)), 256, 224, min_side=32)


def uint8_photo_batch(photos, device="cpu"):
    import torch

    stack = np.stack([photos[name] for name in ("coffee", "rocket", "astronaut")])
    return torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous().to(device)


def test_torchvision_jpeg_encoder_on_the_cpu_gives_pillows_unoptimised_bytes(photos):
    """The CPU half of output.jpeg_encoder=torchvision: libjpeg-turbo, the same file as Pillow writes
    without optimize=True; the pillow encoder (the default) gives Pillow's optimised file."""
    pixels = uint8_photo_batch(photos)
    ours = encode_images(pixels, "jpg", 85, "torchvision")
    pillow = encode_images(pixels, "jpg", 85, "pillow")
    for i, image in enumerate(pixels):
        plain = io.BytesIO()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(plain, format="JPEG", quality=85)
        assert ours[i] == plain.getvalue()
        assert pillow[i] == encode_image(image, "jpg", 85) and len(pillow[i]) < len(ours[i])


def test_unknown_jpeg_encoder_is_refused(photos):
    with pytest.raises(ValueError, match="nvjpeg"):
        encode_images(uint8_photo_batch(photos), "jpg", 85, "nvjpeg")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device")
def test_torchvision_jpeg_encoder_on_cuda_is_a_faithful_jpeg(photos):
    """nvJPEG's bytes differ from libjpeg's; every image of a worker-sized batch, written by GPU
    kernels just before, must decode and be as close to its input as libjpeg's at the same quality
    (mean absolute error within 0.5 of a level of libjpeg's)."""
    import torch

    three = uint8_photo_batch(photos, "cuda")
    pixels = (three.float().repeat(11, 1, 1, 1) * 1.0).round().to(torch.uint8)  # 33 images, fresh GPU work
    for image, gpu, cpu in zip(pixels.cpu(), encode_images(pixels, "jpg", 85, "torchvision"),
                               encode_images(pixels.cpu(), "jpg", 85, "torchvision")):
        original = image.permute(1, 2, 0).numpy().astype(float)
        errors = [np.abs(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) - original).mean()
                  for data in (gpu, cpu)]
        assert errors[0] < errors[1] + 0.5, errors
