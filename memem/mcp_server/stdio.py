"""The MCP server's transport: stdin/stdout claimed from the process, the `initialize`
handshake answered before the SDK has loaded (memem.core.handshake), unparsable lines
answered with a JSON-RPC error, and the index reconciled with the vault in the background."""

import io
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Final, TextIO, cast

from memem.core import handshake
from memem.mcp_server.tools import INSTRUCTIONS, NAME, build, version

if TYPE_CHECKING:
    from memem.service.store import Store
    from memem.settings import Settings

log = logging.getLogger("memem.mcp")

RECONCILE_SECONDS: Final = 30.0


class _Replay(io.TextIOBase):
    """The client's messages: the first line (already read) again, then the rest of stdin.

    A line the SDK could not parse is answered here with a JSON-RPC error and not passed on:
    the SDK would drop it without any reply and the client would wait forever."""

    def __init__(self, first: str, rest: TextIO, wire: "_Wire") -> None:
        self._first: str | None = first
        self._rest = rest
        self._wire = wire

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        while True:
            if self._first is not None:
                line, self._first = self._first, None
            else:
                line = self._rest.readline()
            refused = handshake.rejection(line) if line else None
            if refused is None:
                return line
            log.warning("unparsable request answered with an error: %s", refused.strip())
            self._wire.write(refused)
            self._wire.flush()


class _Wire(io.TextIOBase):
    """Our messages to the client, minus the SDK's answer to the handshake we answered."""

    def __init__(self, raw: BinaryIO, answered: object) -> None:
        self._raw = raw
        self._answered = answered
        # The reader thread answers unparsable lines while the SDK writes its replies.
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        # JSON-RPC allows one response per id: the SDK's own answer to the handshake we
        # answered (normally the same bytes; an error only for params our check let through)
        # is dropped.
        if self._answered is not None and '"id"' in text:
            message = json.loads(text)
            if message.get("id") == self._answered and ("result" in message or "error" in message):
                self._answered = None
                return len(text)
        with self._lock:
            self._raw.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._raw.flush()


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


def serve(settings: "Settings", *, early: bool = True) -> int:
    """Run the server on stdin/stdout until the client closes the connection."""
    loaded = threading.Thread(target=_load_sdk, name="memem-sdk-import", daemon=True)
    loaded.start()
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        # Answering the handshake and then dying would show memem "connected" with no tools.
        print(
            "memem: the mcp package is missing from this environment; run `sh bootstrap.sh setup`",
            file=sys.stderr,
        )
        return 1
    wire_in, wire_out = _claim_stdio()
    first = wire_in.readline()
    if not first:
        return 0
    answered = (
        handshake.early_answer(first, name=NAME, version=version(), instructions=INSTRUCTIONS)
        if early
        else None
    )
    if answered is not None:
        wire_out.write(answered[0])
        wire_out.flush()
    import anyio

    from memem.mining.service import Mining
    from memem.service.store import Store

    loaded.join()
    store = Store.open(state_dir=settings.state_dir, vault_dir=settings.vault_dir)
    app = build(store, import_roots=(Path.cwd(), *settings.import_roots), mining=Mining(settings))
    # surrogateescape keeps bytes that are not UTF-8 visible to `handshake.rejection`.
    text_in = io.TextIOWrapper(wire_in, encoding="utf-8", errors="surrogateescape")
    stdout = _Wire(wire_out, answered[1] if answered is not None else None)
    stdin = _Replay(first.decode("utf-8", errors="surrogateescape"), text_in, stdout)

    async def run() -> None:
        from mcp.server.stdio import stdio_server

        lowlevel = app._lowlevel_server
        wired = (anyio.wrap_file(cast(IO[str], stdin)), anyio.wrap_file(cast(IO[str], stdout)))
        async with stdio_server(*wired) as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())

    stop = threading.Event()
    threading.Thread(
        target=_reconcile_every, args=(store, stop), name="memem-reconcile", daemon=True
    ).start()
    try:
        anyio.run(run)
    finally:
        stop.set()
        store.close()
    return 0


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
