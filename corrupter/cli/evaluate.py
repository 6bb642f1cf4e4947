"""``corrupter evaluate RELEASE --model MODEL --out RESULTS_DIR``: a model's errors on every cell."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("evaluate", help="a model's top-1/top-5 errors on every cell of a release, mCE, heat map",
                        description="Evaluate a classifier on a finished release; results.json, results.csv, "
                                    "report.md and plots go to --out. A killed evaluation resumes when rerun.")
    ev.add_argument("release", help="release directory or s3://bucket/prefix/NAME/VERSION")
    ev.add_argument("--model", required=True,
                    help="MODULE:FUNCTION (returns a torch.nn.Module: float (B,3,H,W) in [0,1] -> (B,1000) logits), "
                         "torchvision:NAME or timm:NAME")
    ev.add_argument("--out", required=True, help="results directory or s3:// prefix (must not hold results yet)")
    ev.add_argument("--weights", default=None, help="local state dict for torchvision:/timm: models")
    ev.add_argument("--cells", nargs="+", default=None, metavar="GLOB",
                    help="cells to evaluate: CORRUPTION/VARIANT or CORRUPTION wildcards, e.g. 'fog/[1-3]' clean")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--workers", type=int, default=None, help="actors (default: one per GPU, else one per CPU)")
    ev.add_argument("--address", default=None, help="join a Ray cluster (HOST:PORT, or auto); default: a private "
                                                    "local cluster, or the job's cluster under `ray job submit`")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.run import evaluate

    done = evaluate(args.release, args.model, args.out, weights=args.weights, cells=args.cells,
                    batch_size=args.batch_size, workers=args.workers, address=args.address,
                    progress=not args.no_progress)
    summary = done.summary
    print(f"results   {done.results}/results.json (and results.csv, report.md)")
    print(f"cells     {done.cells} ({done.shards} shards, {done.skipped_shards} counted by an earlier run)")
    print(f"errors    clean {_percent(summary['clean_error'])}, mCE {_percent(summary['mce'])}, "
          f"relative mCE {_percent(summary['relative_mce'])}"
          + (f" ({summary['mce_reason']})" if summary["mce_reason"] else ""))
    if done.images:
        print(f"time      {done.seconds:.1f} s, {done.images} images on {done.workers} {done.device} worker(s), "
              f"{done.images_per_second:.1f} images/s ({done.startup_seconds:.1f} s of it starting Ray and "
              f"the workers)")
        print(f"workers   {done.worker_seconds:.1f} s on shards, {done.forward_seconds:.1f} s of it in the model; "
              f"reading, verifying and decoding added {_overhead(done)}")
    return 0


def _overhead(done) -> str:
    if not done.forward_seconds:
        return "n/a"
    return f"{100 * (done.worker_seconds / done.forward_seconds - 1):.0f}%"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
