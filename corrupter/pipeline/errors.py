"""What a job refuses or fails with. Kept apart so the driver, the actor pool and the CLI share them
without importing each other."""

from __future__ import annotations


class ReleaseExistsError(RuntimeError):
    """The release location is taken: a finished release (releases are immutable), an unfinished
    release of another config, or a location inside (or around) another release."""


class ReleaseFinishedElsewhere(ReleaseExistsError):
    """Another run of the same config committed this release while this run was working on it."""


class JobFailed(RuntimeError):
    """A work unit failed too often, or no worker could start; the message says which and why."""


class WorkersCannotStart(JobFailed):
    """The actor pool cannot be placed on the cluster (refused before any work) or did not start in
    time; the message names the run.* field to change and the cluster's resources."""
