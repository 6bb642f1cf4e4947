"""The heat-map matrix's layout and the pictures (real PNGs, deterministic)."""

from __future__ import annotations

import io

from PIL import Image

from corrupter.evaluation.plots import error_by_level_png, fourier_heatmap_png, fourier_heatmaps


def sweep_cell(i, j, norm, error):
    return {"corruption": "fourier_basis_noise", "variant": f"i{i}_j{j}_norm{norm}", "severity": None,
            "params": {"i": i, "j": j, "norm": norm}, "top1_error": error}


def test_heatmap_matrix_puts_dc_in_the_centre_with_i_as_rows():
    cells = [sweep_cell(i, j, 4.0, 0.1 * (i + 2) + 0.01 * (j + 1)) for i in (-1, 0, 1) for j in (-1, 0, 1)
             if (i, j) != (1, -1)]
    cells.append({"corruption": "fourier_basis_noise", "variant": "3", "severity": 3,
                  "params": {"i": 8, "j": 8, "norm": 15.7}, "top1_error": 0.9})  # a level, not the sweep
    [heatmap] = fourier_heatmaps(cells)
    assert heatmap["norm"] == 4.0 and heatmap["i"] == [-1, 0, 1] and heatmap["j"] == [-1, 0, 1]
    matrix = heatmap["top1_error"]
    assert matrix[1][1] == 0.1 * 2 + 0.01 * 1          # DC in the middle
    assert matrix[0][2] == 0.1 * 1 + 0.01 * 2          # i = -1 is the top row, j = +1 the right column
    assert matrix[2][0] is None                         # not in the release


def test_one_heatmap_per_norm():
    cells = [sweep_cell(0, 1, n, 0.5) for n in (15.7, 4.0)]
    assert [h["norm"] for h in fourier_heatmaps(cells)] == [4.0, 15.7]


def test_pictures_are_real_pngs_and_reproducible():
    cells = [sweep_cell(i, j, 15.7, 0.3) for i in range(-2, 3) for j in range(-2, 3)]
    png = fourier_heatmap_png(fourier_heatmaps(cells)[0])
    assert png == fourier_heatmap_png(fourier_heatmaps(cells)[0])
    assert Image.open(io.BytesIO(png)).format == "PNG"
    levels = [{"corruption": c, "variant": str(s), "severity": s, "params": {}, "top1_error": 0.1 * s}
              for c in ("fog", "contrast") for s in range(1, 6)]
    curve = error_by_level_png(levels, clean_error=0.05)
    assert Image.open(io.BytesIO(curve)).size[0] > 300
    assert error_by_level_png([sweep_cell(0, 1, 4.0, 0.2)], None) is None
