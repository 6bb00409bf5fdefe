"""A fake Anthropic Messages API on 127.0.0.1, for the whole test suite.

Real clients talk to it over real HTTP: the `anthropic` SDK (memem's miner) and the Claude
Code CLI (the end-to-end suite). Nothing here mocks a client.

    with FakeAnthropic() as api:                      # a free port on 127.0.0.1
        api.reply_json({"memories": [...]})           # the script, consumed in order
        api.fail(429, retry_after=7)
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=api.url, max_retries=0)
        ...
        api.message_requests[0].body["model"]         # what the client sent

Script steps (each consumed by one `POST /v1/messages`; others never consume the script):

    reply_text(text)          a text reply
    reply_json(obj)           a text reply holding `json.dumps(obj)`
    reply_content(blocks)     raw content blocks (`text`, `tool_use`), e.g. to drive the CLI
    fail(status, retry_after=None, times=1)
                              an error in Anthropic's shape (`{"type": "error", "error":
                              {"type", "message"}}`), with a `retry-after` header if asked
    hang(seconds)             answer (the default reply) only after `seconds`, which a test
                              makes longer than the client's timeout; `close()` cuts it short
    malformed()               a 200 whose body is not JSON (an HTML page sent as JSON)
    raw(body, content_type)   a 200 with exactly this body and Content-Type (e.g. an HTML
                              error page from a proxy, `text/html`)
    truncated()               a 200 that declares a full body, sends half of it and closes the
                              connection (for `stream: true`: the event stream stops midway)

When the script is empty the reply is `respond(request_body)` when a `respond` function was
given (a reply that depends on what was asked, e.g. for a daemon killed and restarted at
random points), else `default` (`{"memories": []}` unless given). `replied` counts the
replies sent, and `wait_replied(n)` waits for them (`tests.waiting.wait_until`).

Both request modes are served: `stream: false` gets one JSON message (`id`, `type:
"message"`, `role`, `model`, `content`, `stop_reason`, `stop_sequence`, `usage`), `stream:
true` gets server-sent events with chunked encoding (`message_start`, `content_block_start`,
`ping`, `content_block_delta` with `text_delta` or `input_json_delta`, `content_block_stop`,
`message_delta`, `message_stop`).

Other routes: `POST /v1/messages/count_tokens` -> `{"input_tokens": n}`; `HEAD` on any path
and `GET /`, `/api/hello`, `/v1/models` -> 200 (connectivity probes); `CONNECT` -> 403 (a
dead-end proxy for `HTTPS_PROXY`, so nothing leaves the machine); anything else -> 404 in
Anthropic's error shape. The `?beta=true` query the CLI adds is ignored.

Every request is recorded in `requests` (thread-safe copies) with its method, path, headers
(the `x-api-key` and `authorization` values replaced by "<redacted>") and parsed JSON body;
`message_requests` keeps the `POST /v1/messages` ones and `wait_for(n)` waits for them without
sleeping. `close()` (or leaving the `with` block) wakes hung replies, closes open connections
and joins the server thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

from tests.waiting import wait_until

DEFAULT_REPLY: Final = '{"memories": []}'
REDACTED: Final = "<redacted>"
PROBE_PATHS: Final = frozenset({"/", "/api/hello", "/v1/models"})
ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_SECRET_HEADERS: Final = frozenset({"x-api-key", "authorization", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the fake server received it."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lowercase names; secrets redacted
    body: Any  # parsed JSON, the raw text if it was not JSON, None if empty


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # "content" | "error" | "hang" | "malformed" | "truncated" | "raw"
    content: tuple[dict[str, Any], ...] = ()
    stop_reason: str = "end_turn"
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    body: bytes = b""
    content_type: str = ""
    usage: tuple[tuple[str, int], ...] = ()


@dataclass
class _State:
    default: str
    script: deque[_Step] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)
    connections: set[socket.socket] = field(default_factory=set)
    counter: int = 0
    respond: Callable[[dict[str, Any]], str] | None = None
    replied: int = 0


class FakeAnthropic:
    """The fake Messages API. Use as a context manager; see the module docstring."""

    def __init__(
        self,
        *,
        default: str = DEFAULT_REPLY,
        respond: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self._state = _State(default=default, respond=respond)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self._state
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-anthropic",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> FakeAnthropic:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving: wake hung replies, close open connections, join the thread."""
        state = self._state
        if state.stopping.is_set():
            return
        state.stopping.set()
        self._server.shutdown()
        with state.lock:
            connections = list(state.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server.join_handlers(timeout=10)

    # -- the script -------------------------------------------------------------------------

    def reply_text(self, text: str, *, usage: dict[str, int] | None = None) -> FakeAnthropic:
        return self.reply_content([{"type": "text", "text": text}], usage=usage)

    def reply_json(self, obj: object, *, usage: dict[str, int] | None = None) -> FakeAnthropic:
        return self.reply_text(json.dumps(obj), usage=usage)

    def reply_content(
        self,
        blocks: list[dict[str, Any]],
        *,
        stop_reason: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> FakeAnthropic:
        """Raw content blocks: `{"type": "text", "text"}` or `{"type": "tool_use", "name",
        "input"}` (an `id` is made up when missing). `stop_reason` defaults to "tool_use"
        when a block is a tool call, else "end_turn". `usage` overrides the reply's usage
        fields (by default estimated from the request and reply, no cache tokens)."""
        uses_tool = any(b.get("type") == "tool_use" for b in blocks)
        reason = stop_reason or ("tool_use" if uses_tool else "end_turn")
        spent = tuple((usage or {}).items())
        return self._push(_Step("content", content=tuple(blocks), stop_reason=reason, usage=spent))

    def fail(
        self, status: int, *, retry_after: float | None = None, times: int = 1
    ) -> FakeAnthropic:
        for _ in range(times):
            self._push(_Step("error", status=status, retry_after=retry_after))
        return self

    def hang(self, seconds: float) -> FakeAnthropic:
        return self._push(_Step("hang", delay=seconds))

    def malformed(self) -> FakeAnthropic:
        return self._push(_Step("malformed"))

    def truncated(self) -> FakeAnthropic:
        return self._push(_Step("truncated"))

    def raw(self, body: bytes, content_type: str = "text/html") -> FakeAnthropic:
        return self._push(_Step("raw", body=body, content_type=content_type))

    def _push(self, step: _Step) -> FakeAnthropic:
        with self._state.lock:
            self._state.script.append(step)
        return self

    # -- what was received ------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def message_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    @property
    def replied(self) -> int:
        with self._state.lock:
            return self._state.replied

    def wait_replied(self, count: int, *, timeout: float = 10.0) -> None:
        """Wait until `count` complete replies to `POST /v1/messages` were sent."""
        wait_until(lambda: self.replied >= count, timeout=timeout, what=f"{count} replies sent")

    @property
    def pending(self) -> int:
        """Script steps not consumed yet."""
        with self._state.lock:
            return len(self._state.script)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Recorded]:
        """Wait until `count` message requests arrived (AssertionError after `timeout`)."""
        wait_until(
            lambda: len(self.message_requests) >= count,
            timeout=timeout,
            what=f"{count} message requests",
        )
        return self.message_requests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._handlers: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self._handlers = [t for t in self._handlers if t.is_alive()]
        self._handlers.append(thread)
        thread.start()

    def join_handlers(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._handlers):
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.state.lock:
            self.server.state.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the peer went away first
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stderr noise in test output; `requests` is the log

    # -- routing ----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._record(None)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self._record(None)
        if path == "/v1/models":
            models = [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Haiku"}]
            self._json(200, {"data": models, "has_more": False})
        elif path in PROBE_PATHS:
            self._json(200, {})
        else:
            self._error(404, f"{self.command} {path} not found")

    def do_POST(self) -> None:
        body = self._read_body()
        path = self._record(body)
        if path == "/v1/messages/count_tokens":
            self._json(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})
        elif path == "/v1/messages":
            self._messages(body if isinstance(body, dict) else {})
        else:
            self._error(404, f"{self.command} {path} not found")

    def do_PUT(self) -> None:
        self._not_found()

    def do_DELETE(self) -> None:
        self._not_found()

    def do_PATCH(self) -> None:
        self._not_found()

    def do_CONNECT(self) -> None:
        self._record(None)
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _not_found(self) -> None:
        path = self._record(self._read_body())
        self._error(404, f"{self.command} {path} not found")

    # -- the Messages API -------------------------------------------------------------------

    def _messages(self, request: dict[str, Any]) -> None:
        state = self.server.state
        with state.lock:
            step = state.script.popleft() if state.script else None
            state.counter += 1
            number = state.counter
        if step is None:
            text = state.respond(request) if state.respond is not None else state.default
            step = _Step("content", content=({"type": "text", "text": text},))
        stream = bool(request.get("stream"))
        if step.kind == "hang":
            if state.stopping.wait(step.delay):
                self.close_connection = True
                return
            step = _Step("content", content=({"type": "text", "text": state.default},))
        if step.kind == "error":
            self._error(step.status, f"scripted {step.status}", retry_after=step.retry_after)
            return
        if step.kind == "raw":
            self._raw(200, step.body, step.content_type)
            return
        if step.kind == "malformed":
            self._raw(200, b"<html><body>502 Bad Gateway</body></html>\n", "application/json")
            return
        message = _message(request, step, number)
        if stream:
            self._stream(message, truncated=step.kind == "truncated")
        elif step.kind == "truncated":
            full = json.dumps(message).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(full[: len(full) // 2])
            self.wfile.flush()
            self._hang_up()
        else:
            self._json(200, message)
            with state.lock:
                state.replied += 1
                state.lock.notify_all()

    def _stream(self, message: dict[str, Any], *, truncated: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", f"req_fake_{message['id']}")
        self.end_headers()
        events = list(_events(message))
        if truncated:
            events = events[: max(2, len(events) // 2)]
        for name, data in events:
            payload = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()
        if truncated:
            self._hang_up()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- plumbing ---------------------------------------------------------------------------

    def _record(self, body: Any) -> str:
        path, _, query = self.path.partition("?")
        if self.command == "CONNECT":
            path, query = self.path, ""
        headers = {
            k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v)
            for k, v in self.headers.items()
        }
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded(self.command, path, query, headers, body))
            state.lock.notify_all()
        return path

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b"".join(self._chunks())
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not raw:
            return None
        text = raw.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(obj).encode(), "application/json", headers)

    def _raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        headers = {"request-id": "req_fake_error"}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        body = {"type": "error", "error": {"type": kind, "message": message}}
        self._json(status, body, headers)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already be gone
            self.connection.shutdown(socket.SHUT_RDWR)


def _message(request: dict[str, Any], step: _Step, number: int) -> dict[str, Any]:
    content = []
    for i, block in enumerate(step.content):
        if block.get("type") == "tool_use":
            block = {"id": f"toolu_fake_{number}_{i}", "input": {}, **block}
        content.append(block)
    text_len = sum(len(b.get("text", "")) for b in content)
    return {
        "id": f"msg_fake_{number}",
        "type": "message",
        "role": "assistant",
        "model": str(request.get("model") or "claude-haiku-4-5"),
        "content": content,
        "stop_reason": step.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": max(1, len(json.dumps(request.get("messages", []))) // 4),
            "output_tokens": max(1, text_len // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            **dict(step.usage),
        },
    }


def _events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            empty = {**block, "input": {}}
            yield "content_block_start", _block_start(index, empty)
            raw = json.dumps(block.get("input", {}))
            for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                delta = {"type": "input_json_delta", "partial_json": part}
                yield "content_block_delta", _delta(index, delta)
        else:
            yield "content_block_start", _block_start(index, {"type": "text", "text": ""})
            text = block.get("text", "")
            step = max(1, len(text) // 3 + 1)
            for at in range(0, len(text), step):
                delta = {"type": "text_delta", "text": text[at : at + step]}
                yield "content_block_delta", _delta(index, delta)
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def lesson(title: str) -> dict[str, object]:
    """One lesson as the model returns it in a mining reply."""
    return {
        "title": title,
        "content": f"{title} (learned in a session)",
        "type": "decision",
        "tags": ["mined"],
        "importance": 3,
    }
