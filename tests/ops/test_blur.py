"""Fidelity of the blur family against the reference outputs and statistics in tests/data/reference.

Everything is computed the pipeline's way: out = quantize_uint8(kernel(photo / 255)).
Tolerances (measured values in brackets, see the corrupter.ops.blur docstring for why they differ):
- gaussian_blur, defocus_blur: per pixel against imagecorruptions' exact uint8 outputs, at most one
  level, on at most 0.5% of pixels [0.08-0.11%]; defocus severity 1 at most 5% [3.2%]: the reference
  kernel (float32, sum 1 - 4e-9) puts flat regions a hair below an integer level and truncation
  drops them by one, which quantize_uint8's guard does not.
- zoom_blur (deterministic): statistics equal to the reference's within 1e-4 [<= 1e-5].
- glass_blur: the parallel copy-chain resolution equals the reference's sequential loop exactly;
  statistics within 4 seed standard errors (+ 2e-4 for quantisation) of the original's.
- motion_blur: with the reference's own angles, statistics within 1e-4 of imagecorruptions'
  [<= 6e-5]; with our random angles, within 4 seed standard errors (+ 2e-4).
Random statistics follow the reference protocol: one seed per run, shared by the five photos
(the reference calls np.random.seed(s) before every photo).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrupter import ops
from corrupter.ops._imagemagick import directional_motion_blur, motion_kernel_weights
from corrupter.ops._scipy import numpy_arange
from corrupter.ops.blur import ZOOM_SEVERITIES, decode_glass_offsets, glass_copy_sources, sample_glass_offsets
from corrupter.seeding import make_generator
from tests.reference_stats import STATS, image_stats

SEVERITIES = [1, 2, 3, 4, 5]
HALF_LEVEL = 0.5 / 255  # motion_blur rounds like ImageMagick's 8-bit output (imagecorruptions truncates)


def corrupt(name: str, images: torch.Tensor, severity: int, seeds: list[int] = ()) -> np.ndarray:
    spec = ops.get_corruption(name)
    out, _ = ops.apply_batch(spec, images, spec.params(severity), [make_generator(s) for s in seeds])
    return ops.quantize_uint8(out).permute(0, 2, 3, 1).numpy()


def photo_averaged(per_photo: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([s[k] for s in per_photo])) for k in STATS}


def reference_runs(stats: dict, name: str, severity: int, photo_names: list[str]) -> list[dict[str, float]]:
    """Per seed, the photo-averaged reference statistics."""
    runs = stats["runs"][name][str(severity)]
    seeds = len(runs[photo_names[0]])
    return [photo_averaged([{k: float(np.mean(runs[p][s][k])) for k in STATS} for p in photo_names])
            for s in range(seeds)]


def our_runs(name: str, photos: dict, photo_batch: torch.Tensor, severity: int, seeds: range) -> list[dict[str, float]]:
    names = sorted(photos)
    runs = []
    for seed in seeds:
        out = corrupt(name, photo_batch, severity, [seed] * len(names))  # one seed shared by the photos
        runs.append(photo_averaged([image_stats(photos[p], out[i]) for i, p in enumerate(names)]))
    return runs


def assert_within_seed_spread(ours: list[dict], ref: list[dict], shift: dict[str, float] | None = None,
                              z: float = 4.0, floor: float = 2e-4) -> None:
    """|mean(ours) - mean(ref)| <= z * seed sd * sqrt(1/n_ours + 1/n_ref) + floor, per statistic."""
    shift = shift or {}
    for k in STATS:
        a = np.array([r[k] for r in ours]) - shift.get(k, 0.0)
        b = np.array([r[k] for r in ref])
        sd = max(a.std(ddof=1), b.std(ddof=1) if len(b) > 1 else 0.0)
        tol = z * sd * np.sqrt(1 / len(a) + 1 / len(b)) + floor
        assert abs(a.mean() - b.mean()) <= tol, f"{k}: ours {a.mean():.5f} vs reference {b.mean():.5f} (tol {tol:.5f})"


# ---------------------------------------------------------------------------------------------------
# Deterministic filters: per pixel


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"])
def test_filters_match_reference_pixels(name, severity, photos, deterministic_outputs):
    clean = torch.from_numpy(photos["astronaut"]).permute(2, 0, 1)[None].float() / 255
    ours = corrupt(name, clean, severity)[0].astype(int)
    ref = deterministic_outputs[f"astronaut/{name}/{severity}"].astype(int)
    diff = np.abs(ours - ref)
    assert diff.max() <= 1
    assert (diff > 0).mean() <= (0.05 if (name, severity) == ("defocus_blur", 1) else 0.005)


# ---------------------------------------------------------------------------------------------------
# Zoom blur


def test_zoom_factor_lists_keep_the_float_arange_quirk():
    assert [len(s["factors"]) for s in ZOOM_SEVERITIES] == [12, 16, 11, 13, 11]
    assert ZOOM_SEVERITIES[0]["factors"][-1] == pytest.approx(1.11)
    np.testing.assert_array_equal(numpy_arange(1.0, 1.31, 0.03), np.arange(1, 1.31, 0.03))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_zoom_blur_matches_reference_statistics(severity, photos, photo_batch, original_stats, imagecorruptions_stats):
    out = corrupt("zoom_blur", photo_batch, severity)
    ours = photo_averaged([image_stats(photos[p], out[i]) for i, p in enumerate(sorted(photos))])
    for stats in (original_stats, imagecorruptions_stats):  # identical at 224 (the trims coincide)
        ref = reference_runs(stats, "zoom_blur", severity, sorted(photos))[0]
        for k in STATS:
            assert ours[k] == pytest.approx(ref[k], abs=1e-4), k


# ---------------------------------------------------------------------------------------------------
# Glass blur


def sequential_glass_pass(image: np.ndarray, offsets: np.ndarray, d: int) -> np.ndarray:
    """The reference loop verbatim, tuple "swap" through numpy views included (a one-way copy)."""
    x = image.copy()
    height, width = x.shape[:2]
    for h in range(height - d, d, -1):
        for w in range(width - d, d, -1):
            dy, dx = offsets[h - d - 1, w - d - 1]
            h_prime, w_prime = h + dy, w + dx
            x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return x


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_glass_copy_chains_equal_the_sequential_loop(d):
    rng = np.random.default_rng(d)
    height, width, batch = 41, 36, 2
    offsets = rng.integers(-d, d, size=(batch, height - 2 * d, width - 2 * d, 2))
    dy, dx = torch.from_numpy(offsets).unbind(-1)
    sources = glass_copy_sources(dy, dx, height, width, d).numpy()
    for b in range(batch):
        # Pixels labelled by their index (three channels, as in the reference's H x W x 3 array).
        labels = np.repeat(np.arange(height * width).reshape(height, width, 1), 3, axis=2)
        expected = sequential_glass_pass(labels, offsets[b], d)[..., 0].reshape(-1)
        np.testing.assert_array_equal(sources[b], expected)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6])
def test_glass_offset_codes_decode_to_uniform_pairs_in_the_reference_range(d):
    span = 2 * d
    codes = torch.arange(span * span)
    dy, dx = decode_glass_offsets(codes, d)
    assert torch.equal(dy.long(), codes // span - d) and torch.equal(dx.long(), codes % span - d)
    drawn = sample_glass_offsets(make_generator(d), 64, 48, max_delta=d, iterations=2)["offset_codes"]
    assert drawn.shape == (2, 64 - span, 48 - span) and drawn.min() == 0 and drawn.max() == span * span - 1


@pytest.mark.parametrize("severity", SEVERITIES)
def test_glass_blur_statistics_match_original(severity, photos, photo_batch, original_stats):
    ours = our_runs("glass_blur", photos, photo_batch, severity, range(6))
    assert_within_seed_spread(ours, reference_runs(original_stats, "glass_blur", severity, sorted(photos)))


# ---------------------------------------------------------------------------------------------------
# Motion blur


def test_motion_kernel_is_one_sided_along_the_angle():
    image = torch.zeros(1, 1, 64, 64)
    image[0, 0, 32, 32] = 1.0
    weights = motion_kernel_weights(10, 3)
    assert len(weights) == 21 and sum(weights) == pytest.approx(1.0)
    # Tap i reads i pixels along +x, so an impulse spreads towards -x (angle 0) or -y (angle 90).
    along_x = directional_motion_blur(image, 10, 3, torch.tensor([0.0]))[0, 0]
    torch.testing.assert_close(along_x[32, 12:33].flip(0), torch.tensor(weights, dtype=torch.float32))
    along_y = directional_motion_blur(image, 10, 3, torch.tensor([90.0]))[0, 0]
    torch.testing.assert_close(along_y[12:33, 32].flip(0), torch.tensor(weights, dtype=torch.float32))
    assert along_x.sum() == pytest.approx(1.0, abs=1e-6) and along_y[33:].sum() == 0


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_with_the_reference_angles_matches_imagecorruptions(severity, photos, photo_batch,
                                                                         imagecorruptions_stats):
    names = sorted(photos)
    ref = reference_runs(imagecorruptions_stats, "motion_blur", severity, names)
    spec = ops.get_corruption("motion_blur")
    for seed, ref_run in enumerate(ref):
        angle = np.random.RandomState(seed).uniform(-45, 45)  # the reference's first draw after seeding
        draws = {"angle": torch.full((len(names), 1), angle, dtype=torch.float64)}
        out = ops.quantize_uint8(spec.apply(photo_batch, draws, **spec.params(severity))).permute(0, 2, 3, 1).numpy()
        ours = photo_averaged([image_stats(photos[p], out[i]) for i, p in enumerate(names)])
        for k in ("mean", "diff_mean"):
            assert ours[k] - HALF_LEVEL == pytest.approx(ref_run[k], abs=1e-4), k
        for k in ("std", "diff_abs_mean", "diff_rms", "high_freq_ratio"):
            assert ours[k] == pytest.approx(ref_run[k], abs=5e-4), k


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_statistics_match_imagecorruptions(severity, photos, photo_batch, imagecorruptions_stats):
    ours = our_runs("motion_blur", photos, photo_batch, severity, range(12))
    ref = reference_runs(imagecorruptions_stats, "motion_blur", severity, sorted(photos))
    assert_within_seed_spread(ours, ref, shift={"mean": HALF_LEVEL, "diff_mean": HALF_LEVEL})
