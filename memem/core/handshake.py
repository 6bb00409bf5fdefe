"""Early answers: the MCP discovery and list calls answered before the SDK has loaded. Pure.

Importing the MCP SDK takes about a second, and Claude Code counts a server connected only
once it has answered the handshake and the lists. Claude Code 2.1.329 sends, one after the
other (the 2026-07-28 era, every request carrying its own `_meta` envelope):

    server/discover, subscriptions/listen (answered by an acknowledgement notification),
    server/discover again, then prompts/list, resources/list and tools/list at once

and an older client `initialize` (the handshake era, 2024-11-05 .. 2025-11-25) and the same
lists without envelopes. Their answers depend on nothing but the request's id (and for
`initialize`, the protocol version asked), so the server gives them from a snapshot of the
SDK's own answers (memem/mcp_server/snapshot.json, which tests/test_mcp_early.py keeps
byte-identical to what the SDK sends), passes every message on to the SDK once it has loaded, and drops the
SDK's own later answer to each request answered here (`EarlyAnswers.duplicate`). Anything
the snapshot does not cover exactly (a tool call, a cursor, an envelope the SDK may refuse, a
connection that opened oddly) is left to the SDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

# pydantic, which parses every message in the SDK, gives up past about 200 levels, and then
# the SDK answers nothing at all; no real request nests more than a dozen.
MAX_DEPTH: Final = 100
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+')

META: Final = "io.modelcontextprotocol/"
ACKNOWLEDGED: Final = "notifications/subscriptions/acknowledged"
SUBSCRIPTION: Final = f"{META}subscriptionId"


def _message(line: bytes) -> dict[str, Any] | None:
    """The JSON object on `line` (one `rejection` let through, so the SDK reads it too)."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def _is_request(message: Mapping[str, Any]) -> bool:
    """A request exactly as the SDK's model reads one (a float id, say, is not)."""
    request_id = message.get("id")
    return (
        message.get("jsonrpc") == "2.0"
        and isinstance(message.get("method"), str)
        and isinstance(request_id, int | str)
        and not isinstance(request_id, bool)
        and isinstance(message.get("params", {}), dict)
    )


def _initialize_ok(params: Mapping[str, Any]) -> bool:
    client = params.get("clientInfo")
    return (
        isinstance(params.get("protocolVersion"), str)
        and isinstance(params.get("capabilities"), dict)
        and isinstance(client, dict)
        and isinstance(client.get("name"), str)
        and isinstance(client.get("version"), str)
    )


def _envelope_ok(meta: Any, versions: list[str]) -> bool:
    """A 2026-07-28 envelope the SDK accepts: a served version, client capabilities, and
    client info if any."""
    if not isinstance(meta, dict):
        return False
    client = meta.get(f"{META}clientInfo", {"name": "", "version": ""})
    return (
        meta.get(f"{META}protocolVersion") in versions
        and isinstance(meta.get(f"{META}clientCapabilities"), dict)
        and isinstance(client, dict)
        and isinstance(client.get("name"), str)
        and isinstance(client.get("version"), str)
    )


