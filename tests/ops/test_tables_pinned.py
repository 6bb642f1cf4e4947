"""Every documented severity table, written out as literal values, and the filters' bands measured.

The literals are copied from the reference texts, not from the package: ImageNet-C's 224x224 tables
(hendrycks/robustness ``make_imagenet_c.py`` @ 8190fe3, as imagecorruptions 1.1.2 keeps them) and
the tables of README.md / docs for the Yin et al. corruptions. A change of any entry in the registry
must fail here, whatever the other tests (which often derive their expectations from the registry)
say. The filters' bands are checked by measuring which frequencies of a white-noise image survive,
with an expected band built here from its definition (the central B x B square of the centred
spectrum), not with the package's mask helper.
"""

from __future__ import annotations

import pytest
import torch

from corrupter import ops
from corrupter.seeding import make_generator

SEVERITIES = (1, 2, 3, 4, 5)

# name -> one dict of physical parameters per severity 1..5 (the registry's parameter names).
IMAGENET_C_TABLES: dict[str, list[dict]] = {
    # noise
    "gaussian_noise": [{"sigma": c} for c in (0.08, 0.12, 0.18, 0.26, 0.38)],
    "shot_noise": [{"photons": c} for c in (60, 25, 12, 5, 3)],
    "impulse_noise": [{"amount": c} for c in (0.03, 0.06, 0.09, 0.17, 0.27)],
    "speckle_noise": [{"sigma": c} for c in (0.15, 0.20, 0.35, 0.45, 0.60)],
    # blur
    "gaussian_blur": [{"sigma": c} for c in (1, 2, 3, 4, 6)],
    "defocus_blur": [{"radius": r, "alias_blur": a} for r, a in ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))],
    "motion_blur": [{"radius": r, "sigma": s} for r, s in ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))],
    "glass_blur": [{"sigma": s, "max_delta": d, "iterations": n}
                   for s, d, n in ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))],
    # np.arange(1, 1.11, .01), (1, 1.16, .01), (1, 1.21, .02), (1, 1.26, .02), (1, 1.31, .03)
    "zoom_blur": [
        {"factors": [1.00, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08, 1.09, 1.10, 1.11]},
        {"factors": [1.00, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08, 1.09, 1.10, 1.11, 1.12, 1.13,
                     1.14, 1.15]},
        {"factors": [1.00, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12, 1.14, 1.16, 1.18, 1.20]},
        {"factors": [1.00, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12, 1.14, 1.16, 1.18, 1.20, 1.22, 1.24]},
        {"factors": [1.00, 1.03, 1.06, 1.09, 1.12, 1.15, 1.18, 1.21, 1.24, 1.27, 1.30]},
    ],
    # weather
    "fog": [{"strength": c, "decay": d} for c, d in ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4))],
    "frost": [{"image_weight": a, "frost_weight": b}
              for a, b in ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))],
    "snow": [{"mean": m, "std": s, "zoom": z, "threshold": t, "radius": r, "sigma": g, "blend": b}
             for m, s, z, t, r, g, b in ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
                                         (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
                                         (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55))],
    "spatter": [{"mean": m, "std": s, "blur_sigma": g, "threshold": t, "amount": k, "mode": mode}
                for m, s, g, t, k, mode in ((0.65, 0.3, 4, 0.69, 0.6, "water"), (0.65, 0.3, 3, 0.68, 0.6, "water"),
                                            (0.65, 0.3, 2, 0.68, 0.5, "water"), (0.65, 0.3, 1, 0.65, 1.5, "mud"),
                                            (0.67, 0.4, 1, 0.65, 1.5, "mud"))],
    "brightness": [{"shift": c} for c in (0.1, 0.2, 0.3, 0.4, 0.5)],
    # digital
    "contrast": [{"factor": c} for c in (0.4, 0.3, 0.2, 0.1, 0.05)],
    # 244 * (2, .7, .1), 244 * (2, .08, .2), 244 * (.05, .01, .02), 244 * (.07, .01, .02), 244 * (.12, .01, .02)
    "elastic_transform": [{"alpha": a, "sigma": s, "affine": f}
                          for a, s, f in ((488, 170.8, 24.4), (488, 19.52, 48.8), (12.2, 2.44, 4.88),
                                          (17.08, 2.44, 4.88), (29.28, 2.44, 4.88))],
    "pixelate": [{"factor": c} for c in (0.6, 0.5, 0.4, 0.3, 0.25)],
    "jpeg_compression": [{"quality": q} for q in (25, 18, 15, 10, 7)],
    "saturate": [{"scale": a, "shift": b} for a, b in ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))],
}

# Yin et al. 2019 as the README documents them: the norm sweep at frequency (8, 8) (15.7 is the
# paper's ImageNet norm), low-pass bandwidth halving from 127, high-pass bandwidth doubling from 3.
YIN_TABLES: dict[str, list[dict]] = {
    "fourier_basis_noise": [{"i": 8, "j": 8, "norm": v} for v in (4, 8, 15.7, 24, 32)],
    "low_pass": [{"bandwidth": b} for b in (127, 63, 31, 15, 7)],
    "high_pass": [{"bandwidth": b} for b in (3, 7, 15, 31, 63)],
}


