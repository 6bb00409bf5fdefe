"""The MCP `initialize` answer, given before the SDK has loaded. Pure.

Importing the MCP SDK takes about a second, and Claude Code waits for every server's
`initialize` answer before it sends the first prompt. The answer is static (our name,
version, instructions and capabilities, and the negotiated protocol version), so the server
gives it from here at once, loads the SDK meanwhile, then replays the request to the SDK and
drops the SDK's identical answer. `tests/test_mcp.py` checks that both answers are the same.
"""

from __future__ import annotations

import json
from typing import Any, Final

# mcp_types.version: revisions reachable through the initialize handshake.
HANDSHAKE_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
CAPABILITIES: Final = {
    "prompts": {"listChanged": False},
    "resources": {"listChanged": False, "subscribe": False},
    "tools": {"listChanged": False},
}


def initialize_request(line: bytes) -> dict[str, Any] | None:
    """The message in `line` if it is a JSON-RPC `initialize` request, else None."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and message.get("method") == "initialize"
        and isinstance(message.get("id"), int | str)
        and not isinstance(message.get("id"), bool)
    ):
        return None
    # Only a request the SDK will accept gets the early answer; anything else waits for the
    # SDK's own error, so a client never sees a success and then an error for one id.
    params = message.get("params")
    client = params.get("clientInfo") if isinstance(params, dict) else None
    if (
        isinstance(params, dict)
        and isinstance(params.get("protocolVersion"), str)
        and isinstance(params.get("capabilities"), dict)
        and isinstance(client, dict)
        and isinstance(client.get("name"), str)
        and isinstance(client.get("version"), str)
    ):
        return message
    return None


def answer(request: dict[str, Any], *, name: str, version: str, instructions: str) -> bytes:
    """The SDK's answer to `request`, byte for byte."""
    asked = request["params"].get("protocolVersion")
    agreed = asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
    result = {
        "capabilities": CAPABILITIES,
        "instructions": instructions,
        "protocolVersion": agreed,
        "serverInfo": {"name": name, "version": version},
    }
    reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
    return (json.dumps(reply, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