def _line(message: Mapping[str, Any]) -> bytes:
    """One JSON-RPC line as the SDK writes it: compact, unicode as it is."""
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class EarlyAnswers:
    """One connection's early answers from `snapshot` (the parsed snapshot.json).

    Give `answer` every line the client sends, in order, before the SDK reads it (but not
    the lines `rejection` refuses: the SDK never sees those), and `duplicate` every message
    the SDK writes. Not thread-safe: the caller serialises the two (an answer must be on
    record before the SDK can see its request)."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self._snapshot = snapshot
        # The era the client's first request opens, as the SDK decides it: "legacy" (after
        # an `initialize` answered here), "modern", or "off" (anything else: the SDK alone).
        self._era: str | None = None
        self._pending: set[tuple[str, int | str]] = set()

    def answer(self, line: bytes) -> bytes | None:
        """The answer to the request on `line`, as the SDK would give it, or None."""
        message = _message(line)
        if message is None or "id" not in message or "method" not in message:
            return None  # not a request: it decides nothing
        if not _is_request(message):
            self._era = self._era or "off"
            return None
        params = message.get("params", {})
        if self._era is None:
            self._era = self._open(message["method"], params)
            if self._era == "legacy":
                return self._initialized(message["id"], params["protocolVersion"])
        if self._era == "off":
            return None
        return self._listed(self._snapshot[self._era], message["method"], message["id"], params)

    def _open(self, method: str, params: Mapping[str, Any]) -> str:
        meta = params.get("_meta")
        if method == "initialize":
            return "legacy" if _initialize_ok(params) else "off"
        if isinstance(meta, dict) and f"{META}protocolVersion" in meta:
            return "modern"
        return "off"  # the SDK serves the handshake era, and refuses lists before initialize

    def _initialized(self, request_id: int | str, asked: str) -> bytes:
        versions = self._snapshot["handshake_versions"]
        agreed = asked if asked in versions else versions[-1]
        result = {**self._snapshot["legacy"]["initialize"]["result"], "protocolVersion": agreed}
        self._pending.add(("reply", request_id))
        return _line({"jsonrpc": "2.0", "id": request_id, "result": result})

    def _listed(
        self, era: Mapping[str, Any], method: str, request_id: int | str, params: Mapping[str, Any]
    ) -> bytes | None:
        """The answer to a request after the first, if the era's snapshot covers it exactly."""
        known = era.get(method)
        if known is None or method == "initialize":
            return None  # a second initialize is the SDK's to refuse
        rest = dict(params)
        if self._era == "modern" and not _envelope_ok(
            rest.pop("_meta", None), self._snapshot["modern_versions"]
        ):
            return None
        if rest != known["params"]:
            return None  # a cursor, another filter: only the SDK knows
        if "acknowledged" in known:
            self._pending.add(("ack", request_id))
            params = {"_meta": {SUBSCRIPTION: request_id}, "notifications": known["acknowledged"]}
            return _line({"jsonrpc": "2.0", "method": ACKNOWLEDGED, "params": params})
        self._pending.add(("reply", request_id))
        return _line({"jsonrpc": "2.0", "id": request_id, "result": known["result"]})

    def duplicate(self, text: str) -> bool:
        """Whether `text`, a message the SDK writes, answers what was answered here already
        (then it must not reach the client: JSON-RPC allows one response per id). It is
        normally the same bytes; an error only for an envelope or params the SDK refuses
        although they passed the checks here."""
        if not self._pending:
            return False
        message = json.loads(text)
        if not isinstance(message, dict):
            return False
        key: tuple[str, Any]
        if "result" in message or "error" in message:
            key = ("reply", message.get("id"))
        elif message.get("method") == ACKNOWLEDGED:
            key = ("ack", ((message.get("params") or {}).get("_meta") or {}).get(SUBSCRIPTION))
        else:
            return False
        if not isinstance(key[1], int | str) or key not in self._pending:
            return False
        self._pending.discard(key)
        return True


def rejection(line: str) -> str | None:
    """The JSON-RPC error reply (one line) for a message the SDK cannot parse, or None.

    The SDK drops such a line without a word, leaving the client waiting forever: text that
    is not JSON gets -32700 (id null); JSON nested deeper than MAX_DEPTH, or holding a lone
    surrogate (an escape like \\ud800, or bytes that were not UTF-8, decoded with
    surrogateescape), gets -32600 with the request's id when it can be read.
    """
    if not line.strip():
        return None
    _, deepest, request_id = _scan(line)
    if deepest > MAX_DEPTH:
        return _error(request_id, -32600, f"message nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return _error(None, -32700, "parse error: not a JSON message")
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return _error(request_id, -32600, "message is not valid UTF-8 (a lone surrogate)")
    return None


def _scan(line: str) -> tuple[int, int, int | str | None]:
    """Final depth, greatest depth, and the top-level `id` of a JSON object, read token by
    token so that a message too deep for any parser still gives its id."""
    depth = deepest = 0
    request_id: int | str | None = None
    recent: list[str] = []
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
        elif depth == 1 and len(recent) >= 2 and recent[-2] == '"id"' and recent[-1] == ":":
            request_id = _id_value(token)
        recent = [*recent[-1:], token]
    return depth, deepest, request_id


def _id_value(token: str) -> int | str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return value


def _error(request_id: int | str | None, code: int, message: str) -> str:
    reply = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return json.dumps(reply, separators=(",", ":")) + "\n"
