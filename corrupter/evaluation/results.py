"""The results of an evaluation: results.json (the record, written last), results.csv, report.md and
the pictures, assembled from the per-shard counts.

    results.json            model, release, cells, summary (clean error, errors per corruption, CE,
                            mCE, relative mCE), fourier_heatmaps (the matrices)
    results.csv             one row per cell
    report.md               a table per family (severities as columns), the pictures embedded
    error_by_severity.png   one line per corruption; clean error as a reference line
    fourier_heatmap.png     when the release holds a fourier_basis_noise grid (one per norm:
                            fourier_heatmap_norm-N.png when there are several)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import ops
from ..io.errors import AlreadyExists
from ..io.storage import Storage
from ..release import Cell
from .metrics import CLEAN, CellCounts, summarise
from .plots import error_by_level_png, fourier_heatmap_png, fourier_heatmaps
from .records import RESULTS, ResultsExist

FORMAT = "corrupter-evaluation/1"
CSV_FIELDS = ("corruption", "variant", "severity", "params", "samples", "top1_correct", "top5_correct",
              "top1_error", "top5_error")


def cell_results(cells: Sequence[Cell], counts: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """One entry per cell: the sums of its shards' counts (``counts``: shard path -> counts)."""
    entries = []
    for cell in cells:
        totals = {k: sum(counts[s.path][k] for s in cell.shards) for k in ("samples", "top1_correct", "top5_correct")}
        entry = CellCounts(cell.corruption, cell.variant, cell.level, cell.params, **totals).as_result()
        entries.append({**entry, "level": cell.level})
    return entries


def build_results(*, model: Mapping[str, Any], release: Mapping[str, Any], cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "model": dict(model),
        "release": dict(release),
        "cells": cells,
        "summary": summarise(cells),
        "fourier_heatmaps": fourier_heatmaps(cells),
    }


def heatmap_names(heatmaps: Sequence[Mapping[str, Any]]) -> list[str]:
    if len(heatmaps) == 1:
        return ["fourier_heatmap.png"]
    return [f"fourier_heatmap_norm-{h['norm']:g}.png" for h in heatmaps]


def write_results(storage: Storage, results: dict[str, Any]) -> list[str]:
    """Write every file, results.json last (create-once): until it is there the directory holds no
    results, whatever else a killed run left (those files are written again). Returns the names."""
    cells, summary = results["cells"], results["summary"]
    files: dict[str, bytes] = {"results.csv": _csv(cells)}
    pictures: list[tuple[str, str]] = []
    by_severity = error_by_level_png(cells, summary["clean_error"])
    if by_severity is not None:
        files["error_by_severity.png"] = by_severity
        pictures.append(("Top-1 error by severity", "error_by_severity.png"))
    for heatmap, name in zip(results["fourier_heatmaps"], heatmap_names(results["fourier_heatmaps"])):
        files[name] = fourier_heatmap_png(heatmap)
        pictures.append((f"Fourier heat map, norm {heatmap['norm']:g}", name))
    files["report.md"] = report_markdown(results, pictures).encode()
    for name, data in files.items():
        storage.delete([name])  # a killed run's copy: not results until results.json says so
        storage.write_bytes(name, data)
    try:
        storage.write_bytes(RESULTS, (json.dumps(results, indent=2) + "\n").encode())
    except AlreadyExists:
        raise ResultsExist(f"{storage.uri}/{RESULTS}: another evaluation finished here meanwhile; its results "
                           f"stand") from None
    return [*files, RESULTS]


def _csv(cells: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cell in cells:
        writer.writerow({**cell, "params": json.dumps(cell["params"], sort_keys=True),
                         "severity": "" if cell["severity"] is None else cell["severity"],
                         "top1_error": _number(cell["top1_error"]), "top5_error": _number(cell["top5_error"])})
    return buffer.getvalue().encode()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def report_markdown(results: Mapping[str, Any], pictures: list[tuple[str, str]]) -> str:
    model, release, summary = results["model"], results["release"], results["summary"]
    lines = [f"# {model['spec']} on {release['name']} {release['version']}", "",
             f"Release `{release['uri']}` (manifest sha256 `{release['manifest_sha256']}`); model `{model['spec']}`"
             + (f", weights `{model['weights']}`" if model.get("weights") else "") + ". Top-1 error in %.", "",
             "## Summary", "", f"- clean error: {_percent(summary['clean_error'])}",
             f"- mCE: {_percent(summary['mce'])}" + (f" ({summary['mce_reason']})" if summary["mce_reason"] else ""),
             f"- relative mCE: {_percent(summary['relative_mce'])}"
             + (f" ({summary['relative_mce_reason']})" if summary["relative_mce_reason"] else ""), ""]
    for title, name in pictures:
        lines += [f"![{title}]({name})", ""]
    lines += _level_tables(results["cells"])
    lines += _explicit_tables(results["cells"])
    return "\n".join(lines).rstrip() + "\n"


def _family(corruption: str) -> str:
    return ops.get_corruption(corruption).family if corruption in ops.list_corruptions() else "other"


def _level_tables(cells: list[dict[str, Any]]) -> list[str]:
    """Per family: a row per corruption, a column per severity, the mean over severities last."""
    families: dict[str, dict[str, dict[int, float | None]]] = {}
    for cell in cells:
        if cell["severity"] is not None and cell["corruption"] != CLEAN:  # clean: in the summary
            families.setdefault(_family(cell["corruption"]), {}).setdefault(cell["corruption"], {})[
                cell["severity"]] = cell["top1_error"]
    lines = []
    for family, rows in sorted(families.items()):
        levels = sorted({s for row in rows.values() for s in row})
        lines += [f"## {family}", "", "| corruption | " + " | ".join(f"severity {s}" for s in levels) + " | mean |",
                  "|---|" + "---:|" * (len(levels) + 1)]
        for name, row in sorted(rows.items()):
            known = [e for e in row.values() if e is not None]
            mean = sum(known) / len(known) if known else None
            lines.append(f"| {name} | " + " | ".join(_percent(row.get(s)) for s in levels) + f" | {_percent(mean)} |")
        lines.append("")
    return lines


MAX_EXPLICIT_ROWS = 50  # a 63 x 63 heat map is a picture and a matrix in results.json, not a table


def _explicit_tables(cells: list[dict[str, Any]]) -> list[str]:
    """Explicit-parameter cells (sweeps): a table per corruption, or a pointer when it is long."""
    by_corruption: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        if cell["severity"] is None:
            by_corruption.setdefault(cell["corruption"], []).append(cell)
    lines = []
    for name, rows in sorted(by_corruption.items()):
        lines += [f"## {name} (explicit parameters)", ""]
        if len(rows) > MAX_EXPLICIT_ROWS:
            lines += [f"{len(rows)} variants: see results.csv (and the heat map matrix in results.json).", ""]
            continue
        lines += ["| variant | params | top-1 error | top-5 error |", "|---|---|---:|---:|"]
        lines += [f"| {r['variant']} | `{json.dumps(r['params'], sort_keys=True)}` | {_percent(r['top1_error'])} | "
                  f"{_percent(r['top5_error'])} |" for r in rows]
        lines.append("")
    return lines