def test_the_19_imagenet_c_corruptions_are_all_pinned():
    assert len(IMAGENET_C_TABLES) == 19
    assert set(IMAGENET_C_TABLES) == set(ops.list_corruptions(tag="imagenet-c")) | set(
        ops.list_corruptions(tag="imagenet-c-extra"))


def assert_same_params(registered: dict, expected: dict, where: str) -> None:
    assert sorted(registered) == sorted(expected), where
    for key, value in expected.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert registered[key] == pytest.approx(value, rel=1e-12, abs=0), f"{where}: {key}"
        elif isinstance(value, list):
            assert len(registered[key]) == len(value), f"{where}: {key}"
            assert list(registered[key]) == pytest.approx(value, rel=0, abs=1e-9), f"{where}: {key}"
        else:
            assert registered[key] == value, f"{where}: {key}"


@pytest.mark.parametrize("name", sorted({**IMAGENET_C_TABLES, **YIN_TABLES}))
def test_registered_table_equals_the_documented_literals(name):
    table = {**IMAGENET_C_TABLES, **YIN_TABLES}[name]
    spec = ops.get_corruption(name)
    for severity in SEVERITIES:
        assert_same_params(spec.params(severity), table[severity - 1], f"{name} severity {severity}")


# ---------------------------------------------------------------------------------------------------
# Measured, not read back: the Fourier norm and frequency, the filters' bands


def centred_energy(images: torch.Tensor) -> torch.Tensor:
    """|FFT|^2 per frequency of (..., H, W), DC moved to (H // 2, W // 2), float64."""
    return torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1)).abs().pow(2)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_fourier_noise_has_the_documented_norm_at_frequency_8_8(severity):
    norm = YIN_TABLES["fourier_basis_noise"][severity - 1]["norm"]
    images = torch.full((1, 3, 224, 224), 0.5)  # grey: nothing clips at these norms
    spec = ops.get_corruption("fourier_basis_noise")
    out, _ = ops.apply_batch(spec, images, spec.params(severity), [make_generator(severity)])
    delta = (out - images).double()
    assert delta.flatten(-2).norm(dim=-1).flatten().tolist() == pytest.approx([norm] * 3, rel=1e-4)
    energy = centred_energy(delta[0]).sum(0)
    # all energy at +-(8, 8) cycles per image from DC (112, 112), shared by the conjugate pair
    support = {(112 + 8, 112 + 8), (112 - 8, 112 - 8)}
    strong = {tuple(p) for p in torch.nonzero(energy > 1e-9 * energy.sum()).tolist()}
    assert strong == support
    assert sum(energy[p].item() for p in support) == pytest.approx(energy.sum().item(), rel=1e-9)


def white_noise(size: int = 224) -> torch.Tensor:
    """One 3-channel white-noise image in [0.4, 0.6]: every frequency present, no filter output clips."""
    generator = torch.Generator().manual_seed(16)
    return 0.4 + 0.2 * torch.rand(1, 3, size, size, generator=generator)


def central_block(size: int, bandwidth: int) -> torch.Tensor:
    """The central bandwidth x bandwidth square of a size x size centred spectrum, by index."""
    block = torch.zeros(size, size, dtype=torch.bool)
    low, high = size // 2 - bandwidth // 2, size // 2 + bandwidth // 2 + 1
    block[low:high, low:high] = True
    assert int(block.sum()) == bandwidth * bandwidth
    return block


def surviving_frequencies(name: str, severity: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(frequencies with energy left, input spectrum, output spectrum) of the filtered white noise."""
    images = white_noise()
    spec = ops.get_corruption(name)
    out, _ = ops.apply_batch(spec, images, spec.params(severity))
    assert 0 < out.min() and out.max() < 1, "clipping would add frequencies of its own"
    before, after = centred_energy(images[0]), centred_energy(out[0])
    # Kept frequencies carry energy ~ 1e2 (white noise) to 1e9 (DC); removed ones only float32 rounding.
    survived = (after > 1e-6 * before).all(dim=0)
    assert torch.equal(survived, (after > 1e-6 * before).any(dim=0)), "channels disagree"
    return survived, before, after


@pytest.mark.parametrize("severity", SEVERITIES)
def test_low_pass_keeps_exactly_the_central_square(severity):
    bandwidth = YIN_TABLES["low_pass"][severity - 1]["bandwidth"]
    survived, before, after = surviving_frequencies("low_pass", severity)
    expected = central_block(224, bandwidth)
    assert int(survived.sum()) == bandwidth ** 2
    assert torch.equal(survived, expected)
    # ...and keeps them untouched
    torch.testing.assert_close(after[:, expected], before[:, expected], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_high_pass_removes_exactly_the_central_square_but_dc(severity):
    bandwidth = YIN_TABLES["high_pass"][severity - 1]["bandwidth"]
    survived, before, after = surviving_frequencies("high_pass", severity)
    expected = ~central_block(224, bandwidth)
    expected[112, 112] = True  # the mean stays
    assert int(survived.sum()) == 224 * 224 - bandwidth ** 2 + 1
    assert torch.equal(survived, expected)
    torch.testing.assert_close(after[:, expected], before[:, expected], rtol=1e-3, atol=1e-3)
