"""Fidelity of the blur family against the reference outputs and statistics in tests/data/reference.

Everything is computed the pipeline's way: out = quantize_uint8(kernel(photo / 255)).
Tolerances (measured values in brackets, see the corrupter.ops.blur docstring for why they differ):
- gaussian_blur, defocus_blur: per pixel against imagecorruptions' exact uint8 outputs, at most one
  level, on at most 0.5% of pixels [0.08-0.11%]; defocus severity 1 at most 5% [3.2%]: the reference
  kernel (float32, sum 1 - 4e-9) puts flat regions a hair below an integer level and truncation
  drops them by one, which quantize_uint8's guard does not.
- zoom_blur (deterministic): statistics equal to the reference's within 1e-4 [<= 1e-5].
- glass_blur: the parallel copy-chain resolution equals the reference's sequential loop exactly;
  statistics within the seed spread of the original's (tests/reference_stats.py: 4 seed standard
  errors + the common 2e-4 floor).
- motion_blur: with the reference's own angles, statistics within 1e-4 of imagecorruptions'
  [<= 5.5e-5], but diff_abs_mean within 4e-4 [3.1e-4]: our half-level rounding offset shifts the
  mean by exactly half a level (taken out before comparing) but the mean absolute difference by
  less, pixel by pixel; with our random angles, within the seed spread.
Every criterion also rejects the adjacent severities' parameters (``assert_neighbours_rejected``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrupter import ops
from corrupter.ops import blur
from corrupter.ops._imagemagick import directional_motion_blur, motion_kernel_weights
from corrupter.ops._scipy import (
    centred_clipped_zoom,
    clipped_zoom_geometry,
    gaussian_blur_nearest,
    numpy_arange,
)
from corrupter.ops.blur import ZOOM_SEVERITIES, decode_glass_offsets, glass_copy_sources, sample_glass_offsets
from corrupter.seeding import make_generator
from tests.reference_stats import (
    STATS,
    SeedSpreadCheck,
    assert_neighbours_rejected,
    image_stats,
    photo_average,
    reference_runs,
)

SEVERITIES = [1, 2, 3, 4, 5]
HALF_LEVEL = 0.5 / 255  # motion_blur rounds like ImageMagick's 8-bit output (imagecorruptions truncates)


def corrupt(name: str, images: torch.Tensor, severity: int, seeds: list[int] = ()) -> np.ndarray:
    spec = ops.get_corruption(name)
    out, _ = ops.apply_batch(spec, images, spec.params(severity), [make_generator(s) for s in seeds])
    return ops.quantize_uint8(out).permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="module")
def original_check(photos, original_stats):
    return SeedSpreadCheck(original_stats["runs"], photos)


@pytest.fixture(scope="module")
def imagecorruptions_check(photos, imagecorruptions_stats):
    # motion_blur rounds like ImageMagick's 8-bit output, imagecorruptions truncates: half a level.
    return SeedSpreadCheck(imagecorruptions_stats["runs"], photos,
                           shift={"motion_blur": {"mean": HALF_LEVEL, "diff_mean": HALF_LEVEL}})


# ---------------------------------------------------------------------------------------------------
# Deterministic filters: per pixel


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"])
def test_filters_match_reference_pixels(name, severity, photos, deterministic_outputs):
    clean = torch.from_numpy(photos["astronaut"]).permute(2, 0, 1)[None].float() / 255

    def accepts(ours_severity: int, reference_severity: int) -> bool:
        ours = corrupt(name, clean, ours_severity)[0].astype(int)
        diff = np.abs(ours - deterministic_outputs[f"astronaut/{name}/{reference_severity}"].astype(int))
        share = 0.05 if (name, reference_severity) == ("defocus_blur", 1) else 0.005
        return bool(diff.max() <= 1 and (diff > 0).mean() <= share)

    assert_neighbours_rejected(severity, SEVERITIES, accepts, name)


# ---------------------------------------------------------------------------------------------------
# Zoom blur


def test_zoom_factor_lists_keep_the_float_arange_quirk():
    assert [len(s["factors"]) for s in ZOOM_SEVERITIES] == [12, 16, 11, 13, 11]
    assert ZOOM_SEVERITIES[0]["factors"][-1] == pytest.approx(1.11)
    np.testing.assert_array_equal(numpy_arange(1.0, 1.31, 0.03), np.arange(1, 1.31, 0.03))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_zoom_blur_matches_reference_statistics(severity, photos, photo_batch, original_stats, imagecorruptions_stats):
    names = sorted(photos)

    def accepts(ours_severity: int, reference_severity: int) -> bool:
        out = corrupt("zoom_blur", photo_batch, ours_severity)
        ours = photo_average([image_stats(photos[p], out[i]) for i, p in enumerate(names)])
        references = [reference_runs(stats["runs"], "zoom_blur", str(reference_severity), names)[0]
                      for stats in (original_stats, imagecorruptions_stats)]  # equal at 224: the trims coincide
        return all(abs(ours[k] - ref[k]) <= 1e-4 for ref in references for k in STATS)

    assert_neighbours_rejected(severity, SEVERITIES, accepts, "zoom_blur")


@pytest.mark.parametrize("height, width, distinct", [(224, 224, 23), (200, 257, None)])
def test_zoom_blur_levels_zoom_each_geometry_once(height, width, distinct, monkeypatch):
    """The five levels together make one zoom per distinct geometry (23 at 224 px, where one level at
    a time makes 58), also when the levels come unsorted and twice; the bits are the contract test's."""
    made = []

    def counted(images, factor):
        made.append(geometry(factor))
        return centred_clipped_zoom(images, factor)

    def geometry(factor):
        return clipped_zoom_geometry(height, factor), clipped_zoom_geometry(width, factor)

    monkeypatch.setattr(blur, "centred_clipped_zoom", counted)
    geometries = {geometry(f) for s in ZOOM_SEVERITIES for f in s["factors"] if f != 1.0}
    assert len(geometries) == (distinct or len(geometries))
    assert sum(len(s["factors"]) - 1 for s in ZOOM_SEVERITIES) == 58
    images = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    params = [ZOOM_SEVERITIES[i] for i in (4, 1, 0, 3, 2, 1)]
    blur.zoom_blur_levels(images, params)
    assert sorted(made) == sorted(geometries)


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


