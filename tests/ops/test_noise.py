"""Fidelity of the noise corruptions against the original ImageNet-C script's statistics.

The reference (tests/data/reference/imagenet-c-original-stats.json) ran make_imagenet_c.py on five
photos with NumPy seeds 0..5. Our random streams differ, so the comparison is statistical: per
severity, each statistic averaged over the 5 photos and 6 seeds must agree within
``Z_TOLERANCE`` standard errors. The standard error comes from the seed spread of both sides,
taking the seed as the unit (the reference reuses one seed, hence one noise field, for all five
photos, so its photos are not independent draws). Measured with these seeds: |z| <= 2.6 for every
op, severity and statistic. A 5% error in the severity-3 parameter moves the key statistic
(diff_rms) by 25 to 53 standard errors, and ``test_a_wrong_parameter_is_detected`` checks that
the criterion rejects it (|z| > 10).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrupter import ops
from corrupter.ops import noise
from corrupter.seeding import make_generator
from tests.reference_stats import image_stats

NOISE_OPS = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]
STATISTICS = ["mean", "std", "diff_abs_mean", "diff_rms", "high_freq_ratio"]
SEEDS = 6
# Measured on these photos and seeds: |z| <= 2.6 for every op, severity and statistic.
Z_TOLERANCE = 5.0

# make_imagenet_c.py severity tables (224 x 224).
REFERENCE_TABLES = {
    "gaussian_noise": ("sigma", (0.08, 0.12, 0.18, 0.26, 0.38)),
    "shot_noise": ("photons", (60, 25, 12, 5, 3)),
    "impulse_noise": ("amount", (0.03, 0.06, 0.09, 0.17, 0.27)),
    "speckle_noise": ("sigma", (0.15, 0.20, 0.35, 0.45, 0.60)),
}


def reference_table(stats: dict, name: str, severity: int, photo_names: list[str]) -> dict[str, np.ndarray]:
    """Reference statistics as (photos, seeds) arrays; per-channel entries averaged over channels."""
    runs = stats["runs"][name][str(severity)]
    return {k: np.array([[np.mean(run[k]) for run in runs[p]] for p in photo_names]) for k in STATISTICS}


def our_table(name: str, severity: int, photos: dict[str, np.ndarray], photo_batch: torch.Tensor,
              seeds: int = SEEDS, **overrides: float) -> dict[str, np.ndarray]:
    """Our statistics as (photos, seeds) arrays, computed the pipeline's way: quantize_uint8(kernel(x))."""
    spec = ops.get_corruption(name)
    names = sorted(photos)
    images = photo_batch.repeat(seeds, 1, 1, 1)
    generators = [make_generator(7_000 + i) for i in range(len(images))]
    out, _ = ops.apply_batch(spec, images, spec.params(severity, **overrides), generators)
    out_u8 = ops.quantize_uint8(out).permute(0, 2, 3, 1).numpy()
    table = {k: np.zeros((len(names), seeds)) for k in STATISTICS}
    for i, image in enumerate(out_u8):
        seed, photo = divmod(i, len(names))
        stats = image_stats(photos[names[photo]], image)
        for k in STATISTICS:
            table[k][photo, seed] = stats[k]
    return table


