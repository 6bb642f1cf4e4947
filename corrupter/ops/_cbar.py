"""What the ImageNet-C-bar ops share: C-bar's severity scale, its level tables and its image size.

C-bar (Mintun et al. 2021, facebookresearch/augmentation-corruption ``imagenet_c_bar/``) gives each op
a float severity s on a 0-10 scale and maps it to physical parameters with ``float_parameter(s, max)
= s * max / 10``. Our levels 1..5 are the five severities of its ``imagenet_c_bar.csv``; each level
records that severity and the physical parameters it maps to, as C-bar's own records do.

The kernels compute with the physical parameters; the severity stays consistent with them
(``severity_rule``): an explicit severity brings its physical parameters, explicit physical
parameters alone take the op off C-bar's scale (severity null), and a kernel refuses a severity
that does not map to the parameters it is given.

C-bar works on square 224 x 224 images only (``im_size``). Its lengths scale with ``im_size``; ours
scale with ``image_size(H, W) = sqrt(H * W)``, which is im_size on C-bar's square images and keeps an
elongated image's pattern the same size relative to its area. Positions (star centres, ring
centres) span each axis on its own. Parameters in pixels (lens_scale, radius) are recorded in C-bar's
pixels at 224 and scaled by image_size / 224.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

REFERENCE_SIZE = 224  # C-bar's im_size for ImageNet
REFERENCE = "facebookresearch/augmentation-corruption imagenet_c_bar/corrupt.py @ ba4d5a5"


def float_parameter(severity: float, maximum: float) -> float:
    """C-bar's severity mapping, the same float operations: s * max / 10."""
    return float(severity) * maximum / 10.0


def cbar_levels(severities: Sequence[float],
                physical: Callable[[float], dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Levels 1..N: C-bar's severity and the physical parameters it maps to."""
    return tuple({"severity": float(s), **physical(float(s))} for s in severities)


def check_severity(name: str, severity: Any, physical: Callable[[float], dict[str, Any]],
                   given: Mapping[str, Any]) -> None:
    """Refuse a severity that is not on C-bar's 0-10 scale or does not map to the physical
    parameters in ``given`` (any subset of them). None (off C-bar's scale) passes."""
    if severity is None:
        return
    if isinstance(severity, bool) or not isinstance(severity, (int, float)) or not 0 <= severity <= 10:
        raise ValueError(f"{name}: severity must be a number on C-bar's 0-10 scale or null, got {severity!r}")
    expected = physical(float(severity))
    wrong = {k: v for k, v in expected.items()
             if k in given and not math.isclose(float(given[k]), v, rel_tol=1e-9, abs_tol=1e-12)}
    if wrong:
        got = ", ".join(f"{k}={given[k]}" for k in wrong)
        want = ", ".join(f"{k}={v:.10g}" for k, v in wrong.items())
        raise ValueError(f"{name}: C-bar severity {severity} maps to {want}, not {got}; give the severity "
                         f"alone, or the physical parameters alone (severity: null)")


def severity_rule(name: str, physical: Callable[[float], dict[str, Any]]
                  ) -> Callable[[dict[str, Any], frozenset[str]], dict[str, Any]]:
    """The registry's ``derive`` for a C-bar op: explicit parameters stay consistent with the label.

    A given severity sets the physical parameters it maps to (any also given must agree); physical
    parameters given without a severity leave C-bar's scale (severity None), unless they are exactly
    the current severity's.
    """
    def derive(params: dict[str, Any], given: frozenset[str]) -> dict[str, Any]:
        params = dict(params)
        severity = params["severity"]
        physical_given = {k: params[k] for k in given if k != "severity"}
        if "severity" in given:
            check_severity(name, severity, physical, physical_given)
            if severity is not None:
                params.update(physical(float(severity)))
        elif physical_given and severity is not None:
            try:
                check_severity(name, severity, physical, physical_given)
            except ValueError:
                params["severity"] = None
        return params

    return derive


def image_size(height: int, width: int) -> float:
    """C-bar's im_size for an H x W image: sqrt(H * W) (224 on its 224 x 224 images)."""
    return math.sqrt(height * width)


def pixel_scale(height: int, width: int) -> float:
    """Factor from C-bar's pixels at 224 to this image's pixels."""
    return image_size(height, width) / REFERENCE_SIZE
