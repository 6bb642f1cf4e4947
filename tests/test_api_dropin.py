"""corrupter.corrupt as a drop-in for imagecorruptions.corrupt, checked against imagecorruptions' own
definitions (bethgelab/imagecorruptions 1.1.2, ``imagecorruptions/__init__.py``), written out here:
its ``corruption_number`` order, its ``get_corruption_names`` subsets, its argument order and its
greyscale handling (an H x W image is stacked to three equal channels before corrupting).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import corrupter
from corrupter import ops

# imagecorruptions' corruption_tuple: corruption_number k is entry k.
IMAGECORRUPTIONS_ORDER = [
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    "speckle_noise", "gaussian_blur", "spatter", "saturate",
]
IMAGECORRUPTIONS_SUBSETS = {
    "common": IMAGECORRUPTIONS_ORDER[:15],
    "validation": ["speckle_noise", "gaussian_blur", "spatter", "saturate"],
    "all": IMAGECORRUPTIONS_ORDER,
    "noise": ["gaussian_noise", "shot_noise", "impulse_noise"],
    "blur": ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur"],
    "weather": ["snow", "frost", "fog", "brightness"],
    "digital": ["contrast", "elastic_transform", "pixelate", "jpeg_compression"],
}


@pytest.fixture(scope="module")
def small(photos) -> np.ndarray:
    """A 64 x 48 piece of a real photo: big enough for every op (imagecorruptions needs >= 32), cheap."""
    return np.ascontiguousarray(photos["chelsea"][80:144, 60:108])


@pytest.mark.parametrize("number", range(19))
def test_corruption_number_follows_imagecorruptions_order(number, small):
    by_number = corrupter.corrupt(small, severity=2, corruption_number=number, seed=11)
    by_name = corrupter.corrupt(small, severity=2, corruption_name=IMAGECORRUPTIONS_ORDER[number], seed=11)
    assert by_number.dtype == np.uint8 and by_number.shape == small.shape
    assert np.array_equal(by_number, by_name)


def test_the_19_corruptions_give_19_different_images(small):
    """What makes the number test able to fail: no two of the 19 agree on this image."""
    outputs = [corrupter.corrupt(small, 2, name, seed=11).tobytes() for name in IMAGECORRUPTIONS_ORDER]
    assert len(set(outputs)) == 19


def test_corruption_numbers_outside_0_to_18_are_refused(small):
    for number in (-1, 19):
        with pytest.raises(ValueError, match="0..18"):
            corrupter.corrupt(small, severity=1, corruption_number=number)


@pytest.mark.parametrize("subset", sorted(IMAGECORRUPTIONS_SUBSETS))
def test_get_corruption_names_subsets_are_imagecorruptions_ones(subset):
    assert corrupter.get_corruption_names(subset) == IMAGECORRUPTIONS_SUBSETS[subset]


def test_get_corruption_names_defaults_to_common_and_names_bad_subsets():
    assert corrupter.get_corruption_names() == IMAGECORRUPTIONS_ORDER[:15]
    assert corrupter.get_corruption_names("yin2019") == ["fourier_basis_noise", "high_pass", "low_pass"]
    with pytest.raises(ValueError, match="nosie"):
        corrupter.get_corruption_names("nosie")


def test_argument_orders_of_imagecorruptions_and_ours_agree(small):
    expected = corrupter.corrupt(small, severity=3, corruption_name="fog", seed=4)
    calls = [
        corrupter.corrupt(small, 3, "fog", seed=4),                                # positional, imagecorruptions
        corrupter.corrupt(small, corruption_name="fog", severity=3, seed=4),       # keywords, any order
        corrupter.corrupt(small, 3, None, 9, seed=4),                              # positional number (9 = fog)
        corrupter.corrupt(small, severity=3, corruption_number=9, seed=4),
        corrupter.corrupt(small, "fog", 3, seed=4),                                # ours: name first
    ]
    for out in calls:
        assert np.array_equal(out, expected)
    # severity defaults to 1, as in imagecorruptions
    assert np.array_equal(corrupter.corrupt(small, corruption_name="fog", seed=4),
                          corrupter.corrupt(small, 1, "fog", seed=4))
    assert not np.array_equal(expected, corrupter.corrupt(small, 1, "fog", seed=4))


@pytest.mark.parametrize("name", ["contrast", "gaussian_noise", "frost"])
def test_greyscale_input_is_stacked_to_three_equal_channels(name, small):
    grey = small.mean(axis=2).astype(np.uint8)
    stacked = np.repeat(grey[..., None], 3, axis=2)
    for image in (grey, grey[..., None]):  # H x W and H x W x 1
        out = corrupter.corrupt(image, 3, name, seed=2)
        assert out.shape == grey.shape + (3,)
        assert np.array_equal(out, corrupter.corrupt(stacked, 3, name, seed=2))
    if name == "contrast":  # channel-wise and deterministic: equal channels stay equal
        out = corrupter.corrupt(grey, 3, name)
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
        assert (out[..., 0] != 0).any() and (out[..., 2] != 0).any()


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize("name", ops.list_corruptions())
def test_corrupt_is_one_sample_of_the_batched_path(name, photos):
    """corrupt(image, name, s, seed) gives exactly that image's sample of a seeded batch."""
    images = [np.ascontiguousarray(photos[p][40:104, 50:98]) for p in ("chelsea", "coffee", "rocket")]
    seeds = [5, 17, 5]
    level = min(4, len(ops.get_corruption(name).levels))  # grayscale, false_colour...: one level only
    batch = ops.quantize_uint8(corrupter.corrupt_batch(as_batch(images), name, level, seeds=seeds))
    for k, image in enumerate(images):
        single = corrupter.corrupt(image, name, level, seed=seeds[k])
        assert np.array_equal(single, batch[k].permute(1, 2, 0).numpy()), (name, k)


def test_unseeded_corrupt_has_the_batched_paths_statistics(photos):
    """Without a seed, corrupt draws fresh noise each call, of the same distribution as the batch's."""
    image = np.ascontiguousarray(photos["coffee"][:64, :64])
    singles = np.stack([corrupter.corrupt(image, "gaussian_noise", 3) for _ in range(8)]).astype(np.float64)
    batch = ops.quantize_uint8(corrupter.corrupt_batch(as_batch([image] * 8), "gaussian_noise", 3,
                                                       seeds=range(8))).permute(0, 2, 3, 1).numpy()
    assert len({s.tobytes() for s in singles}) == 8  # fresh randomness every call
    clean = image.astype(np.float64)
    # sigma 0.18 of the 255 range, less what clipping at 0 and 255 removes; 8 x 12,288 values each
    spread_single, spread_batch = (singles - clean).std(), (batch.astype(np.float64) - clean).std()
    assert spread_single == pytest.approx(spread_batch, rel=0.02)
    assert 0.15 * 255 < spread_single < 0.185 * 255