def z_scores(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """(our mean - reference mean) / standard error, per statistic; seeds are the independent unit."""
    scores = {}
    for k in STATISTICS:
        ours_per_seed, ref_per_seed = ours[k].mean(axis=0), reference[k].mean(axis=0)
        error = np.sqrt(ours_per_seed.var(ddof=1) / ours_per_seed.size
                        + ref_per_seed.var(ddof=1) / ref_per_seed.size)
        scores[k] = float((ours_per_seed.mean() - ref_per_seed.mean()) / error)
    return scores


@pytest.mark.parametrize("name", NOISE_OPS)
def test_severity_table_is_the_reference_one(name):
    key, values = REFERENCE_TABLES[name]
    assert [ops.get_corruption(name).params(s)[key] for s in range(1, 6)] == list(values)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", NOISE_OPS)
def test_statistics_match_the_original(name, severity, photos, photo_batch, original_stats):
    reference = reference_table(original_stats, name, severity, sorted(photos))
    scores = z_scores(our_table(name, severity, photos, photo_batch), reference)
    assert all(abs(z) <= Z_TOLERANCE for z in scores.values()), scores


@pytest.mark.parametrize("name", NOISE_OPS)
def test_a_wrong_parameter_is_detected(name, photos, photo_batch, original_stats):
    """The fidelity criterion has teeth: severity 3 with its parameter off by 5% fails it."""
    key, values = REFERENCE_TABLES[name]
    reference = reference_table(original_stats, name, 3, sorted(photos))
    scores = z_scores(our_table(name, 3, photos, photo_batch, **{key: values[2] * 1.05}), reference)
    assert abs(scores["diff_rms"]) > 2 * Z_TOLERANCE, scores


@pytest.mark.parametrize("photons", [60, 25, 12, 5, 3, 0.5, 70_000])
def test_poisson_sample_is_the_exact_inverse_cdf(photons):
    """Every count equals a full search; 70,000 photons puts the guide's start indices past
    float32's exact integers (2^24), where the table switches to float64."""
    generator = make_generator(3)
    count = 200_000 if photons < 1000 else 400  # the full search below is count x support floats
    levels = torch.randint(0, 256, (count,), generator=generator, dtype=torch.uint8)
    levels[3:200] = torch.arange(230, 256).repeat(8)[:197].to(torch.uint8)  # bright: long rows
    uniform = torch.rand(levels.shape, generator=generator, dtype=torch.float64)
    uniform[:3] = torch.tensor([0.0, 1 - 2**-53, 0.5], dtype=torch.float64)  # edges of [0, 1)
    cdf = noise.poisson_tables(float(photons))[0]
    rows = cdf.reshape(256, -1)[levels.long()]
    expected = (rows < uniform[:, None]).sum(dim=1)  # smallest k with P(X <= k) >= u
    counts = noise.poisson_sample(levels, uniform, photons) * photons
    assert torch.equal(counts.round().long(), expected)


def test_poisson_moments():
    """Counts at a fixed level have the Poisson mean and variance (4 standard errors)."""
    n, rate_level, photons = 400_000, 170, 12.0
    rate = rate_level / 255 * photons
    uniform = torch.rand(n, generator=make_generator(4), dtype=torch.float64)
    counts = noise.poisson_sample(torch.full((n,), rate_level, dtype=torch.uint8), uniform, photons) * photons
    assert abs(counts.mean().item() - rate) < 4 * (rate / n) ** 0.5
    assert abs(counts.var().item() / rate - 1) < 4 * (2 / n) ** 0.5


def test_shot_noise_uses_the_8bit_level_for_the_rate():
    """A float input between levels is drawn at the rate of its (truncated) 8-bit level."""
    spec = ops.get_corruption("shot_noise")
    level = torch.full((1, 3, 32, 32), 100 / 255)
    draws = spec.sample(make_generator(5), 32, 32, **spec.params(3))
    batched = {k: v[None] for k, v in draws.items()}
    between_levels = level + 0.4 / 255
    assert torch.equal(spec.apply(level, batched, photons=12),
                       spec.apply(between_levels, batched, photons=12))


def test_impulse_noise_hits_channels_independently_half_salt_half_pepper():
    spec = ops.get_corruption("impulse_noise")
    grey = torch.full((1, 3, 256, 256), 0.5)
    generators = [make_generator(6)]
    out, _ = ops.apply_batch(spec, grey, spec.params(5), generators)
    n, amount = out.numel(), spec.params(5)["amount"]
    for share, expected in (((out == 1).float().mean(), amount / 2), ((out == 0).float().mean(), amount / 2)):
        assert abs(share.item() - expected) < 4 * (expected * (1 - expected) / n) ** 0.5
    hit = out != 0.5
    both = (hit[0, 0] & hit[0, 1]).float().mean().item()
    assert abs(both - amount**2) < 4 * (amount**2 / hit[0, 0].numel()) ** 0.5  # independent channels


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_impulse_noise_is_bit_identical_to_comparison_masks(photo_batch, dtype):
    """The sign arithmetic gives exactly torch.where(u < a, u < a / 2, x), signed zeros included."""
    images = photo_batch.to(dtype)
    uniform = torch.rand(images.shape, generator=torch.Generator().manual_seed(0))
    uniform[0, 0, 0, :3] = torch.tensor([0.0, 0.045, 0.09])  # u = 0, u = a / 2 and u = a exactly
    int_view = torch.int32 if dtype == torch.float32 else torch.int64
    for severity in range(1, 6):
        amount = ops.get_corruption("impulse_noise").params(severity)["amount"]
        ours = noise.impulse_noise(images, {"uniform": uniform}, amount=amount)
        expected = torch.where(uniform < amount, (uniform < amount / 2).to(dtype), images).clamp(0, 1)
        assert torch.equal(ours.view(int_view), expected.view(int_view))


@pytest.mark.parametrize("name", ["gaussian_noise", "speckle_noise"])
def test_gaussian_noise_scale(name):
    """Away from the clip, the added noise has standard deviation sigma (gaussian) or x * sigma (speckle)."""
    spec = ops.get_corruption(name)
    grey = torch.full((1, 3, 128, 128), 0.5)
    out, _ = ops.apply_batch(spec, grey, spec.params(1), [make_generator(8)])
    sigma = spec.params(1)["sigma"] * (0.5 if name == "speckle_noise" else 1.0)
    assert abs((out - grey).std().item() / sigma - 1) < 0.01
