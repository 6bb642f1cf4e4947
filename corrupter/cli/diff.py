"""`corrupter diff A B`: what differs between two releases (their manifests).

Exit status: 0 when B holds every shard of A with the same bytes (identical, or a superset); 1 when
some shard of A has other bytes in B or is missing from it; 2 on an error. Metadata files (the card,
croissant.json, ...) are listed but do not decide it: they name their version.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

EXIT_NOT_A_SUPERSET = 1


def _cmd_diff(args: argparse.Namespace) -> int:
    from ..io.storage import open_storage
    from ..release.diff import diff_releases
    from ..release.layout import MANIFEST
    from ..release.manifest import read_manifest

    a, b = (read_manifest(open_storage(uri.rstrip("/"))) for uri in (args.a, args.b))
    diff = diff_releases(a, b, f"{args.a}/{MANIFEST}", f"{args.b}/{MANIFEST}")
    print(f"A  {args.a}  ({a.name} {a.version}, {a.totals.shards} shards)")
    print(f"B  {args.b}  ({b.name} {b.version}, {b.totals.shards} shards)")
    _section("config", [f"{name}: {_show(x)} -> {_show(y)}" for name, x, y in diff.config])
    _section("software", [f"{name}: {x or '(absent)'} -> {y or '(absent)'}" for name, x, y in diff.software])
    _section("cells added", diff.cells_added)
    _section("cells removed", diff.cells_removed)
    _section("shards with different bytes", diff.changed, limit=args.limit)
    _section("shards added", diff.added, limit=args.limit)
    _section("shards removed", diff.removed, limit=args.limit)
    _section("metadata files with different bytes", diff.files_changed, limit=args.limit)
    _section("metadata files added", diff.files_added, limit=args.limit)
    _section("metadata files removed", diff.files_removed, limit=args.limit)
    print(diff.verdict("A", "B"))
    return 0 if diff.b_holds_a else EXIT_NOT_A_SUPERSET


def _show(value: Any) -> str:
    text = value if isinstance(value, str) and value == "(absent)" else json.dumps(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _section(title: str, lines: list[str], limit: int = 0) -> None:
    if not lines:
        return
    print(f"{title} ({len(lines)}):")
    shown = lines if not limit or len(lines) <= limit else lines[:limit]
    for line in shown:
        print(f"  {line}")
    if len(shown) < len(lines):
        print(f"  ... and {len(lines) - len(shown)} more (--limit 0 lists all)")


def add_diff_command(sub: argparse._SubParsersAction) -> None:
    diff = sub.add_parser(
        "diff", help="what differs between two releases: config, software, cells, shards' bytes",
        description="Compare two releases by their manifests: config fields (dotted names), software versions, "
                    "cells added and removed, shards (and metadata files) whose bytes differ. The last line is "
                    "the verdict. Exit status 0: B holds every shard of A with the same bytes (identical or a "
                    "superset); 1: it does not; 2: error (e.g. a location without manifest.json).")
    diff.add_argument("a", help="release A (directory or s3://.../NAME/VERSION)")
    diff.add_argument("b", help="release B")
    diff.add_argument("--limit", type=int, default=20, help="paths listed per section (0: all)")
    diff.set_defaults(func=_cmd_diff)
