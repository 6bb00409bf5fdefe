"""The MCP handshake answered before the SDK loads (`early_answer`), and the error reply to a
line the SDK would drop without a word (`rejection`). Pure: bytes in, bytes out.
(tests/test_mcp.py checks, against the real SDK, that the early answers are its own.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.core.handshake import (
    HANDSHAKE_VERSIONS,
    MAX_DEPTH,
    META,
    MODERN_VERSIONS,
    early_answer,
    rejection,
)

NAME, VERSION, INSTRUCTIONS = "memem", "9.9.9", "Use memory_search before answering."


def line(message: Any) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode()


def initialize(request_id: Any = 1, **params: Any) -> dict[str, Any]:
    base = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "claude-code", "version": "2.1.0"},
    }
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": base | params}


def discover(request_id: Any = 1, **meta: Any) -> dict[str, Any]:
    base = {
        f"{META}protocolVersion": MODERN_VERSIONS[0],
        f"{META}clientInfo": {"name": "claude-code", "version": "2.1.329"},
        f"{META}clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "server/discover",
        "params": {"_meta": base | meta},
    }


def answer(message: Any) -> tuple[dict[str, Any], Any] | None:
    found = early_answer(line(message), name=NAME, version=VERSION, instructions=INSTRUCTIONS)
    if found is None:
        return None
    data, request_id = found
    assert data.endswith(b"\n") and data.count(b"\n") == 1  # one JSON-RPC line
    return json.loads(data), request_id


# -- initialize --------------------------------------------------------------------------------


def test_initialize_is_answered_with_name_version_instructions_and_capabilities() -> None:
    found = answer(initialize(7))
    assert found is not None
    reply, request_id = found
    assert request_id == 7
    assert reply == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {
            "capabilities": {
                "prompts": {"listChanged": False},
                "resources": {"listChanged": False, "subscribe": False},
                "tools": {"listChanged": False},
            },
            "instructions": INSTRUCTIONS,
            "protocolVersion": "2025-06-18",
            "serverInfo": {"name": NAME, "version": VERSION},
        },
    }


@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
def test_a_known_protocol_version_is_agreed_as_asked(version: str) -> None:
    found = answer(initialize(protocolVersion=version))
    assert found is not None
    assert found[0]["result"]["protocolVersion"] == version


@pytest.mark.parametrize("version", ["1999-01-01", "2030-01-01", "", "latest"])
def test_an_unknown_protocol_version_gets_the_newest_known(version: str) -> None:
    found = answer(initialize(protocolVersion=version))
    assert found is not None
    assert found[0]["result"]["protocolVersion"] == HANDSHAKE_VERSIONS[-1]


@pytest.mark.parametrize("request_id", [0, 42, -1, "abc", "", "ü-id"])
def test_the_answer_carries_the_requests_id(request_id: int | str) -> None:
    found = answer(initialize(request_id))
    assert found is not None
    reply, returned = found
    assert reply["id"] == returned == request_id


def test_the_answer_is_compact_json_with_unicode_as_it_is() -> None:
    found = early_answer(line(initialize()), name="mémoire", version="1", instructions="ça va")
    assert found is not None
    text = found[0].decode("utf-8")
    compact = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    assert text == compact + "\n"
    assert '"name":"mémoire"' in text


@pytest.mark.parametrize(
    "params",
    [
        {"protocolVersion": 20250618},
        {"capabilities": None},
        {"capabilities": []},
        {"clientInfo": "claude"},
        {"clientInfo": {"name": "claude"}},
        {"clientInfo": {"name": 1, "version": "1"}},
    ],
    ids=["version-int", "caps-null", "caps-list", "info-str", "info-no-version", "name-int"],
)
def test_an_initialize_the_sdk_would_refuse_is_left_to_the_sdk(params: dict[str, Any]) -> None:
    """A client must never get a success here and then the SDK's error for the same id."""
    assert answer(initialize(**params)) is None


def test_missing_initialize_fields_are_left_to_the_sdk() -> None:
    message = initialize()
    del message["params"]["capabilities"]
    assert answer(message) is None


# -- server/discover ---------------------------------------------------------------------------


def test_discover_is_answered_with_the_modern_shape() -> None:
    found = answer(discover("d1"))
    assert found is not None
    reply, request_id = found
    assert request_id == "d1"
    assert reply == {
        "jsonrpc": "2.0",
        "id": "d1",
        "result": {
            "cacheScope": "private",
            "capabilities": {
                "prompts": {"listChanged": True},
                "resources": {"listChanged": True, "subscribe": True},
                "tools": {"listChanged": True},
            },
            "instructions": INSTRUCTIONS,
            "resultType": "complete",
            "supportedVersions": list(MODERN_VERSIONS),
            "ttlMs": 0,
            "_meta": {f"{META}serverInfo": {"name": NAME, "version": VERSION}},
        },
    }


def test_discover_without_client_capabilities_is_still_answered() -> None:
    message = discover()
    del message["params"]["_meta"][f"{META}clientCapabilities"]
    assert answer(message) is not None


@pytest.mark.parametrize(
    "meta",
    [
        {f"{META}protocolVersion": "2025-06-18"},
        {f"{META}protocolVersion": None},
        {f"{META}clientInfo": "claude"},
        {f"{META}clientCapabilities": []},
    ],
    ids=["old-version", "no-version", "info-str", "caps-list"],
)
def test_a_discover_the_sdk_would_refuse_is_left_to_the_sdk(meta: dict[str, Any]) -> None:
    assert answer(discover(**meta)) is None


