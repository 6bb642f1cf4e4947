"""Op facts of the Yin et al. corruptions: unit-norm bases, band-limited filters."""

import pytest
import torch

from corrupter import ops
from corrupter.ops._common import central_band_mask
from corrupter.ops.fourier import fourier_basis
from corrupter.seeding import make_generator


def energy(images: torch.Tensor) -> torch.Tensor:
    """Spectral energy per frequency, fftshift order, summed over batch and channels."""
    return torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1)).abs().pow(2).sum(dim=(0, 1))


@pytest.mark.parametrize("size", [(224, 224), (64, 96), (33, 31)])
@pytest.mark.parametrize("freq", [(0, 0), (8, 8), (-5, 3), (0, 15), (16, -16)])
def test_basis_has_unit_norm_and_energy_only_at_its_frequency_pair(size, freq):
    h, w = size
    i, j = freq
    if not (-(h // 2) <= i < h - h // 2 and -(w // 2) <= j < w - w // 2):
        pytest.skip("outside this spectrum")
    basis = fourier_basis(h, w, i, j).double()
    assert basis.norm().item() == pytest.approx(1.0, abs=1e-6)
    spectrum = energy(basis[None, None])
    ci, cj = h // 2 + i, w // 2 + j
    pi, pj = (h // 2 - i) % h if h % 2 == 0 else h // 2 - i, (w // 2 - j) % w if w % 2 == 0 else w // 2 - j
    support = torch.zeros_like(spectrum, dtype=torch.bool)
    support[ci, cj] = support[pi % h, pj % w] = True
    assert spectrum[~support].sum() < 1e-9 * spectrum.sum()


def test_basis_matches_the_analytic_form():
    """For k != -k the official construction is sqrt(2/N) cos(2 pi k.x / n + pi / 4)."""
    h = w = 224
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    theta = 2 * torch.pi * (8 * y / h + 3 * x / w)
    expected = (2 / (h * w)) ** 0.5 * torch.cos(theta + torch.pi / 4)
    assert torch.allclose(fourier_basis(h, w, 8, 3).double(), expected, atol=1e-6)


def test_fourier_noise_adds_norm_times_signed_basis_per_channel():
    images = torch.full((2, 3, 224, 224), 0.5)
    spec = ops.get_corruption("fourier_basis_noise")
    out, draws = ops.apply_batch(spec, images, spec.params(3), [make_generator(1), make_generator(2)])
    delta = (out - images).double()
    for b in range(2):
        for c in range(3):
            sign = draws["signs"][b, c].item()
            assert sign in (-1.0, 1.0)
            assert delta[b, c].norm().item() == pytest.approx(15.7, rel=1e-4)  # no clipping around 0.5
            assert torch.allclose(delta[b, c], sign * 15.7 * fourier_basis(224, 224, 8, 8).double(), atol=1e-5)


def filtered(name, severity, low, spread):
    """(input, output, output energy spectrum, the op's central band) for a random image in
    [low, low + spread]; nothing may be clipped, so the spectrum is the filter's alone."""
    images = low + spread * torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(severity))
    spec = ops.get_corruption(name)
    out, _ = ops.apply_batch(spec, images, spec.params(severity))
    assert 0 < out.min() and out.max() < 1
    return images, out, energy(out), central_band_mask(224, 224, spec.params(severity)["bandwidth"])


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_low_pass_leaves_no_energy_outside_its_band(severity):
    _, _, spectrum, band = filtered("low_pass", severity, 0.25, 0.5)
    assert spectrum[~band].sum() < 1e-10 * spectrum.sum()


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_high_pass_leaves_no_energy_inside_its_band_but_keeps_the_mean(severity):
    images, out, spectrum, band = filtered("high_pass", severity, 0.4, 0.2)
    band[112, 112] = False  # DC: the mean is kept on purpose
    assert spectrum[band].sum() < 1e-10 * spectrum.sum()
    assert torch.allclose(out.mean(dim=(-2, -1)), images.mean(dim=(-2, -1)), atol=1e-5)


def test_even_bandwidth_is_refused():
    with pytest.raises(ValueError, match="odd"):
        central_band_mask(224, 224, 64)
