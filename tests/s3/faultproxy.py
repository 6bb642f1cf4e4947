"""A small fault-injecting HTTP reverse proxy for S3 tests, on 127.0.0.1.

It sits between boto3 and the real S3 server and, on a seeded fraction of requests, misbehaves the way
networks and busy stores do:

- ``reset_before``: the connection is reset before the request reaches the server (no side effect);
- ``reset_after``: the request is forwarded (and takes effect), then the connection is reset instead of
  answering: the client retries a request that has already succeeded (a create-once PUT then sees 412);
- ``truncate``: an object GET answers its headers and part of the body, then resets;
- ``slowdown``: 503 SlowDown with an S3 XML error body (not forwarded);
- ``conflict``: 409 ConditionalRequestConflict (not forwarded), as S3 answers concurrent conditional writes;
- ``delay``: the answer comes ``delay_s`` late;
- ``corrupt``: an object GET answers with one byte flipped (what a checksum must catch).

Decisions come from ``random.Random(seed)`` in arrival order; ``plan`` fixes the faults of the first
requests exactly. Bounded: at most ``max_faults`` faults, and the proxy stops by itself after
``lifetime_s`` seconds. Request headers go upstream unchanged (Host included), so SigV4 signatures made
for the proxy's address still verify.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable
from urllib.parse import urlsplit

KINDS = ("reset_before", "reset_after", "truncate", "slowdown", "conflict", "delay", "corrupt")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect"}


def _error_xml(code: str, message: str, request_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>").encode()


class _Reset(Exception):
    pass


class FaultProxy:
    def __init__(self, upstream: str, *, seed: int = 0, rates: dict[str, float] | None = None,
                 plan: Iterable[str | None] = (), delay_s: float = 0.5, max_faults: int = 1000,
                 lifetime_s: float = 600.0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rates = dict(rates or {})
        unknown = set(self.rates) - set(KINDS)
        if unknown or sum(self.rates.values()) > 1:
            raise ValueError(f"rates: unknown kinds {sorted(unknown)} or a total above 1")
        self.plan = list(plan)
        self.delay_s, self.max_faults, self.lifetime_s = delay_s, max_faults, lifetime_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, fault)
        self._server: ThreadingHTTPServer | None = None
        self._endpoint = ""
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._endpoint = f"http://{host}:{port}"
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="faultproxy", daemon=True)
        serve.start()
        timer = threading.Timer(self.lifetime_s, self.stop)
        timer.daemon = True
        timer.start()
        self._threads = [serve]
        self._timer = timer
        return self

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        self._timer.cancel()
        server.shutdown()
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- decisions ----------------------------------------------------------------------------------
    def decide(self, method: str, path: str) -> str | None:
        with self._lock:
            self.requests += 1
            if self.plan:
                fault = self.plan.pop(0)
            else:
                draw, fault, acc = self._rng.random(), None, 0.0
                for kind in KINDS:
                    acc += self.rates.get(kind, 0.0)
                    if draw < acc:
                        fault = kind
                        break
            if fault is not None and sum(self.faults.values()) >= self.max_faults:
                fault = None
            is_object_get = method == "GET" and "?" not in path
            if fault == "truncate" and not is_object_get:
                fault = "reset_after"
            if fault == "conflict" and method != "PUT":
                fault = "slowdown"
            if fault == "corrupt" and not is_object_get:
                fault = None
            if fault is not None:
                self.faults[fault] += 1
            self.log.append((method, path, fault))
            return fault


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (_Reset, ConnectionError, ValueError, OSError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._proxy()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        """Abort the client connection with a TCP RST (SO_LINGER 0), as a dropped connection looks."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.wfile, self.rfile):
            try:
                stream.close()
            except OSError:
                pass
        self.connection.close()
        self.close_connection = True
        raise _Reset()

    def _answer_error(self, status: int, code: str, message: str) -> None:
        body = b"" if self.command == "HEAD" else _error_xml(code, message, f"faultproxy-{self.owner.requests}")
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def _proxy(self) -> None:
        body = self._read_body()
        fault = self.owner.decide(self.command, self.path)
        if fault == "reset_before":
            self._reset()
        if fault == "slowdown":
            return self._answer_error(503, "SlowDown", "Please reduce your request rate.")
        if fault == "conflict":
            return self._answer_error(409, "ConditionalRequestConflict",
                                      "A conflicting conditional operation is currently in progress against "
                                      "this resource. Please try again.")
        upstream = http.client.HTTPConnection(self.owner.upstream_host, self.owner.upstream_port, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    upstream.putheader(name, value)
            if body or self.command in ("PUT", "POST"):
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            payload = response.read()
            headers = response.getheaders()
            status, reason = response.status, response.reason
        finally:
            upstream.close()
        if fault == "reset_after":
            self._reset()
        if fault == "delay":
            time.sleep(self.owner.delay_s)
        if fault == "corrupt" and payload:
            middle = len(payload) // 2
            payload = payload[:middle] + bytes([payload[middle] ^ 0xFF]) + payload[middle + 1:]
        self.send_response(status, reason)
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP or (lower == "content-length" and self.command != "HEAD"):
                continue
            if lower in ("server", "date"):
                continue  # send_response adds its own
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault == "truncate" and len(payload) > 64:
            self.wfile.write(payload[: len(payload) // 3])
            self.wfile.flush()
            self._reset()
        self.wfile.write(payload)
