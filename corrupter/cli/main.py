"""The ``corrupter`` command: run | status | verify | list | preview | evaluate | publish | releases | diff."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from .. import ops
from . import status

# Exit statuses: 0 done; 1 verify found mismatches, diff found B does not hold A's shards byte for byte,
# or status found the release not finished; 2 error (the message says what); 3 another run of the same
# config finished the release while this one ran.
EXIT_FINISHED_ELSEWHERE = 3


def _cmd_run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..pipeline.driver import run_release

    config = load_config(args.config, args.set)  # every field checked before any work starts
    command, cwd = _command(args)
    summary = run_release(config, address=args.address, progress=not args.no_progress, command=command, cwd=cwd)
    print(f"release   {summary.release}")
    print(f"manifest  {summary.release}/manifest.json")
    print(f"images    {summary.images} written ({summary.quarantined} input samples quarantined)")
    print(f"shards    {summary.shards} ({summary.skipped_units} of {summary.units} units already done)")
    print(f"time      {summary.seconds:.1f} s on {summary.workers} {summary.device} worker(s), "
          f"{summary.images_per_second:.1f} images/s")
    if summary.startup_seconds:
        print(f"          {summary.startup_seconds:.1f} s of it starting Ray and the workers; "
              f"{summary.images_per_second_after_startup:.1f} images/s after that")
    if summary.peak_worker_rss_bytes:
        print(f"memory    peak worker RSS {summary.peak_worker_rss_bytes / 2**20:.0f} MiB")
    return 0


# Set by Ray in the driver of a job given to `ray job submit` (ray.dashboard.modules.job.job_supervisor)
RAY_JOB_MARKER = "RAY_JOB_CONFIG_JSON_ENV_VAR"


def _command(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """This run's command line and directory, recorded in the release's claim so that `corrupter
    status` can say how to resume it: the config by absolute path, every --set and --address as
    given. A submitted Ray job runs in a copy of the working dir that is gone after the job, so it
    is resumed by submitting it again: its entrypoint, config path as given, no directory."""
    if os.environ.get(RAY_JOB_MARKER):
        command = ["ray", "job", "submit", "--working-dir", ".", "--", "corrupter", "run", args.config]
    else:
        command = ["corrupter", "run", os.path.abspath(args.config)]
    for override in args.set:
        command += ["--set", override]
    if args.address:
        command += ["--address", args.address]
    return command, None if os.environ.get(RAY_JOB_MARKER) else os.getcwd()


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..io.redact import refuse_userinfo
    from ..io.storage import open_storage
    from ..pipeline.plan import planned_shards
    from ..release.verify import verify_release

    manifest, problems = verify_release(open_storage(refuse_userinfo(args.release, "release")), planned_shards)
    for p in problems:
        print(f"MISMATCH  {p.path}: {p.problem}")
    total = len(manifest.shards)
    if problems:
        print(f"{len(problems)} problem(s) in {args.release} ({total} shards in the manifest)")
        return 1
    print(f"OK  {total} shards, {manifest.totals.samples} samples match {args.release}/manifest.json")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    names = ops.list_corruptions(args.pattern, args.tag)
    if args.json:
        print(json.dumps({n: _describe(ops.get_corruption(n)) for n in names}, indent=2))
        return 0
    for name in names:
        spec = ops.get_corruption(name)
        tags = ",".join(sorted(spec.tags - {spec.family}))
        print(f"{name}  [{spec.family}{', ' + tags if tags else ''}]  {'random' if spec.stochastic else 'deterministic'}")
        print(f"    {spec.summary}")
        for level, params in zip(spec.level_numbers, spec.levels):
            print(f"    {level}: {_fmt_params(params)}")
        if list(spec.distortion_order) != spec.level_numbers:
            print(f"    levels by distortion, mildest first: {', '.join(map(str, spec.distortion_order))}")
    print(f"\n{len(names)} corruptions; families and tags: {', '.join(ops.list_tags())}")
    return 0


def _describe(spec: ops.CorruptionSpec) -> dict:
    return {"family": spec.family, "tags": sorted(spec.tags), "stochastic": spec.stochastic,
            "summary": spec.summary, "reference": spec.reference, "levels": list(spec.levels),
            "distortion_order": list(spec.distortion_order)}


def _fmt_params(params: dict) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) or "(no parameters)"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"  # 244 * 0.7 reads 170.8, not 170.79999999999998
    if isinstance(value, (list, tuple)):
        if len(value) > 6:
            return f"[{_fmt(value[0])}..{_fmt(value[-1])}] ({len(value)} values)"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _cmd_preview(args: argparse.Namespace) -> int:
    from ..publish.preview import write_preview

    path = write_preview(args.release, args.out, images=args.images, corruptions=args.corruptions)
    print(f"preview   {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corrupter", description=__doc__,
        epilog="exit status: 0 done, 1 verify found mismatches (diff: B does not hold every shard of A "
               "byte for byte; status: the release is not finished), 2 error, 3 another run of the same config "
               "finished the release while this one ran")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every work unit")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="build (or resume) a release from a YAML config")
    run.add_argument("config")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set run.workers=4 (repeatable)")
    run.add_argument("--address", default=None, help="join a Ray cluster (HOST:PORT, or auto for the one `ray start` began here); default: a private local cluster, or the job's cluster under `ray job submit`")
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(func=_cmd_run)

    status.add_parser(sub)

    verify = sub.add_parser("verify", help="re-check every shard of a release against its manifest")
    verify.add_argument("release", help="release directory or s3://bucket/prefix/NAME/VERSION")
    verify.set_defaults(func=_cmd_verify)

    lst = sub.add_parser("list", help="registered corruptions and the parameters of their levels")
    lst.add_argument("pattern", nargs="?", default="*", help="wildcard, e.g. '*blur*'")
    lst.add_argument("--tag", default=None, help="a family or tag, e.g. imagenet-c, noise")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_cmd_list)

    preview = sub.add_parser("preview", help="PNG grid of corruptions x variants from a release")
    preview.add_argument("release")
    preview.add_argument("--out", default="preview.png")
    preview.add_argument("--images", type=int, default=2, help="how many source images")
    preview.add_argument("--corruptions", nargs="*", default=None)
    preview.set_defaults(func=_cmd_preview)

    from . import evaluate
    from .diff import add_diff_command
    from .publish import add_publish_commands

    evaluate.add_parser(sub)
    add_publish_commands(sub)
    add_diff_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..config import ConfigError
    from ..io.errors import StorageError
    from ..io.redact import redact_urls
    from ..pipeline.errors import JobFailed
    from ..release.errors import ReleaseExistsError, ReleaseFinishedElsewhere

    try:
        return args.func(args)
    except ReleaseFinishedElsewhere as exc:  # the release exists and is whole; this run did not make it
        print(f"corrupter {args.command}: {redact_urls(str(exc))}", file=sys.stderr)
        return EXIT_FINISHED_ELSEWHERE
    except (ConfigError, StorageError, ReleaseExistsError, JobFailed, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"corrupter {args.command}: error: {redact_urls(str(message))}", file=sys.stderr)
        return 2
