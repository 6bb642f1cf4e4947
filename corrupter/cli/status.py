"""``corrupter status RELEASE``: where a release stands, read from its own records (works while the
job runs, after it died, and on a finished release; local or s3://).

Exit status: 0 finished; 1 not finished (running, or stopped: the output says how to resume);
2 error (not a release, unreadable).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

EXIT_UNFINISHED = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser("status", help="progress of a release being built (units, images, rate, ETA, how "
                                           "to resume), or that it is finished",
                            description="exit status: 0 finished, 1 not finished, 2 error")
    status.add_argument("release", help="release directory or s3://bucket/prefix/NAME/VERSION")
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io.redact import redact_urls, refuse_userinfo
    from ..io.storage import open_storage
    from ..pipeline.status import as_json, release_status

    status = release_status(open_storage(refuse_userinfo(args.release, "release")))
    now = time.time()
    if args.json:
        print(redact_urls(as_json(status, now)))
        return 0 if status.finished else EXIT_UNFINISHED
    lines = describe(status, now)
    print(redact_urls("\n".join(lines)))
    return 0 if status.finished else EXIT_UNFINISHED


def describe(status, now: float) -> list[str]:
    lines = [f"release   {status.uri}"]
    if status.finished:
        written = (f"shards    {status.shards_done:,}, {status.images:,} images written "
                   f"({status.quarantined:,} input samples quarantined)")
        lines += [f"state     finished: {status.name} {status.version}, manifest created {status.created}",
                  written, f"check     corrupter verify {status.uri}"]
        return lines
    title = f"{status.name} {status.version}, " if status.name else ""
    lines.append(f"state     not finished: {title}config {status.config_digest}"
                 + (f", started {_when(status.claimed_at)}" if status.claimed_at else ""))
    if status.units_planned is not None:
        lines.append(f"units     {status.units_done:,} of {status.units_planned:,} done, "
                     f"{status.units_planned - status.units_done:,} pending")
        lines.append(f"shards    {status.shards_done:,} of {status.shards_planned:,} published, "
                     f"{status.shards_pending:,} pending")
    else:
        lines.append(f"shards    {status.shards_done:,} published (how many are planned is not recorded)")
    lines.append(f"images    {status.images:,} written")
    if status.last_published_at is None:
        lines.append("progress  no shard published yet")
    else:
        ago = max(now - status.last_published_at, 0)
        rate = (f"{status.images_per_second:,.1f} images/s, {status.shards_per_second:,.2f} shards/s over the "
                f"latest run's {_span(status.window_seconds)}; " if status.images_per_second else "")
        lines.append(f"progress  {rate}last shard published {_span(ago)} ago")
        eta = status.eta_seconds()
        if eta is not None:
            lines.append(f"eta       {_span(eta)} for the {status.shards_pending:,} pending shards at that rate, "
                         f"if the job is still running")
    resume = status.resume_command()
    if resume:
        lines.append(f"resume    {resume}")
        if status.command and status.command[0] == "ray":
            lines.append("          (from the directory it was submitted from, with the cluster's address and token "
                         "exported: deploy/README.md)")
    else:
        lines.append(f"resume    run the same config again (digest {status.config_digest}): no command is "
                     f"recorded (started through the Python API, or by an older corrupter)")
    lines += [f"note      {p}" for p in status.problems]
    return lines


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
