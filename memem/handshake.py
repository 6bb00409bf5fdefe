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
from typing import Any, Final

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
    try:
        message = json.loads(line)
    except ValueError:
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
