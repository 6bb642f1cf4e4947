"""The pictures of a results directory: error against level, and the Fourier heat map (Yin et al. 2019)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

HEATMAP_CORRUPTION = "fourier_basis_noise"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on cluster nodes
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # No timestamps or software tags in the file: the same results give the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def error_by_level_png(cells: list[Mapping[str, Any]], clean_error: float | None) -> bytes | None:
    """One line per corruption: top-1 error against level (severity); None without level cells."""
    series: dict[str, list[tuple[int, float]]] = {}
    for cell in cells:
        if cell["severity"] is not None and cell["corruption"] != "clean" and cell["top1_error"] is not None:
            series.setdefault(cell["corruption"], []).append((cell["severity"], cell["top1_error"]))
    if not series:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    for name, points in sorted(series.items()):
        points.sort()
        axes.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=name)
    if clean_error is not None:
        axes.axhline(100 * clean_error, color="black", linestyle="--", label="clean")
    axes.set_xlabel("severity (level)")
    axes.set_ylabel("top-1 error (%)")
    axes.set_ylim(0, 100)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize="x-small", ncol=2 if len(series) > 10 else 1, loc="best")
    axes.set_title("Top-1 error by corruption and severity")
    figure.tight_layout()
    return _png(figure)


def fourier_heatmaps(cells: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per norm, the top-1 error of every (i, j) frequency evaluated: rows i, columns j, DC centred.

    Returns ``[{"norm", "i": [...], "j": [...], "top1_error": [[...]]}]``; frequencies the release
    does not hold are null. Only explicit-parameter cells (a grid sweep) take part.
    """
    by_norm: dict[float, dict[tuple[int, int], float | None]] = {}
    for cell in cells:
        params = cell.get("params") or {}
        if cell["corruption"] != HEATMAP_CORRUPTION or cell["severity"] is not None or \
                not {"i", "j", "norm"} <= set(params):
            continue
        by_norm.setdefault(float(params["norm"]), {})[(int(params["i"]), int(params["j"]))] = cell["top1_error"]
    maps = []
    for norm, errors in sorted(by_norm.items()):
        reach_i = max(abs(i) for i, _ in errors)
        reach_j = max(abs(j) for _, j in errors)
        rows, cols = list(range(-reach_i, reach_i + 1)), list(range(-reach_j, reach_j + 1))
        maps.append({"norm": norm, "i": rows, "j": cols,
                     "top1_error": [[errors.get((i, j)) for j in cols] for i in rows]})
    return maps


def fourier_heatmap_png(heatmap: Mapping[str, Any]) -> bytes:
    """Yin et al. 2019 Fig. 2's layout: DC at the centre, i vertical, j horizontal, a colour bar."""
    import numpy as np

    plt = _pyplot()
    matrix = np.array([[math.nan if e is None else 100 * e for e in row] for row in heatmap["top1_error"]])
    rows, cols = heatmap["i"], heatmap["j"]
    size = max(4.0, min(10.0, 0.12 * max(len(rows), len(cols)) + 3))
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="jet", vmin=0, vmax=100, origin="upper", interpolation="nearest",
                        extent=(cols[0] - 0.5, cols[-1] + 0.5, rows[-1] + 0.5, rows[0] - 0.5))
    figure.colorbar(image, ax=axes, label="top-1 error (%)")
    for axis in (axes.xaxis, axes.yaxis):
        axis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("j (cycles per image, horizontal)")
    axes.set_ylabel("i (cycles per image, vertical)")
    axes.set_title(f"Fourier basis noise, norm {heatmap['norm']:g}: top-1 error")
    figure.tight_layout()
    return _png(figure)
