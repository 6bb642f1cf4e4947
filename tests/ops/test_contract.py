"""The contract every registered corruption keeps (after torchvision's check_kernel)."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from corrupter import ops
from corrupter.io.assets import load_assets
from corrupter.seeding import make_generator
from tests.conftest import DEVICES

NAMES = ops.list_corruptions()
# Every (op, level) pair: tables have the op's own number of levels (5 for ImageNet-C, 8, 2, 4...).
LEVELS = [(name, level) for name in NAMES for level in ops.get_corruption(name).level_numbers]


def middle(name: str) -> int:
    """A level in the middle of the op's table (ImageNet-C: severity 3)."""
    numbers = ops.get_corruption(name).level_numbers
    return numbers[len(numbers) // 2]


def strongest(name: str) -> int:
    return ops.get_corruption(name).distortion_order[-1]


def run(name, images, level, seeds, **overrides):
    spec = ops.get_corruption(name)
    params = spec.params(level, **overrides)
    generators = [make_generator(s) for s in seeds]
    out, _ = ops.apply_batch(spec, images, params, generators, load_assets(spec.assets))
    return out


@pytest.fixture(scope="module")
def three(photo_batch):
    return photo_batch[:3].clone()


def test_registry_is_not_empty():
    assert {"fog", "contrast", "fourier_basis_noise", "low_pass", "high_pass"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_spec_hygiene(name):
    spec = ops.get_corruption(name)
    assert spec.family in ops.FAMILIES
    assert len(spec.levels) >= 1 and sorted(spec.distortion_order) == spec.level_numbers
    assert spec.summary, f"{name}: the kernel needs a docstring whose first line says what it does"
    assert spec.reference
    assert all(set(s) == set(spec.levels[0]) for s in spec.levels)


@pytest.mark.parametrize("name, level", LEVELS)
def test_shape_dtype_range_and_input_untouched(name, level, three):
    images = three.clone()
    version = images._version
    out = run(name, images, level, [1, 2, 3])
    assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert images._version == version and torch.equal(images, three)


@pytest.mark.parametrize("name", NAMES)
def test_non_square_and_small_images(name, three):
    images = torch.nn.functional.interpolate(three[:2], size=(72, 100), mode="bilinear", antialias=True)
    out = run(name, images.clamp(0, 1), middle(name), [1, 2])
    assert out.shape == (2, 3, 72, 100) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_different_seed_differs(name, three, device):
    three = three.to(device)
    first = run(name, three, middle(name), [7, 8, 9])
    again = run(name, three, middle(name), [7, 8, 9])
    assert torch.equal(first, again)
    if ops.get_corruption(name).stochastic:
        other = run(name, three, middle(name), [10, 11, 12])
        assert not torch.equal(ops.quantize_uint8(first), ops.quantize_uint8(other))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", NAMES)
def test_batched_equals_unbatched(name, three, device):
    """Batch makeup never moves a byte, on the GPU too (where cuFFT and cuBLAS could pick
    batch-dependent algorithms: a failure here on CUDA means the device needs per-sample calls)."""
    three = three.to(device)
    batched = run(name, three, strongest(name), [21, 22, 23])
    for i, seed in enumerate([21, 22, 23]):
        alone = run(name, three[i:i + 1], strongest(name), [seed])
        assert torch.equal(ops.quantize_uint8(alone[0]), ops.quantize_uint8(batched[i])), f"sample {i}"


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name, three):
    assert run(name, three[:0], 1, []).shape == (0, 3, 224, 224)


@pytest.mark.parametrize("name", NAMES)
def test_distortion_grows_with_level(name, photo_batch):
    spec = ops.get_corruption(name)
    seeds = range(len(photo_batch))
    distortion = {}
    for level in spec.level_numbers:
        outs = [run(name, photo_batch, level, [s + 100 * k for s in seeds]) for k in range(2)]
        distortion[level] = sum((o - photo_batch).abs().mean().item() for o in outs) / len(outs)
    ordered = [distortion[s] for s in spec.distortion_order]
    assert all(b >= a * 0.98 for a, b in pairwise(ordered)), (spec.distortion_order, ordered)


@pytest.mark.skipif("cuda" not in DEVICES, reason="no CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cpu_and_cuda_agree(name, three):
    cpu = ops.quantize_uint8(run(name, three, middle(name), [5, 6, 7])).int()
    cuda = ops.quantize_uint8(run(name, three.cuda(), middle(name), [5, 6, 7])).cpu().int()
    diff = (cpu - cuda).abs()
    # Same draws on both devices; only float rounding differs, so a pixel may move by one level
    # and, for ops with thresholds or sequential copies, a tiny share may move further.
    assert (diff > 1).float().mean() < 1e-3 and diff.float().mean() < 0.05


# The 8-bit route (CorruptionSpec.apply_uint8): ops with 8-bit semantics also take and return uint8
# levels, which a worker uses to skip both float conversions. It must be the float kernel's bytes.
UINT8_NAMES = [name for name in NAMES if ops.get_corruption(name).apply_uint8 is not None]
UINT8_LEVELS = [(name, level) for name, level in LEVELS if name in UINT8_NAMES]


def test_the_8_bit_ops_have_an_8_bit_kernel():
    """The ImageNet-C ops that act on the 8-bit image (shot_noise: its rate), and every Geirhos et
    al. 2018 op (their original truncates to uint8)."""
    assert {"brightness", "saturate", "pixelate", "jpeg_compression", "shot_noise"} <= set(UINT8_NAMES)
    assert set(ops.list_corruptions(tag="geirhos2018")) <= set(UINT8_NAMES)


def eight_bit_inputs(three: torch.Tensor) -> list[torch.Tensor]:
    """The photos at 8 bits (batches of 3, 1 and 6), random levels (every value, odd channels), and a
    small non-square crop."""
    photos = ops.quantize_uint8(three)
    noise = torch.randint(0, 256, (2, 3, 61, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    return [photos, photos[1:2], torch.cat([photos, photos.flip(-1)]), noise,
            photos[:, :, 17:89, 5:105].contiguous()]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, level", UINT8_LEVELS)
def test_the_8_bit_kernel_gives_the_float_kernels_bytes(name, level, three, device):
    spec = ops.get_corruption(name)
    params = spec.params(level)
    assets = load_assets(spec.assets, torch.device(device))
    for first_seed, levels in enumerate(eight_bit_inputs(three)):
        levels = levels.to(device)
        before = levels.clone()
        seeds = range(40 + 10 * first_seed, 40 + 10 * first_seed + len(levels))  # new draws for each input
        as_float, _ = ops.apply_batch(spec, levels.float() / 255, params, [make_generator(s) for s in seeds], assets)
        as_uint8, _ = ops.apply_batch_uint8(spec, levels, params, [make_generator(s) for s in seeds], assets)
        assert as_uint8.dtype == torch.uint8 and as_uint8.shape == levels.shape and as_uint8.device == levels.device
        assert torch.equal(as_uint8, ops.quantize_uint8(as_float)), tuple(levels.shape)
        assert torch.equal(levels, before), "the 8-bit kernel wrote to its input"


def test_the_8_bit_route_refuses_float_input_and_ops_without_it(three):
    with pytest.raises(TypeError, match="uint8"):
        ops.apply_batch_uint8(ops.get_corruption("pixelate"), three, {"factor": 0.5})
    with pytest.raises(ValueError, match="no 8-bit kernel"):
        ops.apply_batch_uint8(ops.get_corruption("contrast"), ops.quantize_uint8(three), {"factor": 0.5})


# The multi-level route (CorruptionSpec.apply_levels): deterministic ops whose levels share work run
# several levels in one call, which a worker holding several variants of the op uses. Each output
# must be the op's own kernel's, bit for bit, whichever levels are asked for together: on the 8-bit
# route (uint8 in and out) for ops with an 8-bit kernel, the one the worker calls per level.
LEVELS_NAMES = [name for name in NAMES if ops.get_corruption(name).apply_levels is not None]
# Explicit parameters per multi-level op, as a config's `params` gives them: unsorted and repeated
# values, lists that share some values with the table's and not others.
EXPLICIT_LEVELS = {
    "zoom_blur": [{"factors": [1.0, 1.07, 1.03, 1.07, 1.3]}, {"factors": [1.15, 1.16]},
                  {"factors": [1.03, 1.0, 1.0, 1.2, 1.11]}, {"factors": [1.05]}],
    # Darkening, no change and saturation of every pixel; scales that mute, keep and overshoot.
    "brightness": [{"shift": 0.25}, {"shift": -0.3}, {"shift": 0.0}, {"shift": 1.0}],
    "saturate": [{"scale": 0.5, "shift": 0.05}, {"scale": 1.0, "shift": 0.0}, {"scale": 3.0, "shift": -0.2},
                 {"scale": 0.0, "shift": 1.0}],
}


def test_the_multi_level_ops():
    assert {"zoom_blur", "brightness", "saturate"} <= set(LEVELS_NAMES)
    assert set(EXPLICIT_LEVELS) == set(LEVELS_NAMES), "give each multi-level op explicit parameters here"
    assert not any(ops.get_corruption(name).stochastic or ops.get_corruption(name).assets for name in LEVELS_NAMES)


def level_requests(name: str) -> list[list[dict]]:
    """All levels, a subset, one level, levels repeated and out of order, explicit parameters alone
    and mixed with levels."""
    spec = ops.get_corruption(name)
    table = [spec.params(level) for level in spec.level_numbers]
    explicit = [spec.params(None, **params) for params in EXPLICIT_LEVELS[name]]
    return [table, table[1:], table[-1:], table[::-2] + table[:2] + table[-1:], explicit,
            [table[0], *explicit, table[-1]]]


def level_inputs(name: str, three: torch.Tensor) -> list[torch.Tensor]:
    """Batches of 3 and 1 photos, and random non-square images (channels-last too); for an op with
    an 8-bit kernel, their uint8 levels (the random ones hold every level)."""
    odd = torch.rand(2, 3, 200, 257, generator=torch.Generator().manual_seed(5))
    inputs = [three, three[1:2], odd, odd[:1].contiguous(memory_format=torch.channels_last)]
    if ops.get_corruption(name).apply_uint8 is not None:
        return [ops.quantize_uint8(images) for images in inputs]
    return inputs


def assert_levels_equal_alone(spec, images: torch.Tensor, requests: list[list[dict]]) -> None:
    before = images.clone()
    alone = {}
    per_level = ops.apply_batch_uint8 if spec.apply_uint8 is not None else ops.apply_batch
    for params_list in requests:
        together = ops.apply_batch_levels(spec, images, params_list)
        assert len(together) == len(params_list)
        assert len({out.data_ptr() for out in together}) == len(together), "outputs share memory"
        for i, (params, out) in enumerate(zip(params_list, together, strict=True)):
            key = repr(sorted(params.items()))
            if key not in alone:
                alone[key] = per_level(spec, images, params)[0]
            expected = alone[key]
            assert out.shape == expected.shape and out.dtype == expected.dtype
            assert out.is_contiguous() == expected.is_contiguous()
            assert torch.equal(out, expected), (tuple(images.shape), i, params)
    assert torch.equal(images, before), "the multi-level kernel wrote to its input"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", LEVELS_NAMES)
def test_the_multi_level_kernel_gives_each_levels_own_bits(name, three, device):
    """Every request on every input, on the CPU on one thread (the worker's default,
    run.threads_per_worker); on two threads, where torch picks other CPU kernels (zoom_blur's
    resize), the table on one photo."""
    spec = ops.get_corruption(name)
    inputs = [images.to(device) for images in level_inputs(name, three)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a loaded machine two threads can be ten times slower than one
    try:
        for images in inputs:
            assert_levels_equal_alone(spec, images, level_requests(name))
        if device == "cpu":
            torch.set_num_threads(2)
            assert_levels_equal_alone(spec, inputs[0][:1], level_requests(name)[:1])
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", LEVELS_NAMES)
def test_the_multi_level_route_on_empty_input(name, three):
    spec = ops.get_corruption(name)
    table = [spec.params(level) for level in spec.level_numbers]
    images = level_inputs(name, three)[0]
    assert ops.apply_batch_levels(spec, images, []) == []
    empty = ops.apply_batch_levels(spec, images[:0], table[:2])
    assert [(out.shape, out.dtype) for out in empty] == [((0, 3, 224, 224), images.dtype)] * 2


def test_the_multi_level_route_refuses_ops_without_it_and_stochastic_ops(three):
    with pytest.raises(ValueError, match="no multi-level kernel"):
        ops.apply_batch_levels(ops.get_corruption("contrast"), three, [{"factor": 0.5}])
    with pytest.raises(ValueError, match=r"shape \(B, 3, H, W\)"):
        ops.apply_batch_levels(ops.get_corruption("zoom_blur"), three[0], [{"factors": [1.0]}])
    # Each op's multi-level kernel runs on its per-level route: the other route's dtype is refused.
    with pytest.raises(TypeError, match="brightness: .*takes uint8 levels, got torch.float32"):
        ops.apply_batch_levels(ops.get_corruption("brightness"), three, [{"shift": 0.1}])
    with pytest.raises(TypeError, match="zoom_blur: .*takes float images .*got torch.uint8"):
        ops.apply_batch_levels(ops.get_corruption("zoom_blur"), ops.quantize_uint8(three), [{"factors": [1.0]}])
    with pytest.raises(ValueError, match="deterministic ops without assets"):
        ops.register_corruption("never_registered", family="noise", levels=({"s": 1},),
                                sample=lambda g, h, w, **_: {}, apply_levels=lambda x, p: [])
