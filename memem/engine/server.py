"""The engine's socket: accepts requests from this user's clients and answers them with the
warm store (memem.engine.handlers), each on a worker thread.

The socket file is made 0600 inside a 0700 directory, and every connection's peer uid is
checked (SO_PEERCRED, LOCAL_PEERCRED): another user on the machine is refused even where the
directory's mode would let them in. Requests come before background work: the engine's
background threads (mining, reconciling) yield the interpreter every half millisecond.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from memem.engine import protocol
from memem.errors import MememError

log = logging.getLogger("memem.engine")

WORKERS: Final = 4
# A client sends its whole request at once; one that stalls is cut off, not waited for.
READ_SECONDS: Final = 10.0
SWITCH_INTERVAL: Final = 0.0005
YIELD_SECONDS: Final = 2.0
# The engine's own time per request (read, work, answer) is kept for this many recent
# requests of each kind, for `status` (request_ms) and the benchmarks.
TIMED_REQUESTS: Final = 1000


class Refused(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Server:
    """Listens on `path`; `handle(op, args, env, body)` does the work (memem.engine.handlers)
    and returns the response body. `code` is this process's code digest: a client with other
    code is answered `version`, and `on_stale(its code)` is called (the engine decides
    whether to make way)."""

    def __init__(
        self,
        path: str,
        handle: Callable[[str, dict[str, Any], dict[str, str], bytes], bytes],
        *,
        code: str,
        on_stale: Callable[[str], None],
    ) -> None:
        self.path = path
        self.code = code
        self._handle = handle
        self._on_stale = on_stale
        self._sock: socket.socket | None = None
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="memem-request")
        self._closing = threading.Event()
        self.served = 0
        # Requests accepted and not yet answered: background work waits while there are any.
        self._in_flight = 0
        self._quiet = threading.Condition()
        self._inode = 0
        self._times: dict[str, deque[tuple[float, float]]] = {}

    def bind(self) -> None:
        """Create the socket (the caller holds the engine lock, so a socket file left by a
        dead engine is stale and replaced)."""
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not protocol.safe_dir(directory):
            with contextlib.suppress(OSError):
                if os.lstat(directory).st_uid == os.getuid() and not os.path.islink(directory):
                    os.chmod(directory, 0o700)
            if not protocol.safe_dir(directory):
                raise OSError(f"{directory} is not a private directory of this user")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino
        sock.listen(64)
        self._sock = sock
        sys.setswitchinterval(SWITCH_INTERVAL)

    def serve(self) -> threading.Thread:
        """Accept connections on a thread until `close`."""
        thread = threading.Thread(target=self._accept, name="memem-accept", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop accepting, let the requests in flight finish, remove the socket file."""
        self._closing.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        self._pool.shutdown(wait=True, cancel_futures=False)
        with contextlib.suppress(OSError):
            # Only our own file: a new engine may already listen at the same path.
            if self._sock is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closing.is_set():
                    return
                log.exception("accept failed")
                continue
            with self._quiet:
                self._in_flight += 1
            try:
                self._pool.submit(self._serve_one, conn)
            except RuntimeError:  # the pool shut down between accept and submit
                self._done()
                conn.close()

    def _done(self) -> None:
        with self._quiet:
            self._in_flight -= 1
            if not self._in_flight:
                self._quiet.notify_all()

    def yield_to_requests(self) -> None:
        """Background work (reconciling, mining) calls this between steps: it waits while
        requests are being answered, so that a prompt never shares the interpreter with it;
        at most YIELD_SECONDS, so that a stream of requests cannot starve it."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._in_flight == 0, timeout=YIELD_SECONDS)

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            self._serve_connection(conn)
        finally:
            self._done()

    def _serve_connection(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(READ_SECONDS)
                if peer_uid(conn) not in (None, os.getuid()):
                    log.warning("refused a connection from another user")
                    return
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    head, body = read_request(conn)
                except ValueError as exc:  # no header line, or over the limits: say so
                    conn.sendall(_error("invalid", f"malformed request: {exc}"))
                    return
                answer, kind = self._answer(head, body)
                conn.sendall(answer)
                self._time(kind, time.perf_counter() - started, time.thread_time() - cpu)
            except OSError:
                log.info("a client went away mid-request")
            except Exception:
                log.exception("request failed")

    def _time(self, kind: str, seconds: float, cpu_seconds: float) -> None:
        times = self._times.get(kind)
        if times is None:
            times = self._times.setdefault(kind, deque(maxlen=TIMED_REQUESTS))
        times.append((seconds * 1000, cpu_seconds * 1000))

    def request_ms(self) -> dict[str, dict[str, float]]:
        """Per kind of request (the op; `hook <event>` for hooks), over the last
        TIMED_REQUESTS: count; p50, p95 and max of the engine's own wall time in ms; p50 and
        p95 of the CPU time of the thread that answered (cpu_p50, cpu_p95: what the request
        costs whatever the machine's load)."""
        summary = {}
        for kind, times in list(self._times.items()):
            wall = sorted(t[0] for t in times)
            cpu = sorted(t[1] for t in times)
            summary[kind] = {
                "count": len(wall),
                "p50": _at(wall, 50),
                "p95": _at(wall, 95),
                "max": round(wall[-1], 2),
                "cpu_p50": _at(cpu, 50),
                "cpu_p95": _at(cpu, 95),
            }
        return summary

    def _answer(self, head: bytes, body: bytes) -> tuple[bytes, str]:
        """The response and the kind of request it answered (for `request_ms`)."""
        kind = "refused"
        try:
            request = json.loads(head)
            if not isinstance(request, dict) or request.get("v") != protocol.VERSION:
                raise Refused("version", f"protocol {protocol.VERSION} expected")
            if request.get("code") != self.code:
                self._on_stale(str(request.get("code")))
                raise Refused("version", "the engine runs other code")
            op, args, env = request.get("op"), request.get("args"), request.get("env")
            if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(env, dict):
                raise Refused("invalid", "a request needs op, args and env")
            kind = f"hook {args.get('event')}" if op == "hook" else op
            result = self._handle(op, args, {str(k): str(v) for k, v in env.items()}, body)
            self.served += 1
            return b'{"ok":true}\n' + result, kind
        except Refused as exc:
            return _error(exc.kind, str(exc)), kind
        except MememError as exc:
            return _error("memem", str(exc), type(exc).__name__), kind
        except ValueError as exc:
            return _error("invalid", f"malformed request: {exc}"), kind
        except Exception as exc:
            log.exception("request failed")
            return _error(
                "internal", f"{type(exc).__name__}; details are in the engine's log"
            ), kind


def _at(ordered: list[float], percent: int) -> float:
    return round(ordered[min(len(ordered) - 1, len(ordered) * percent // 100)], 2)


def _error(kind: str, message: str, error_type: str = "") -> bytes:
    head: dict[str, Any] = {"ok": False, "error": kind, "message": message}
    if error_type:
        head["type"] = error_type
    return json.dumps(head, separators=(",", ":")).encode("utf-8") + b"\n"


def read_request(conn: socket.socket) -> tuple[bytes, bytes]:
    """The request's header line and body (bounded: a request over the limits is refused)."""
    data = bytearray()
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > protocol.MAX_HEADER + protocol.MAX_BODY:
            raise ValueError("request too large")
    head, newline, body = bytes(data).partition(b"\n")
    if not newline or len(head) > protocol.MAX_HEADER:
        raise ValueError("request without a header line")
    return head, body


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end, where the platform says (Linux, macOS)."""
    if hasattr(socket, "SO_PEERCRED"):
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    local_peercred = getattr(socket, "LOCAL_PEERCRED", 0x001)
    if sys.platform == "darwin":
        creds = conn.getsockopt(0, local_peercred, struct.calcsize("2I") + 2 + 16 * 4)
        return int(struct.unpack_from("2I", creds)[1])
    return None
