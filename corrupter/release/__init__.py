"""What a release is, in one place: its layout, its manifest, the receipts it is built from, how it is
claimed, resumed and committed, how it is verified, and how it is read.

    layout      paths (shards, manifest.json, the _work/ area) and the safe-path rule
    manifest    ReleaseManifest (pydantic, format corrupter-release/1): build, dump, parse, read
    receipts    Receipt: one published shard, written by a worker, read on resume
    lifecycle   claim, completed receipts (resume), commit (create-once manifest), races
    verify      every shard and every count against the manifest (`corrupter verify`)
    reader      open_release: cells and samples, each shard checked while it streams
    errors      what all of the above raise

The builder (pipeline/), `corrupter verify` and `corrupter preview` go through it, and so do the
evaluator and the publisher: nothing else knows where a release keeps what.
"""

from .errors import ManifestError, ReleaseNotFinished, ShardMismatch, ShardMissing
from .reader import Cell, Release, Sample, open_release

__all__ = ["Cell", "ManifestError", "Release", "ReleaseNotFinished", "Sample", "ShardMismatch", "ShardMissing",
           "open_release"]