def test_discover_without_meta_is_left_to_the_sdk() -> None:
    message = discover()
    message["params"] = {}
    assert answer(message) is None


# -- everything else goes to the SDK -----------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        {"jsonrpc": "2.0", "method": "notifications/initialized", "params": {}},
        {"jsonrpc": "1.0", "id": 1, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": True, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": 1.5, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": None, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": 1, "method": "initialize"},
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": []},
        [initialize()],
        "initialize",
    ],
    ids=[
        "other-method",
        "notification",
        "jsonrpc-1",
        "id-bool",
        "id-float",
        "id-null",
        "no-params",
        "params-list",
        "batch",
        "string",
    ],
)
def test_anything_but_a_valid_handshake_request_is_not_answered_early(message: Any) -> None:
    assert answer(message) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"not json\n", b'{"jsonrpc": "2.0", "id": 1,\n', b"\xff\xfe\n"],
    ids=["empty", "newline", "text", "cut", "bytes"],
)
def test_a_line_that_is_not_a_message_is_not_answered_early(data: bytes) -> None:
    assert early_answer(data, name=NAME, version=VERSION, instructions=INSTRUCTIONS) is None


def test_a_handshake_nested_too_deep_is_not_answered_early() -> None:
    message = initialize()
    deep: Any = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    message["params"]["capabilities"] = {"experimental": deep}
    assert answer(message) is None


# -- rejection ---------------------------------------------------------------------------------


def error(text: str) -> dict[str, Any]:
    assert text.endswith("\n") and text.count("\n") == 1
    reply = json.loads(text)
    assert reply["jsonrpc"] == "2.0"
    return reply


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(initialize()),
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
        "[1, 2, 3]",
        '"just a string"',
        "42",
        "",
        "   \n",
    ],
)
def test_a_line_the_sdk_can_parse_gets_no_rejection(text: str) -> None:
    assert rejection(text) is None


@pytest.mark.parametrize("text", ["not json", "{", '{"id": 1,', "{'single': 'quotes'}", "nul"])
def test_text_that_is_not_json_is_a_parse_error_with_a_null_id(text: str) -> None:
    reply = error(rejection(text) or "")
    assert reply["id"] is None
    assert reply["error"]["code"] == -32700


def nested(depth: int, request_id: Any = 5) -> str:
    return (
        '{"jsonrpc": "2.0", "id": '
        + json.dumps(request_id)
        + ', "method": "tools/call", "params": '
        + "[" * (depth - 1)
        + "]" * (depth - 1)
        + "}"
    )


def test_a_message_at_the_depth_limit_is_accepted() -> None:
    assert rejection(nested(MAX_DEPTH)) is None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 250, 100_000])
def test_a_message_nested_too_deep_is_refused_with_its_id(depth: int) -> None:
    """Past about 200 levels the SDK's parser gives up and answers nothing; the client
    would wait forever. The id is read token by token, so even this gets its answer."""
    reply = error(rejection(nested(depth, "deep-1")) or "")
    assert reply["id"] == "deep-1"
    assert reply["error"]["code"] == -32600
    assert str(MAX_DEPTH) in reply["error"]["message"]


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"q": "[" * 500}})
    assert rejection(text) is None


def test_a_nested_id_is_not_taken_for_the_requests() -> None:
    inner = '{"id": 99, "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    text = '{"jsonrpc": "2.0", "params": ' + inner + ', "id": 3}'
    assert error(rejection(text) or "")["id"] == 3


@pytest.mark.parametrize(
    ("text", "request_id"),
    [
        ('{"jsonrpc": "2.0", "id": 8, "method": "x", "params": {"q": "\\ud800"}}', 8),
        ('{"jsonrpc": "2.0", "id": "s", "params": {"q": "a\\udfffb"}}', "s"),
        ('{"jsonrpc": "2.0", "id": "\\ud800", "params": {}}', None),  # the id itself is bad
        ('{"jsonrpc": "2.0", "id": true, "params": {"q": "\\ud800"}}', None),
    ],
)
def test_a_lone_surrogate_is_refused_as_invalid(text: str, request_id: Any) -> None:
    reply = error(rejection(text) or "")
    assert reply["id"] == request_id
    assert reply["error"]["code"] == -32600
    assert "surrogate" in reply["error"]["message"]


def test_bytes_that_were_not_utf8_are_refused_like_a_surrogate() -> None:
    raw = b'{"jsonrpc": "2.0", "id": 4, "params": {"q": "caf\xe9"}}'
    reply = error(rejection(raw.decode("utf-8", errors="surrogateescape")) or "")
    assert reply["id"] == 4
    assert reply["error"]["code"] == -32600


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_line_gets_either_nothing_or_one_valid_error_line(text: str) -> None:
    reply = rejection(text)
    if reply is None:
        return
    parsed = error(reply)
    assert parsed["error"]["code"] in (-32700, -32600)
    assert parsed["id"] is None or isinstance(parsed["id"], int | str)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_and_are_never_answered_early(data: bytes) -> None:
    found = early_answer(data, name=NAME, version=VERSION, instructions=INSTRUCTIONS)
    assert found is None
