"""The MCP handshake answer, given before the SDK has loaded. Pure.

Importing the MCP SDK takes about a second, and Claude Code waits for every server's
handshake answer before it sends the first prompt. Both handshakes have static answers (our
name, version, instructions and capabilities, and the protocol version):

    initialize        the handshake era (protocol 2024-11-05 .. 2025-11-25)
    server/discover   the per-request-envelope era (2026-07-28): Claude Code 2.1.329 opens with it

so the server gives the answer from here at once, loads the SDK meanwhile, then replays the
request to the SDK and drops the SDK's own answer to it. `tests/test_mcp.py` checks, byte for
byte, that both answers are the same.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

# pydantic, which parses every message in the SDK, gives up past about 200 levels, and then
# the SDK answers nothing at all; no real request nests more than a dozen.
MAX_DEPTH: Final = 100
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+')

# mcp_types.version: revisions reachable through initialize, and through server/discover.
HANDSHAKE_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: Final = ("2026-07-28",)
META: Final = "io.modelcontextprotocol/"


def _capabilities(changes: bool) -> dict[str, Any]:
    return {
        "prompts": {"listChanged": changes},
        "resources": {"listChanged": changes, "subscribe": changes},
        "tools": {"listChanged": changes},
    }


def _request(line: bytes) -> dict[str, Any] | None:
    if rejection(line.decode("utf-8", errors="surrogateescape")) is not None:
        return None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and isinstance(message.get("id"), int | str)
        and not isinstance(message.get("id"), bool)
        and isinstance(message.get("params"), dict)
    ):
        return message
    return None


def _initialize_ok(params: dict[str, Any]) -> bool:
    client = params.get("clientInfo")
    return (
        isinstance(params.get("protocolVersion"), str)
        and isinstance(params.get("capabilities"), dict)
        and isinstance(client, dict)
        and isinstance(client.get("name"), str)
        and isinstance(client.get("version"), str)
    )


def _discover_ok(params: dict[str, Any]) -> bool:
    meta = params.get("_meta")
    return (
        isinstance(meta, dict)
        and meta.get(f"{META}protocolVersion") in MODERN_VERSIONS
        and isinstance(meta.get(f"{META}clientInfo"), dict)
        and isinstance(meta.get(f"{META}clientCapabilities", {}), dict)
    )


def early_answer(
    line: bytes, *, name: str, version: str, instructions: str
) -> tuple[bytes, int | str] | None:
    """The SDK's answer to the handshake request in `line`, byte for byte, with the request's
    id; None for anything else (and for a request the SDK would refuse: only the SDK answers
    that, so a client never gets a success and then an error for one id)."""
    request = _request(line)
    if request is None:
        return None
    params = request["params"]
    result: dict[str, Any]
    if request.get("method") == "initialize" and _initialize_ok(params):
        asked = params["protocolVersion"]
        result = {
            "capabilities": _capabilities(False),
            "instructions": instructions,
            "protocolVersion": asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1],
            "serverInfo": {"name": name, "version": version},
        }
    elif request.get("method") == "server/discover" and _discover_ok(params):
        result = {
            "cacheScope": "private",
            "capabilities": _capabilities(True),
            "instructions": instructions,
            "resultType": "complete",
            "supportedVersions": list(MODERN_VERSIONS),
            "ttlMs": 0,
            "_meta": {f"{META}serverInfo": {"name": name, "version": version}},
        }
    else:
        return None
    reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
    text = json.dumps(reply, separators=(",", ":"), ensure_ascii=False) + "\n"
    return text.encode(), request["id"]


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
