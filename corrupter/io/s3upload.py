"""Copying a stream to S3 create-once, checked against the sha256 it must have before it becomes visible.

Up to ``MULTIPART_THRESHOLD`` bytes: the stream is read into memory and hashed; if it is not exactly the
expected bytes nothing is sent (ContentMismatch), else one ``put_object`` carrying ``ChecksumSHA256`` (the
server recomputes it) and ``IfNoneMatch='*'``.

Above it: a multipart upload with ``ChecksumAlgorithm='SHA256'``. Parts of ``PART_SIZE`` are read in order,
hashed into the whole-object sha256, and uploaded ``PART_THREADS`` at a time, each with its own
``ChecksumSHA256`` (the server refuses a part whose bytes differ). Only when the whole stream has the
expected sha256 and size is the upload completed, with ``IfNoneMatch='*'``; otherwise it is aborted and
nothing appears. The object's stored checksum is then the composite one (sha256 of the parts' sha256s,
``-N``), not the whole-object sha256, so the latter goes into its metadata (``x-amz-meta-sha256``), which
``S3Storage.head`` reads back.
"""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from .content import check_content
from .errors import AlreadyExists

MULTIPART_THRESHOLD = 64 * 1024**2  # bytes; below it one PUT (what S3 and boto3 both handle best)
PART_SIZE = 16 * 1024**2  # bytes; 10,000 parts at most: 156 GiB objects
PART_THREADS = 4  # parts in flight per object; one more is read ahead: 5 x PART_SIZE of memory at most
META_SHA256 = "sha256"  # x-amz-meta-sha256: the whole object's sha256 (its checksum is per part)


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def read_exact(fh: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the stream)."""
    chunks, left = [], size
    while left > 0:
        chunk = fh.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def upload_small(storage: Any, key: str, fh: BinaryIO, size: int, sha256: str) -> None:
    where = f"s3://{storage.bucket}/{key}"
    data = read_exact(fh, size + 1)  # one byte more: a longer stream is not the object
    check_content(where, len(data), hashlib.sha256(data).hexdigest(), size, sha256)
    storage._put(key, data, size, sha256, metadata={META_SHA256: sha256})


def upload_multipart(storage: Any, key: str, fh: BinaryIO, size: int, sha256: str, content_type: str) -> None:
    client, bucket, where = storage._client, storage.bucket, f"s3://{storage.bucket}/{key}"
    try:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                                   ContentType=content_type,
                                                   Metadata={META_SHA256: sha256})["UploadId"]
    except (ClientError, BotoCoreError) as exc:
        raise storage._error(exc, key, "CreateMultipartUpload", "s3:PutObject") from None

    def send(number: int, data: bytes) -> dict[str, Any]:
        checksum = b64_sha256(data)
        try:
            answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                                        ContentLength=len(data), ChecksumSHA256=checksum)
        except (ClientError, BotoCoreError) as exc:
            raise storage._error(exc, key, f"UploadPart {number}", "s3:PutObject") from None
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}

    try:
        whole, read, parts = hashlib.sha256(), 0, []
        pending: deque[Future] = deque()
        with ThreadPoolExecutor(PART_THREADS, thread_name_prefix="s3-part") as pool:
            while True:
                data = read_exact(fh, PART_SIZE)
                if not data:
                    break
                whole.update(data)
                read += len(data)
                if read > size:
                    break  # longer than expected: refused below, nothing more is sent
                pending.append(pool.submit(send, len(parts) + len(pending) + 1, data))
                while len(pending) > PART_THREADS or (pending and pending[0].done()):
                    parts.append(pending.popleft().result())
            while pending:
                parts.append(pending.popleft().result())
        check_content(where, read, whole.hexdigest(), size, sha256)
        _complete(storage, key, upload_id, parts, size, sha256)
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            pass  # completed meanwhile, or gone: nothing to abort
        raise


def _complete(storage: Any, key: str, upload_id: str, parts: list[dict[str, Any]], size: int, sha256: str) -> None:
    client, bucket = storage._client, storage.bucket
    try:
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        return
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status == 412 or code in ("PreconditionFailed", "NoSuchUpload"):
            # an earlier attempt of this call may have completed it before its answer was lost
            head = storage.head(storage.rel(key))
            if head is not None and head.size == size and head.sha256 == sha256:
                return
            raise AlreadyExists(f"s3://{bucket}/{key} already exists (objects are create-once)") from None
        raise storage._error(exc, key, "CompleteMultipartUpload", "s3:PutObject") from None
    except BotoCoreError as exc:
        raise storage._error(exc, key, "CompleteMultipartUpload", "s3:PutObject") from None
