"""What reading, claiming or committing a release fails with. Every one is a StorageError or a
ReleaseExistsError, so the command line reports them all the same way (a message, exit status 2)."""

from __future__ import annotations

from ..io.errors import StorageError


class ManifestError(StorageError):
    """A manifest that is not valid JSON, or does not follow the schema; the message names the field."""


class ReleaseNotFinished(StorageError):
    """No manifest.json at the location: an unfinished release (``corrupter run`` resumes it), or no
    release at all. The message says which."""


class ShardMissing(StorageError):
    """A shard the manifest lists is not in the release."""


class ShardMismatch(StorageError):
    """A shard whose bytes are not the ones the manifest records (sha256, size), or which does not read
    back as the samples it lists. Raised at the end of the shard: its samples may already have been
    yielded by then."""


class ReleaseExistsError(RuntimeError):
    """The release location is taken: a finished release (releases are immutable), an unfinished
    release of another config, or a location inside (or around) another release."""


class ReleaseFinishedElsewhere(ReleaseExistsError):
    """Another run of the same config committed this release while this run was working on it."""
