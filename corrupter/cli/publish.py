"""`corrupter publish RELEASE DEST` and `corrupter releases OUTPUT/NAME`."""

from __future__ import annotations

import argparse


def _cmd_publish(args: argparse.Namespace) -> int:
    from ..publish.copy import publish_release
    from ..release.catalogue import read_catalogue

    summary = publish_release(args.release, args.dest)
    if summary.already_published:
        print(f"published {summary.destination} already holds this release (the same manifest)")
    else:
        rate = summary.bytes_copied / summary.seconds / 1e6 if summary.seconds else 0.0
        print(f"published {summary.destination}")
        print(f"objects   {summary.copied} copied, {summary.skipped} already there with the right bytes "
              f"({summary.bytes_copied / 1e6:.1f} MB in {summary.seconds:.1f} s, {rate:.1f} MB/s)")
    benchmark = summary.destination.rsplit("/", 1)[0]
    latest = read_catalogue(_storage(benchmark)).latest
    print(f"catalogue {benchmark}/index.json: {'recorded' if summary.catalogued else 'already listed'} "
          f"(latest {latest})")
    return 0


def _storage(uri: str):
    from ..io.storage import open_storage

    return open_storage(uri.rstrip("/"))


def _cmd_releases(args: argparse.Namespace) -> int:
    import json

    from ..release.catalogue import read_catalogue

    catalogue = read_catalogue(_storage(args.benchmark))
    if args.json:
        print(json.dumps(catalogue.model_dump(), indent=2))
        return 0
    rows = [("VERSION", "CREATED", "SHARDS", "SAMPLES", "MB", "CORRUPTIONS", "MANIFEST SHA256")]
    for entry in reversed(catalogue.versions):  # newest first
        names = ", ".join(entry.corruptions)
        rows.append((entry.version + (" (latest)" if entry.version == catalogue.latest else ""), entry.created,
                     str(entry.totals.shards), str(entry.totals.samples), f"{entry.totals.bytes / 1e6:.1f}",
                     f"{len(entry.corruptions)}: {names if len(names) <= 60 else names[:57] + '...'}",
                     entry.manifest_sha256[:16]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\n{len(catalogue.versions)} version(s) of {catalogue.name}; latest {catalogue.latest}")
    return 0


def add_publish_commands(sub: argparse._SubParsersAction) -> None:
    publish = sub.add_parser(
        "publish", help="copy a finished release to DEST/NAME/VERSION (local or s3://), checked against its "
                        "manifest, manifest last; a rerun completes a partial copy",
        description="Copy a finished release to DEST/NAME/VERSION and record it in DEST/NAME/index.json. "
                    "Refused: a source without manifest.json (unfinished), an object whose bytes differ from "
                    "the manifest (named; nothing of it is published), and a destination holding a different "
                    "release (another manifest, other bytes under a name, objects it does not list, or an "
                    "unfinished build). S3 endpoint and credentials come from the AWS environment.")
    publish.add_argument("release", help="the release: a directory or s3://bucket/prefix/NAME/VERSION")
    publish.add_argument("dest", help="an output root like output.uri (a directory or s3://bucket/prefix)")
    publish.set_defaults(func=_cmd_publish)

    releases = sub.add_parser("releases", help="the versions of a benchmark (OUTPUT/NAME/index.json) as a table")
    releases.add_argument("benchmark", help="OUTPUT/NAME: a directory or s3://bucket/prefix/NAME")
    releases.add_argument("--json", action="store_true", help="print index.json as it is")
    releases.set_defaults(func=_cmd_releases)
