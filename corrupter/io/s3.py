"""S3-compatible object storage through boto3 (imported only when an ``s3://`` URI is used).

Promises, the same as the local directory's:
- a published object appears complete or not at all and is never overwritten: every object is one
  ``put_object`` carrying ``ChecksumSHA256`` (the server recomputes it and refuses other bytes) and
  ``IfNoneMatch='*'`` (the server refuses to replace an existing key: 412 -> ``AlreadyExists``);
- reads stream: an input shard is never copied whole; a connection lost mid-object is resumed with a
  ranged GET pinned to the object's ETag, so a shard replaced meanwhile is an error, not a mix;
- credentials come only from the standard AWS chain (environment, profile, instance/pod role) and never
  appear in a message: errors name the bucket, the key and the cause.

Retries are botocore's ``standard`` or ``adaptive`` mode (``S3Config.retry_mode``, ``max_attempts`` counts
all attempts, the first included); a 409 ``ConditionalRequestConflict`` (a concurrent conditional write
of the same key) is retried here, since botocore does not.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import posixpath
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    FlexibleChecksumError,
    NoCredentialsError,
    PartialCredentialsError,
)

from .content import ObjectHead
from .errors import (
    AccessDenied,
    AlreadyExists,
    ChangedMeanwhile,
    NotFound,
    StorageError,
    TransientStorageError,
)
from .paths import check_relative
from .redact import redact_urls

log = logging.getLogger(__name__)

SINGLE_PUT_LIMIT = 5 * 1024**3  # bytes; larger objects need multipart, whose SHA-256 is not full-object
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
LIST_PAGE = 1000  # keys per ListObjectsV2 page (the S3 maximum)
CONFLICT_RETRIES = 6  # 409 ConditionalRequestConflict: another conditional write of the key was in flight
RESUME_LIMIT = 8  # reconnects in a row, without progress, while streaming one object

_ACCESS_CODES = {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken",
                 "TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidClientTokenId",
                 "AllAccessDisabled", "403"}
_MISSING_KEY_CODES = {"NoSuchKey", "NotFound", "404"}
_CREDENTIAL_HINT = ("check the credentials of the AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
                    "AWS_SESSION_TOKEN, AWS_PROFILE, or the instance/pod role), the region, and that the "
                    "identity may {perm} here")
_STREAM_ERRORS = (BotoCoreError, urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class ResolvedOptions:
    """S3 settings after filling the gaps from the environment (never holds credentials)."""

    endpoint_url: str | None
    region: str | None
    addressing_style: str
    retry_mode: str
    max_attempts: int
    checksum_calculation: str

    @property
    def where(self) -> str:
        """The endpoint for messages: its URL without user info (a password may be in it)."""
        return redact_urls(self.endpoint_url) if self.endpoint_url else f"AWS S3 ({self.region or 'default region'})"


def resolve_options(s3_options: Any | None) -> ResolvedOptions:
    """``S3Config`` fields win; what it leaves unset comes from the standard AWS environment variables."""
    env = os.environ
    get = (lambda name, default=None: getattr(s3_options, name, default)) if s3_options is not None else (
        lambda name, default=None: default)
    endpoint = get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    region = get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
    if s3_options is not None:
        retry_mode, attempts = get("retry_mode", "standard"), int(get("max_attempts", 8))
        checksum = get("checksum_calculation", "when_supported")
        addressing = get("addressing_style", "auto")
    else:  # e.g. `corrupter verify s3://...`: no config, so the environment decides
        retry_mode = env.get("AWS_RETRY_MODE") if env.get("AWS_RETRY_MODE") in ("standard", "adaptive") else "standard"
        try:
            attempts = max(int(env.get("AWS_MAX_ATTEMPTS", "8")), 1)
        except ValueError:
            attempts = 8
        checksum = env.get("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported").lower()
        if checksum not in ("when_supported", "when_required"):
            checksum = "when_supported"
        addressing = "auto"
    return ResolvedOptions(endpoint, region, addressing, retry_mode, attempts, checksum)


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def make_client(s3_options: Any | None = None):
    """A boto3 S3 client for these options; clients are thread-safe and cached per process.

    The cache key includes a digest of the credential environment variables (so a changed identity gets
    a new client); the variables themselves are not kept.
    """
    opts = resolve_options(s3_options)
    identity = hashlib.sha256("\0".join(os.environ.get(k, "") for k in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")).encode()).hexdigest()
    key = (os.getpid(), opts, identity)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _build_client(opts)
            _clients[key] = client
        return client


def _build_client(opts: ResolvedOptions):
    config = Config(
        retries={"mode": opts.retry_mode, "total_max_attempts": opts.max_attempts},
        s3={"addressing_style": opts.addressing_style},
        request_checksum_calculation=opts.checksum_calculation,
        response_checksum_validation=opts.checksum_calculation,
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session()
    region = opts.region or session.region_name or "us-east-1"
    return session.client("s3", endpoint_url=opts.endpoint_url, region_name=region, config=config)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not uri.startswith("s3://"):
        raise StorageError(f"{uri}: not an s3:// URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise StorageError(f"{uri}: no bucket name (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _b64_sha256(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _redact(text: str) -> str:
    """Belt and braces: no secret from the environment, and no user info of a URL (an endpoint's
    password, which botocore quotes in its own messages), survives into a message."""
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return redact_urls(text)


def _content_type(key: str) -> str:
    return {".json": "application/json", ".tar": "application/x-tar", ".md": "text/markdown",
            ".png": "image/png"}.get(posixpath.splitext(key)[1], "application/octet-stream")


def _code(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code") or status), int(status or 0)


def storage_error(exc: BaseException, bucket: str, key: str, action: str, opts: ResolvedOptions,
                  perm: str = "s3:GetObject") -> StorageError:
    """A StorageError naming the object, the endpoint and the cause, with a hint where one helps."""
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if isinstance(exc, ClientError):
        code, status = _code(exc)
        message = exc.response.get("Error", {}).get("Message") or ""
        if code in _ACCESS_CODES or status == 403:
            detail = {"SignatureDoesNotMatch": "signature mismatch: wrong secret key",
                      "InvalidAccessKeyId": "unknown access key",
                      "AccessDenied": "access denied",
                      "ExpiredToken": "expired session token"}.get(code, "access denied or signature mismatch")
            status_text = f"HTTP 403 {code}" if code != "403" else "HTTP 403"
            return AccessDenied(_redact(f"{where}: {action} refused by {opts.where} ({detail}, {status_text}): "
                                        + _CREDENTIAL_HINT.format(perm=perm)))
        elif code == "NoSuchBucket":
            text = f"{where}: bucket {bucket!r} does not exist at {opts.where}"
        elif code in _MISSING_KEY_CODES or status == 404:
            return NotFound(_redact(f"{where}: not found"))
        elif code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
            text = (f"{where}: {action} refused ({code}): the bytes the server received do not match their "
                    f"sha256; the local file changed or was corrupted in transit")
        elif code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
            text = f"{where}: {action} failed ({code}: {message}); set s3.region / AWS_REGION to the bucket's region"
        elif status >= 500:
            return TransientStorageError(_redact(f"{where}: {action} failed at {opts.where} after retries "
                                                 f"(HTTP {status} {code}: {message})"))
        else:
            text = f"{where}: {action} failed at {opts.where} (HTTP {status} {code}: {message})"
    elif isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        text = (f"{where}: {action}: no usable AWS credentials found ({type(exc).__name__}); set "
                f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance/pod role")
    elif isinstance(exc, EndpointConnectionError):
        return TransientStorageError(
            _redact(f"{where}: {action}: cannot reach {opts.where} after {opts.max_attempts} attempt(s) ({exc})"))
    else:
        text = f"{where}: {action} failed at {opts.where} ({type(exc).__name__}: {exc})"
    return StorageError(_redact(text))


class S3Storage:
    """A flat namespace of immutable objects under ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str = "", s3_options: Any | None = None, *, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._s3_options = s3_options
        self._opts = resolve_options(s3_options)
        self._client = client if client is not None else make_client(s3_options)
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @classmethod
    def from_uri(cls, uri: str, s3_options: Any | None = None) -> S3Storage:
        bucket, prefix = parse_s3_uri(uri)
        return cls(bucket, prefix, s3_options)

    # --- naming -------------------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        rel = check_relative(rel).strip("/")
        return f"{self.prefix}/{rel}" if self.prefix and rel else (self.prefix or rel)

    def rel(self, key: str) -> str:
        """The inverse of ``key``: an object's name under this root."""
        return key[len(self.prefix) + 1:] if self.prefix else key

    def child(self, rel: str) -> S3Storage:
        return S3Storage(self.bucket, self.key(rel), self._s3_options, client=self._client)

    def _error(self, exc: BaseException, key: str, action: str, perm: str = "s3:GetObject") -> StorageError:
        return storage_error(exc, self.bucket, key, action, self._opts, perm)

    # --- reading ------------------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return self.head(rel) is not None

    def read_bytes(self, rel: str) -> bytes:
        with self.open_read(rel) as fh:
            return fh.read()

    def open_read(self, rel: str) -> BinaryIO:
        return open_object(self._client, self.bucket, self.key(rel), self._opts)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Objects at ``prefix`` or below it (as a path, like a directory), relative to the root, sorted."""
        prefix = prefix.strip("/")
        base = self.prefix + "/" if self.prefix else ""
        query = base + prefix
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=query,
                                           PaginationConfig={"PageSize": LIST_PAGE}):
                for item in page.get("Contents", []):
                    rel = item["Key"][len(base):]
                    if prefix and rel != prefix and not rel.startswith(prefix + "/"):
                        continue  # "_work" must not match "_workshop/..."
                    if posixpath.basename(rel).startswith(".") or not rel:
                        continue
                    yield rel
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, query, "LIST", "s3:ListBucket") from None

    # --- writing ------------------------------------------------------------------------------------
    def publish_file(self, local_path: str, rel: str, sha256: str) -> None:
        """One create-once PUT of the file; the server checks the bytes against ``sha256``."""
        key = self.key(rel)
        size = os.path.getsize(local_path)
        if size > SINGLE_PUT_LIMIT:
            raise StorageError(f"s3://{self.bucket}/{key}: {size} bytes exceed the 5 GiB single-PUT limit of S3; "
                               f"lower output.max_shard_bytes and split the input shard")
        with open(local_path, "rb") as body:
            self._put(key, body, size, sha256)

    def write_bytes(self, rel: str, data: bytes) -> None:
        key = self.key(rel)
        self._put(key, data, len(data), hashlib.sha256(data).hexdigest())

    def publish_stream(self, rel: str, fh: BinaryIO, size: int, sha256: str) -> None:
        """Create-once copy of a stream that must be ``size`` bytes with ``sha256``: checked before the
        object becomes visible (ContentMismatch, nothing published); multipart above 64 MiB (s3upload)."""
        from .s3upload import MULTIPART_THRESHOLD, upload_multipart, upload_small

        key = self.key(rel)
        if size <= MULTIPART_THRESHOLD:
            upload_small(self, key, fh, size, sha256)
        else:
            upload_multipart(self, key, fh, size, sha256, _content_type(key))

    def head(self, rel: str) -> ObjectHead | None:
        """Size and, without reading it, the sha256 the store checked at upload: the full-object
        ChecksumSHA256 of a single PUT, or for a multipart object (composite checksum, ``-N``) the
        whole-object sha256 its uploader recorded in its metadata. None if absent."""
        from .s3upload import META_SHA256

        key = self.key(rel)
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            code, status = _code(exc)
            if code in _MISSING_KEY_CODES or status == 404:
                return None
            raise self._error(exc, key, "HEAD") from None
        except BotoCoreError as exc:
            raise self._error(exc, key, "HEAD") from None
        stored, recorded = answer.get("ChecksumSHA256"), (answer.get("Metadata") or {}).get(META_SHA256)
        if stored and "-" not in stored:
            sha256: str | None = base64.b64decode(stored).hex()
        elif stored and recorded and len(recorded) == 64:
            sha256 = recorded.lower()  # its parts were checked; the whole was checked before completing
        else:
            sha256 = None
        return ObjectHead(int(answer.get("ContentLength", 0)), sha256)

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        """The object and its ETag, from one GET; None if absent."""
        key = self.key(rel)
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(), answer["ETag"]
        except ClientError as exc:
            code, status = _code(exc)
            if code in _MISSING_KEY_CODES or status == 404:
                return None
            raise self._error(exc, key, "GET") from None
        except (*_STREAM_ERRORS,) as exc:
            raise self._error(exc, key, "GET") from None

    def replace_tagged(self, rel: str, data: bytes, tag: str | None) -> None:
        """PUT ``data`` if the object still has ETag ``tag`` (``If-Match``), or is still absent when
        ``tag`` is None (``If-None-Match: *``); ChangedMeanwhile when the store says it is not (412),
        or another conditional write of it is in flight (409)."""
        key = self.key(rel)
        condition = {"IfMatch": tag} if tag is not None else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentLength=len(data),
                                    ContentType=_content_type(key),
                                    ChecksumSHA256=_b64_sha256(hashlib.sha256(data).hexdigest()), **condition)
        except ClientError as exc:
            code, status = _code(exc)
            if status in (404, 409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                raise ChangedMeanwhile(f"s3://{self.bucket}/{key} changed since it was read") from None
            raise self._error(exc, key, "PUT", "s3:PutObject") from None
        except BotoCoreError as exc:
            raise self._error(exc, key, "PUT", "s3:PutObject") from None

    def _put(self, key: str, body: Any, size: int, sha256: str, metadata: dict[str, str] | None = None) -> None:
        checksum = _b64_sha256(sha256)
        extra = {"Metadata": metadata} if metadata else {}
        retried = False
        for attempt in range(1, CONFLICT_RETRIES + 1):
            if hasattr(body, "seek"):
                body.seek(0)
            try:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentLength=size,
                                        ContentType=_content_type(key), ChecksumSHA256=checksum, IfNoneMatch="*",
                                        **extra)
                return
            except ClientError as exc:
                code, status = _code(exc)
                retried = retried or exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
                if status == 412 or code == "PreconditionFailed":
                    # Our own earlier attempt may have landed before its response was lost: then the
                    # object holds exactly our bytes and the write is done.
                    if retried and self._stored_sha256(key) == sha256:
                        log.info("s3://%s/%s: an earlier attempt of this PUT had succeeded", self.bucket, key)
                        return
                    raise AlreadyExists(f"s3://{self.bucket}/{key} already exists (objects are create-once)") from None
                if status == 409 or code == "ConditionalRequestConflict":
                    if attempt < CONFLICT_RETRIES:
                        retried = True
                        time.sleep(min(0.1 * 2 ** attempt, 2.0))
                        continue
                raise self._error(exc, key, "PUT", "s3:PutObject") from None
            except BotoCoreError as exc:
                raise self._error(exc, key, "PUT", "s3:PutObject") from None
        raise StorageError(f"s3://{self.bucket}/{key}: PUT kept conflicting with concurrent writes of the same key")

    def _stored_sha256(self, key: str) -> str | None:
        """The stored object's sha256 (hex): from its checksum when the store keeps one, else by reading it."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError):
            return None
        stored = head.get("ChecksumSHA256")
        if stored and "-" not in stored:
            return base64.b64decode(stored).hex()
        digest = hashlib.sha256()
        try:
            with open_object(self._client, self.bucket, key, self._opts) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except StorageError:
            return None
        return digest.hexdigest()

    def delete(self, rels: list[str]) -> None:
        keys = [self.key(rel) for rel in rels]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, batch[0], f"DELETE ({len(batch)} objects)", "s3:DeleteObject") from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(f"s3://{self.bucket}: {len(errors)} of {len(batch)} deletions failed, e.g. "
                                   f"{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip())


class _ObjectStream(io.RawIOBase):
    """The body of one GET, resumed with a ranged GET (pinned to the ETag) when the connection drops."""

    def __init__(self, client: Any, bucket: str, key: str, opts: ResolvedOptions) -> None:
        super().__init__()
        self._client, self.bucket, self.key, self._opts = client, bucket, key, opts
        self._pos = 0
        self._size: int | None = None
        self._etag: str | None = None
        self._body: Any = None
        self._resumed = self._checked = False
        self._open()

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self._pos:
            kwargs["Range"] = f"bytes={self._pos}-"
        if self._etag:
            kwargs["IfMatch"] = self._etag
        try:
            response = self._client.get_object(**kwargs)
        except ClientError as exc:
            code, status = _code(exc)
            if self._etag and (status == 412 or code == "PreconditionFailed"):
                raise StorageError(f"s3://{self.bucket}/{self.key}: the object was replaced while being read") from None
            raise storage_error(exc, self.bucket, self.key, "GET", self._opts) from None
        except BotoCoreError as exc:
            raise storage_error(exc, self.bucket, self.key, "GET", self._opts) from None
        etag = response.get("ETag")
        if self._etag and etag and etag != self._etag:  # a store that ignores If-Match: compare ourselves
            response["Body"].close()
            raise StorageError(f"s3://{self.bucket}/{self.key}: the object was replaced while being read "
                               f"(ETag {self._etag} became {etag})")
        self._body = response["Body"]
        self._etag = self._etag or etag
        if self._size is None:
            self._size = int(response.get("ContentLength", 0))
        elif not response.get("ContentRange"):  # a store that ignored Range sent the object from byte 0
            self._skip(self._pos)

    def readable(self) -> bool:
        return True

    def _skip(self, count: int) -> None:
        scratch = bytearray(1 << 16)
        while count > 0:
            n = self._body.readinto(memoryview(scratch)[:min(count, len(scratch))])
            if not n:
                raise EOFError(f"connection closed while skipping to byte {self._pos}")
            count -= n

    def _check_full_object(self) -> None:
        """At the end of an unbroken GET, let botocore compare the bytes with the object's stored
        checksum (it asks for it when response_checksum_validation is when_supported)."""
        if self._checked or self._resumed or self._body is None:
            return
        self._checked = True
        try:
            self._body.readinto(bytearray(1))  # EOF: botocore validates here
        except FlexibleChecksumError as exc:
            raise StorageError(f"s3://{self.bucket}/{self.key}: the bytes read do not match the object's stored "
                               f"checksum ({exc})") from None
        except _STREAM_ERRORS:
            pass  # every byte has arrived; a connection that breaks now costs nothing

    def readinto(self, buffer: Any) -> int:
        if self._size is not None and self._pos >= self._size:
            self._check_full_object()
            return 0
        failures = 0
        while True:
            try:
                if self._body is None:
                    self._open()  # resume: a ranged GET from the first byte not yet read
                n = self._body.readinto(buffer)
                if n == 0 and len(buffer) and self._pos < (self._size or 0):
                    raise EOFError(f"connection closed at byte {self._pos} of {self._size}")
                self._pos += n
                return n
            except (*_STREAM_ERRORS, EOFError) as exc:
                failures += 1
                if failures > RESUME_LIMIT:
                    raise TransientStorageError(_redact(
                        f"s3://{self.bucket}/{self.key}: reading failed at byte {self._pos} of {self._size} after "
                        f"{RESUME_LIMIT} reconnects ({type(exc).__name__}: {exc})")) from None
                log.info("s3://%s/%s: stream broke at byte %d (%s); resuming", self.bucket, self.key, self._pos,
                         type(exc).__name__)
                self._close_body()
                self._resumed = True
                time.sleep(min(0.05 * 2 ** failures, 2.0))

    def _close_body(self) -> None:
        if self._body is not None:
            try:
                self._body.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail again
                pass
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


def open_object(client: Any, bucket: str, key: str, opts: ResolvedOptions) -> BinaryIO:
    """A buffered, readable binary stream of one object (streams; never a full local copy)."""
    return io.BufferedReader(_ObjectStream(client, bucket, key, opts), buffer_size=1 << 20)  # type: ignore[return-value]


def open_s3_object(uri: str, s3_options: Any | None = None) -> BinaryIO:
    """A readable binary stream of ``s3://bucket/key``, suitable for ``tarfile.open(mode='r|*')``."""
    bucket, key = parse_s3_uri(uri)
    if not key:
        raise StorageError(f"{uri}: no object key (expected s3://bucket/path/shard.tar)")
    return open_object(make_client(s3_options), bucket, key, resolve_options(s3_options))
