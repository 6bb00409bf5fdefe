"""The MCP server's transport: stdin/stdout claimed from the process, the discovery and list
calls answered from the snapshot before the SDK has loaded (memem.core.handshake), unparsable
lines answered with a JSON-RPC error, and the tools run on a store opened on first use.

One thread reads stdin for the server's whole life: it refuses what the SDK cannot parse,
answers what the snapshot covers, and queues every other line, the answered ones included, for
the SDK, which starts reading once it has loaded (about a second after spawn). The SDK's own
answers to requests answered early are dropped on the way out (`_Wire`).
"""

import io
import logging
import os
import queue
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Final, cast

from memem.core import handshake

if TYPE_CHECKING:
    from memem.mining.service import Mining
    from memem.service.store import Store
    from memem.settings import Settings

log = logging.getLogger("memem.mcp")

RECONCILE_SECONDS: Final = 30.0
SWITCH_WHILE_LOADING: Final = 0.0005


class _Wire(io.TextIOBase):
    """Our messages to the client: early answers, refusals, and the SDK's, minus the SDK's
    answers to what was answered early."""

    def __init__(self, raw: BinaryIO, early: handshake.EarlyAnswers | None) -> None:
        self._raw = raw
        self._early = early
        # The stdin thread answers while the SDK writes; an early answer is on record before
        # its request is queued for the SDK, so its duplicate is always recognised.
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def answer(self, line: bytes) -> None:
        """Answer the request on `line` from the snapshot, if it covers it."""
        if self._early is None:
            return
        with self._lock:
            answer = self._early.answer(line)
            if answer is not None:
                self._raw.write(answer)
                self._raw.flush()

    def refuse(self, reply: str) -> None:
        with self._lock:
            self._raw.write(reply.encode("utf-8"))
            self._raw.flush()

    def write(self, text: str) -> int:
        with self._lock:
            if self._early is None or not self._early.duplicate(text):
                self._raw.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._raw.flush()


class _Inbox(io.TextIOBase):
    """The client's lines for the SDK, as the stdin thread queued them; "" at the end."""

    def __init__(self) -> None:
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self.lines.get()


def _read(wire_in: BinaryIO, wire: _Wire, inbox: _Inbox) -> None:
    """The stdin thread: every line refused, answered early, or queued for the SDK."""
    try:
        for raw in iter(wire_in.readline, b""):
            # surrogateescape keeps bytes that are not UTF-8 visible to `handshake.rejection`.
            line = raw.decode("utf-8", errors="surrogateescape")
            refused = handshake.rejection(line)
            if refused is not None:
                # The SDK would drop the line without any reply: the client would wait forever.
                log.warning("unparsable request answered with an error: %s", refused.strip())
                wire.refuse(refused)
                continue
            wire.answer(raw)
            inbox.lines.put(line)
    finally:
        inbox.lines.put("")


class _Local:
    """Where a tool call runs: in the engine when it answers (its warm store, its vault
    watcher); else in this process, whose store is opened on the first such call (not at
    start: the server must answer at once) and from then on reconciled with the vault every
    RECONCILE_SECONDS, while the engine is started in the background for the next call."""

    def __init__(
        self, settings: "Settings", import_roots: tuple[Path, ...], env: Mapping[str, str]
    ) -> None:
        self._settings = settings
        self._import_roots = import_roots
        self._env = env
        self._lock = threading.Lock()
        self._opened: tuple[Store, Mining] | None = None
        self._stop = threading.Event()
        self._started = False

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        from memem.engine import client
        from memem.mcp_server.tools import run_tool

        if client.enabled(self._env):
            try:
                answer = client.call(
                    self._env,
                    str(self._settings.state_dir),
                    "tool",
                    {
                        "name": name,
                        "arguments": arguments,
                        "import_roots": [str(p) for p in self._import_roots],
                    },
                )
                return str(answer["text"])
            except client.Unavailable:
                if not self._started:
                    self._started = True
                    client.start(self._env)
        store, mining = self._open()
        return run_tool(store, name, arguments, import_roots=self._import_roots, mining=mining)

    def _open(self) -> "tuple[Store, Mining]":
        # Sync tools run on the SDK's worker threads: two first calls may come at once.
        with self._lock:
            if self._opened is None:
                from memem.mining.service import Mining
                from memem.service.store import Store

                # Without the engine, tools recall lexically (the model is the engine's).
                store = Store.open(
                    state_dir=self._settings.state_dir,
                    vault_dir=self._settings.vault_dir,
                    semantic="off",
                )
                self._opened = store, Mining(self._settings)
                threading.Thread(
                    target=_reconcile_every,
                    args=(store, self._stop),
                    name="memem-reconcile",
                    daemon=True,
                ).start()
            return self._opened

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._opened is not None:
                self._opened[0].close()


def _claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Private handles on the wire; fd 0 then reads /dev/null and fd 1 writes to stderr, so
    nothing else in the process (a stray print, a child) can corrupt the protocol."""
    wire_in = os.fdopen(os.dup(0), "rb")
    wire_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return wire_in, wire_out


def serve(settings: "Settings", env: Mapping[str, str], *, early: bool = True) -> int:
    """Run the server on stdin/stdout until the client closes the connection. Without
    `early`, the SDK answers everything itself (what the snapshot is made from)."""
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        # Answering the handshake and then dying would show memem "connected" with no tools.
        print(
            "memem: the mcp package is missing from this environment; run `sh bootstrap.sh setup`",
            file=sys.stderr,
        )
        return 1
    wire_in, wire_out = _claim_stdio()
    wire = _Wire(wire_out, _early_answers() if early else None)
    inbox = _Inbox()
    threading.Thread(
        target=_read, args=(wire_in, wire, inbox), name="memem-stdin", daemon=True
    ).start()
    # The imports hold the GIL for most of a second; the stdin thread, woken by a request
    # while they run, waits a switch interval (5 ms by default) for it each time.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_WHILE_LOADING)
    try:
        from memem import logs

        # The log after the reader has started: its imports (logging, structlog: ~0.1 s)
        # would otherwise come before the first answer.
        logs.setup(settings.log_dir, name="mcp")
        _load_sdk()
    finally:
        sys.setswitchinterval(switch)
    import anyio

    from memem.mcp_server.app import build

    local = _Local(settings, (Path.cwd(), *settings.import_roots), env)
    app = build(forward=local.call)

    async def run() -> None:
        from mcp.server.stdio import stdio_server

        lowlevel = app._lowlevel_server
        wired = (anyio.wrap_file(cast(IO[str], inbox)), anyio.wrap_file(cast(IO[str], wire)))
        async with stdio_server(*wired) as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())

    try:
        anyio.run(run)
    finally:
        local.close()
    return 0


def _early_answers() -> handshake.EarlyAnswers | None:
    from memem.mcp_server import snapshot

    try:
        return handshake.EarlyAnswers(snapshot.load())
    except (OSError, ValueError):
        # A copy installed without its snapshot still serves, only later.
        log.exception("no snapshot to answer from; the SDK answers everything")
        return None


def _reconcile_every(store: "Store", stop: threading.Event) -> None:
    """Pick up vault edits made elsewhere (Obsidian, an editor), off the request path."""
    while not stop.is_set():
        try:
            store.reconcile()
        except Exception:
            log.exception("reconcile failed")
        stop.wait(RECONCILE_SECONDS)


def _load_sdk() -> None:
    import mcp.server.mcpserver
    import mcp.server.stdio  # noqa: F401
