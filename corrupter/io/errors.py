"""What storage operations fail with; kept apart so both backends (storage.py, s3.py) and every
caller share them without importing each other."""

from __future__ import annotations


class AlreadyExists(FileExistsError):
    """A create-once write found the object already there."""


class StorageError(RuntimeError):
    """A storage operation failed; the message names the object and the cause."""


class TransientStorageError(StorageError):
    """A failure that may pass (endpoint unreachable, connection kept breaking, 5xx): worth a retry."""


class AccessDenied(StorageError):
    """The store refused the request (HTTP 403: permissions or credentials)."""


class NotFound(StorageError):
    """The object does not exist (as opposed to: it could not be read, e.g. access denied)."""


class ContentMismatch(StorageError):
    """Bytes being copied are not the ones expected (sha256 or size): nothing of them was published."""


class ChangedMeanwhile(StorageError):
    """A compare-and-swap write lost: the object changed (or appeared, or went) since it was read."""
