"""The Python API: an imagecorruptions drop-in and the batched tensor call."""

import numpy as np
import pytest
import torch

import corrupter
from corrupter import ops


def test_corrupt_accepts_both_argument_orders_and_is_seeded(photos):
    image = photos["chelsea"]
    a = corrupter.corrupt(image, severity=3, corruption_name="fog", seed=5)
    b = corrupter.corrupt(image, "fog", 3, seed=5)
    assert a.dtype == np.uint8 and a.shape == image.shape and np.array_equal(a, b)
    assert not np.array_equal(a, corrupter.corrupt(image, "fog", 3, seed=6))


def test_corrupt_by_number_and_greyscale_input(photos):
    grey = photos["coffee"].mean(axis=2).astype(np.uint8)
    out = corrupter.corrupt(grey, severity=2, corruption_number=11)  # contrast, in imagecorruptions' order
    assert out.shape == grey.shape + (3,)


def test_corrupt_matches_the_batched_api(photos):
    image = photos["rocket"]
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    expected = ops.quantize_uint8(corrupter.corrupt_batch(batch, "fourier_basis_noise", 4, seeds=[9]))
    assert np.array_equal(corrupter.corrupt(image, "fourier_basis_noise", 4, seed=9),
                          expected[0].permute(1, 2, 0).numpy())


def test_explicit_parameters_and_clear_errors(photos):
    out = corrupter.corrupt(photos["rocket"], "fourier_basis_noise", 3, seed=1, i=0, j=30, norm=8.0)
    assert out.shape == (224, 224, 3)
    with pytest.raises(ValueError, match="unknown parameter"):
        corrupter.corrupt(photos["rocket"], "fog", 3, sigma=1.0)
    with pytest.raises(KeyError, match="did you mean fog"):
        corrupter.corrupt(photos["rocket"], "fgo", 3)
    with pytest.raises(ValueError, match="severity must be 1..5"):
        corrupter.corrupt(photos["rocket"], "fog", 7)


def test_list_corruptions_filters():
    assert "fog" in corrupter.list_corruptions()
    assert corrupter.list_corruptions("*_pass") == ["gaussian_high_pass", "gaussian_low_pass", "high_pass", "low_pass"]
    assert "contrast" in corrupter.list_corruptions(tag="imagenet-c")
