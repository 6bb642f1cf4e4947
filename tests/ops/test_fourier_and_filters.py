"""Op facts of the Yin et al. corruptions: the official Fourier basis, band-limited filters."""

from pathlib import Path

import numpy as np
import pytest
import torch

from corrupter import ops
from corrupter.ops._common import central_band_mask
from corrupter.ops.fourier import fourier_basis
from corrupter.seeding import make_generator

OFFICIAL_BASIS = dict(np.load(Path(__file__).parents[1] / "data" / "reference" / "yin2019-fourier-basis" / "basis.npz"))


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


def signed_frequency(key: str) -> tuple[int, int]:
    """basis.npz key -> (i, j) offsets from DC: ``freq_A_B`` is (A, B), ``index_A_B`` the raw array
    position (A mod 224, B mod 224) of the official tensor, i.e. (A mod 224 - 112, B mod 224 - 112)."""
    kind, pair = key.split("_", 1)
    a, b = (int(v) for v in pair.split("_"))
    return (a, b) if kind == "freq" else (a % 224 - 112, b % 224 - 112)


@pytest.mark.parametrize("key", sorted(OFFICIAL_BASIS))
def test_basis_equals_the_official_arrays(key):
    """The arrays of google-research frequency_analysis (tests/data/reference/yin2019-fourier-basis),
    to float32 rounding (one float32 step at the peak is 4.7e-10; the quarter-period-shifted basis
    misses by up to 4.8e-3)."""
    i, j = signed_frequency(key)
    official = torch.from_numpy(OFFICIAL_BASIS[key])
    ours = fourier_basis(224, 224, i, j).double()
    torch.testing.assert_close(ours, official, rtol=0, atol=2.5e-10)
    assert torch.sum(ours * official).item() == pytest.approx(1.0, abs=1e-6)  # correlation 1, not 0


def official_basis_tensor(x: int, y: int) -> np.ndarray:
    """freq_heatmap._get_fourier_basis(x, y) as its loop runs (google-research frequency_analysis;
    tests/data/reference/yin2019-fourier-basis/SOURCE.md): row-major over the centred spectrum; at the
    first member of a conjugate pair, 0.5+0.5j there and 0.5-0.5j at the partner (1 on a point that is
    its own partner), and the image stored at both positions. (x, y, x, y), float64."""
    basis = np.zeros((x, y, x, y))
    done = np.zeros((x, y), dtype=bool)
    for i in range(x):
        for j in range(y):
            if done[i, j]:
                continue
            partner = tuple(int((n - p) % n if n % 2 == 0 else n - 1 - p) for n, p in ((x, i), (y, j)))
            freq = np.zeros((x, y), dtype=np.complex128)
            if partner == (i, j):
                freq[i, j] = 1.0
            else:
                freq[i, j], freq[partner] = 0.5 + 0.5j, 0.5 - 0.5j
            basis[i, j] = basis[partner] = np.sqrt(x * y) * np.real(np.fft.ifft2(np.fft.ifftshift(freq)))
            done[i, j] = done[partner] = True
    return basis


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (6, 5), (1, 4), (5, 1), (2, 2)])
def test_basis_follows_the_official_loop_at_every_frequency(size):
    """Every position of small spectra, even and odd sides: DC, Nyquist rows and columns, both
    members of every conjugate pair."""
    h, w = size
    official = official_basis_tensor(h, w)
    for ci in range(h):
        for cj in range(w):
            ours = fourier_basis(h, w, ci - h // 2, cj - w // 2).double().numpy()
            np.testing.assert_allclose(ours, official[ci, cj], rtol=0, atol=1e-7, err_msg=f"{size} at {(ci, cj)}")


def test_both_members_of_a_pair_give_the_same_image():
    torch.testing.assert_close(fourier_basis(224, 224, 8, 3), fourier_basis(224, 224, -8, -3), rtol=0, atol=0)
    torch.testing.assert_close(fourier_basis(33, 31, 5, -2), fourier_basis(33, 31, -5, 2), rtol=0, atol=0)


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
