"""What a job fails with while it runs. Kept apart so the driver, the actor pool and the CLI share them
without importing each other; what the release location refuses is in release/errors.py."""

from __future__ import annotations


class JobFailed(RuntimeError):
    """A work unit failed too often, or no worker could start; the message says which and why."""


class WorkersCannotStart(JobFailed):
    """The actor pool cannot be placed on the cluster (refused before any work) or did not start in
    time; the message names the setting to change (run.* for a release) and the cluster's resources."""


class WorkerDeviceUnavailable(RuntimeError):
    """Raised in an actor given CUDA on a node where torch sees none: it names the node and the setting
    (a worker never computes on the CPU instead)."""