@pytest.mark.parametrize("batch", [1, 3])
def test_glass_blur_equals_blur_then_sequential_passes_then_blur(batch):
    """The whole kernel, several passes composed and channels moved together, against the loop."""
    d, iterations, sigma = 2, 3, 1.0
    height, width = 23, 31
    images = torch.rand(batch, 3, height, width, generator=make_generator(batch))
    codes = torch.stack([sample_glass_offsets(make_generator(10 + b), height, width, max_delta=d,
                                              iterations=iterations)["offset_codes"] for b in range(batch)])
    out = ops.get_corruption("glass_blur").apply(images, {"offset_codes": codes}, sigma=sigma, max_delta=d,
                                                  iterations=iterations)
    levels = ops.quantize_uint8(gaussian_blur_nearest(images, sigma)).permute(0, 2, 3, 1).numpy()
    dys, dxs = decode_glass_offsets(codes, d)
    for b in range(batch):
        for k in range(iterations):
            offsets = torch.stack([dys[b, k], dxs[b, k]], dim=-1).long().numpy()
            levels[b] = sequential_glass_pass(levels[b], offsets, d)
    jittered = torch.from_numpy(levels).permute(0, 3, 1, 2).float().div(255).contiguous()
    assert torch.equal(out, gaussian_blur_nearest(jittered, sigma).clamp(0, 1))


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6])
def test_glass_offset_codes_decode_to_uniform_pairs_in_the_reference_range(d):
    span = 2 * d
    codes = torch.arange(span * span)
    dy, dx = decode_glass_offsets(codes, d)
    assert torch.equal(dy.long(), codes // span - d) and torch.equal(dx.long(), codes % span - d)
    drawn = sample_glass_offsets(make_generator(d), 64, 48, max_delta=d, iterations=2)["offset_codes"]
    assert drawn.shape == (2, 64 - span, 48 - span) and drawn.min() == 0 and drawn.max() == span * span - 1


@pytest.mark.parametrize("severity", SEVERITIES)
def test_glass_blur_statistics_match_original(severity, original_check):
    original_check.assert_matches("glass_blur", severity)
    original_check.assert_neighbours_rejected("glass_blur", severity)


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
    spec = ops.get_corruption("motion_blur")

    def accepts(ours_severity: int, reference_severity: int) -> bool:
        ref = reference_runs(imagecorruptions_stats["runs"], "motion_blur", str(reference_severity), names)
        for seed, ref_run in enumerate(ref):
            angle = np.random.RandomState(seed).uniform(-45, 45)  # the reference's first draw after seeding
            draws = {"angle": torch.full((len(names), 1), angle, dtype=torch.float64)}
            out = ops.quantize_uint8(spec.apply(photo_batch, draws, **spec.params(ours_severity)))
            ours = photo_average([image_stats(photos[p], o) for p, o in zip(names, out.permute(0, 2, 3, 1).numpy())])
            if any(abs(ours[k] - HALF_LEVEL - ref_run[k]) > 1e-4 for k in ("mean", "diff_mean")):
                return False
            if any(abs(ours[k] - ref_run[k]) > 1e-4 for k in ("std", "diff_rms", "high_freq_ratio")):
                return False
            if abs(ours["diff_abs_mean"] - ref_run["diff_abs_mean"]) > 4e-4:
                return False
        return True

    assert_neighbours_rejected(severity, SEVERITIES, accepts, "motion_blur with the reference's angles")


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_statistics_match_imagecorruptions(severity, imagecorruptions_check):
    imagecorruptions_check.assert_matches("motion_blur", severity)
    imagecorruptions_check.assert_neighbours_rejected("motion_blur", severity)
