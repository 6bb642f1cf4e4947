"""mCE and relative mCE against a hand computation, and the AlexNet normalisers pinned."""

from __future__ import annotations

import pytest

from corrupter.evaluation.metrics import ALEXNET_CLEAN_ERR, ALEXNET_ERR, mce_summary, summarise

# hendrycks/robustness's AlexNet errors in ImageNet-C's order (google-research/augmix ALEXNET_ERR).
PUBLISHED = [0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360, 0.866816, 0.826572,
             0.819324, 0.564592, 0.853204, 0.646056, 0.717840, 0.606500]
ORDER = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
         "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
         "jpeg_compression"]


def cell(corruption, severity, error, samples=1000):
    correct = round((1 - error) * samples)
    return {"corruption": corruption, "variant": str(severity) if severity else "1", "severity": severity,
            "samples": samples, "top1_correct": correct, "top1_error": 1 - correct / samples}


def test_alexnet_normalisers_are_the_published_ones():
    assert list(ALEXNET_ERR) == ORDER and list(ALEXNET_ERR.values()) == PUBLISHED
    assert ALEXNET_CLEAN_ERR == pytest.approx(0.43478)


def synthetic_cells(clean=0.25):
    # corruption k at severity s has error 0.3 + 0.01 k + 0.1 (s - 1): mean over s = 0.5 + 0.01 k
    cells = [cell(name, s, 0.3 + 0.01 * k + 0.1 * (s - 1)) for k, name in enumerate(ORDER) for s in range(1, 6)]
    return cells + ([cell("clean", None, clean)] if clean is not None else [])


def test_mce_and_relative_mce_equal_a_hand_computation():
    summary = summarise(synthetic_cells())
    ce = [(0.5 + 0.01 * k) / PUBLISHED[k] for k in range(15)]
    rel = [(0.5 + 0.01 * k - 0.25) / (PUBLISHED[k] - 0.43478) for k in range(15)]
    assert summary["mce"] == pytest.approx(sum(ce) / 15, abs=1e-12)
    assert summary["relative_mce"] == pytest.approx(sum(rel) / 15, abs=1e-5)
    assert summary["ce"]["fog"] == pytest.approx(0.59 / 0.819324)
    assert summary["clean_error"] == 0.25
    assert summary["corruption_errors"]["contrast"] == pytest.approx(0.61)
    # A worked figure: gaussian_noise alone, errors .3 .4 .5 .6 .7 -> CE = 2.5 / (5 * .886428)
    assert summary["ce"]["gaussian_noise"] == pytest.approx(2.5 / (5 * 0.886428))


def test_mce_is_null_with_the_reason_when_a_cell_is_missing():
    cells = [c for c in synthetic_cells() if not (c["corruption"] == "fog" and c["severity"] == 4)]
    summary = mce_summary(cells)
    assert summary["mce"] is None and "fog/4" in summary["mce_reason"]
    assert summary["relative_mce"] is None


def test_relative_mce_needs_the_clean_cell():
    summary = mce_summary(synthetic_cells(clean=None))
    assert summary["mce"] is not None
    assert summary["relative_mce"] is None and "clean" in summary["relative_mce_reason"]
