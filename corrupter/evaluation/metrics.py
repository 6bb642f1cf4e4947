"""Error rates per cell and the ImageNet-C summary (CE, mCE, relative mCE; Hendrycks & Dietterich 2019).

Errors are fractions in [0, 1] everywhere; reports print them as percentages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# AlexNet's top-1 error per ImageNet-C corruption, averaged over severities 1..5: the normalisers of
# CE, published with hendrycks/robustness and repeated as ALEXNET_ERR in google-research/augmix
# imagenet.py (the baseline is torchvision's pretrained AlexNet: hendrycks/robustness#38).
ALEXNET_ERR = {
    "gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640,
    "defocus_blur": 0.819880, "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360,
    "snow": 0.866816, "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592,
    "contrast": 0.853204, "elastic_transform": 0.646056, "pixelate": 0.717840,
    "jpeg_compression": 0.606500,
}
# The same AlexNet's clean top-1 error (torchvision AlexNet_Weights.IMAGENET1K_V1: acc@1 56.522),
# the baseline of relative CE.
ALEXNET_CLEAN_ERR = 1 - 0.56522
MCE_SEVERITIES = (1, 2, 3, 4, 5)
CLEAN = "clean"


@dataclass(frozen=True)
class CellCounts:
    """What evaluating one (corruption, variant) cell counted."""

    corruption: str
    variant: str
    level: int | None
    params: Mapping[str, Any]
    samples: int
    top1_correct: int
    top5_correct: int

    def as_result(self) -> dict[str, Any]:
        return {
            "corruption": self.corruption, "variant": self.variant,
            # ImageNet-C's name for a level; null for explicit parameters (sweeps)
            "severity": self.level, "params": dict(self.params), "samples": self.samples,
            "top1_correct": self.top1_correct, "top5_correct": self.top5_correct,
            "top1_error": error(self.top1_correct, self.samples),
            "top5_error": error(self.top5_correct, self.samples),
        }


def error(correct: int, samples: int) -> float | None:
    return None if samples == 0 else 1 - correct / samples


def corruption_errors(cells: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Mean top-1 error over the levels of each corruption (cells with a level; not ``clean``)."""
    by_corruption: dict[str, list[float]] = {}
    for cell in cells:
        if cell["corruption"] != CLEAN and cell["severity"] is not None and cell["top1_error"] is not None:
            by_corruption.setdefault(cell["corruption"], []).append(cell["top1_error"])
    return {name: sum(errs) / len(errs) for name, errs in sorted(by_corruption.items())}


def clean_error(cells: Iterable[Mapping[str, Any]]) -> float | None:
    errors = [c["top1_error"] for c in cells if c["corruption"] == CLEAN]
    return errors[0] if len(errors) == 1 else None


def mce_summary(cells: list[Mapping[str, Any]]) -> dict[str, Any]:
    """CE per ImageNet-C corruption, mCE and relative mCE, or null with the reason they cannot be had.

    CE_c = sum_s E_{s,c} / sum_s E^AlexNet_{s,c}; relative CE_c = sum_s (E_{s,c} - E_clean) /
    sum_s (E^AlexNet_{s,c} - E^AlexNet_clean); mCE and relative mCE average them over the 15.
    """
    levels: dict[str, dict[int, float]] = {}
    for cell in cells:
        if cell["corruption"] in ALEXNET_ERR and cell["severity"] is not None and cell["top1_error"] is not None:
            levels.setdefault(cell["corruption"], {})[cell["severity"]] = cell["top1_error"]
    missing = [f"{name}/{s}" for name in ALEXNET_ERR for s in MCE_SEVERITIES if s not in levels.get(name, {})]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        reason = f"mCE needs all 15 ImageNet-C corruptions at severities 1-5; missing {shown}"
        return {"ce": None, "mce": None, "mce_reason": reason,
                "relative_ce": None, "relative_mce": None, "relative_mce_reason": reason}
    mean_error = {name: sum(levels[name][s] for s in MCE_SEVERITIES) / len(MCE_SEVERITIES) for name in ALEXNET_ERR}
    ce = {name: mean_error[name] / ALEXNET_ERR[name] for name in ALEXNET_ERR}
    summary: dict[str, Any] = {"ce": ce, "mce": sum(ce.values()) / len(ce), "mce_reason": None}
    clean = clean_error(cells)
    if clean is None:
        summary |= {"relative_ce": None, "relative_mce": None,
                    "relative_mce_reason": "relative mCE needs the clean cell (corruption 'clean') in the release"}
        return summary
    relative = {name: (mean_error[name] - clean) / (ALEXNET_ERR[name] - ALEXNET_CLEAN_ERR) for name in ALEXNET_ERR}
    summary |= {"relative_ce": relative, "relative_mce": sum(relative.values()) / len(relative),
                "relative_mce_reason": None}
    return summary


def summarise(cells: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``summary`` block of results.json."""
    return {"clean_error": clean_error(cells), "corruption_errors": corruption_errors(cells),
            **mce_summary(cells)}
