"""The discovery and list calls answered before the SDK loads (`EarlyAnswers`), and the error
reply to a line the SDK would drop without a word (`rejection`). Pure: bytes in, bytes out.
(tests/test_mcp.py checks, against the real SDK, that the snapshot and the early answers are
its own; here a small snapshot of the same shape stands in for it.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memem.core.handshake import (
    ACKNOWLEDGED,
    MAX_DEPTH,
    META,
    SUBSCRIPTION,
    EarlyAnswers,
    rejection,
)

MODERN = "2026-07-28"
LISTEN_FOR = {"toolsListChanged": True, "promptsListChanged": True, "resourcesListChanged": True}
SNAPSHOT: dict[str, Any] = {
    "handshake_versions": ["2024-11-05", "2025-06-18", "2025-11-25"],
    "modern_versions": [MODERN],
    "legacy": {
        "initialize": {
            "result": {
                "capabilities": {"tools": {"listChanged": False}},
                "instructions": "ça va",
                "protocolVersion": "2025-11-25",
                "serverInfo": {"name": "mémoire", "version": "9.9.9"},
            }
        },
        "tools/list": {"params": {}, "result": {"tools": [{"name": "memory_save"}]}},
        "ping": {"params": {}, "result": {}},
    },
    "modern": {
        "server/discover": {"params": {}, "result": {"supportedVersions": [MODERN], "ttlMs": 0}},
        "tools/list": {"params": {}, "result": {"resultType": "complete", "tools": []}},
        "subscriptions/listen": {
            "params": {"notifications": LISTEN_FOR},
            "acknowledged": {"toolsListChanged": True},
        },
    },
}


def line(message: Any) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode()


def initialize(request_id: Any = 1, **params: Any) -> dict[str, Any]:
    base = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "claude-code", "version": "2.1.0"},
    }
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": base | params}


def envelope(**meta: Any) -> dict[str, Any]:
    base = {
        f"{META}protocolVersion": MODERN,
        f"{META}clientInfo": {"name": "claude-code", "version": "2.1.329"},
        f"{META}clientCapabilities": {},
    }
    return {k: v for k, v in (base | meta).items() if v is not ...}


def modern(
    method: str, request_id: Any = 1, meta: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"_meta": envelope() if meta is None else meta, **params},
    }


def legacy(method: str, request_id: Any = 2, **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, **extra}


def answers(*messages: Any) -> list[Any]:
    """What a fresh connection answers early to each of `messages`, in order (None: left to
    the SDK), each answer parsed after checking it is one compact JSON line."""
    early = EarlyAnswers(SNAPSHOT)
    found: list[Any] = []
    for message in messages:
        data = early.answer(message if isinstance(message, bytes) else line(message))
        if data is None:
            found.append(None)
            continue
        text = data.decode("utf-8")
        assert text.endswith("\n") and text.count("\n") == 1
        assert (
            text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) + "\n"
        )
        found.append(json.loads(text))
    return found


# -- the handshake era: initialize, then the lists ---------------------------------------------


def test_initialize_is_answered_from_the_snapshot_with_the_requests_id() -> None:
    [reply] = answers(initialize(7))
    assert reply == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {**SNAPSHOT["legacy"]["initialize"]["result"], "protocolVersion": "2025-06-18"},
    }


@pytest.mark.parametrize("version", SNAPSHOT["handshake_versions"])
def test_a_known_protocol_version_is_agreed_as_asked(version: str) -> None:
    [reply] = answers(initialize(protocolVersion=version))
    assert reply["result"]["protocolVersion"] == version


@pytest.mark.parametrize("version", ["1999-01-01", "2030-01-01", MODERN, "", "latest"])
def test_an_unknown_protocol_version_gets_the_newest_known(version: str) -> None:
    [reply] = answers(initialize(protocolVersion=version))
    assert reply["result"]["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize("request_id", [0, 42, -1, "abc", "", "ü-id"])
def test_every_answer_carries_its_requests_id(request_id: int | str) -> None:
    first, second = answers(initialize(request_id), legacy("tools/list", request_id))
    assert first["id"] == second["id"] == request_id


def test_the_lists_after_initialize_are_answered_from_the_snapshot() -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    _, quiet, listed, pinged = answers(
        initialize(), note, legacy("tools/list"), legacy("ping", 3, params={})
    )
    assert quiet is None  # notifications are never answered
    assert listed == {
        "jsonrpc": "2.0",
        "id": 2,
        "result": SNAPSHOT["legacy"]["tools/list"]["result"],
    }
    assert pinged == {"jsonrpc": "2.0", "id": 3, "result": {}}


@pytest.mark.parametrize(
    "asked",
    [
        legacy("tools/list", params={"cursor": "abc"}),
        legacy("tools/list", params={"_meta": {"progressToken": 1}}),
        legacy("tools/call", params={"name": "memory_list", "arguments": {}}),
        legacy("prompts/get", params={"name": "x"}),
        initialize(2),
        modern("tools/list", 2),
    ],
    ids=["cursor", "meta", "tool-call", "not-in-snapshot", "second-initialize", "envelope"],
)
def test_a_request_the_snapshot_does_not_cover_exactly_is_left_to_the_sdk(asked: Any) -> None:
    assert answers(initialize(), asked)[1] is None


def test_no_list_is_answered_before_initialize() -> None:
    """The SDK refuses a list that opens the connection: so must the early answers, and the
    connection stays with the SDK."""
    assert answers(legacy("tools/list", 1), initialize(2), legacy("tools/list", 3)) == [None] * 3


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
def test_an_initialize_the_sdk_would_refuse_leaves_the_connection_to_the_sdk(
    params: dict[str, Any],
) -> None:
    """A client must never get a success here and then the SDK's error for the same id."""
    assert answers(initialize(**params), legacy("tools/list")) == [None, None]


def test_missing_initialize_fields_are_left_to_the_sdk() -> None:
    message = initialize()
    del message["params"]["capabilities"]
    assert answers(message) == [None]


# -- the 2026-07-28 era: every request in its own envelope -------------------------------------


def test_claude_codes_connect_sequence_is_answered_in_full() -> None:
    """What Claude Code 2.1.329 sends at connect (claude-code.md section 7)."""
    listen = modern("subscriptions/listen", "listen:0", notifications=LISTEN_FOR)
    first, acknowledged, again, tools = answers(
        modern("server/discover", "server-discover-probe-1"),
        listen,
        modern("server/discover", 0),
        modern("tools/list", 3),
    )
    assert first == {
        "jsonrpc": "2.0",
        "id": "server-discover-probe-1",
        "result": SNAPSHOT["modern"]["server/discover"]["result"],
    }
    assert acknowledged == {
        "jsonrpc": "2.0",
        "method": ACKNOWLEDGED,
        "params": {
            "_meta": {SUBSCRIPTION: "listen:0"},
            "notifications": {"toolsListChanged": True},
        },
    }
    assert again["id"] == 0 and tools["id"] == 3
    assert tools["result"] == SNAPSHOT["modern"]["tools/list"]["result"]


@pytest.mark.parametrize(
    "meta",
    [
        envelope(**{f"{META}protocolVersion": "2025-06-18"}),
        envelope(**{f"{META}protocolVersion": None}),
        envelope(**{f"{META}clientInfo": "claude"}),
        envelope(**{f"{META}clientInfo": {"name": "claude"}}),
        envelope(**{f"{META}clientCapabilities": []}),
        envelope(**{f"{META}clientCapabilities": ...}),
    ],
    ids=["old-version", "null-version", "info-str", "info-no-version", "caps-list", "no-caps"],
)
def test_an_envelope_the_sdk_would_refuse_is_left_to_the_sdk(meta: dict[str, Any]) -> None:
    assert answers(modern("server/discover", meta=meta), modern("tools/list", 2, meta=meta)) == [
        None,
        None,
    ]


def test_an_envelope_without_client_info_is_answered() -> None:
    """Client info is optional in the envelope (the SDK reads it as absent)."""
    meta = envelope(**{f"{META}clientInfo": ...})
    assert answers(modern("server/discover", meta=meta))[0]["id"] == 1


@pytest.mark.parametrize(
    "asked",
    [
        modern("tools/list", 2, cursor="abc"),
        modern("subscriptions/listen", 2, notifications={"toolsListChanged": True}),
        modern("ping", 2),
        modern("initialize", 2),
        legacy("tools/list"),
        modern("tools/call", 2, name="memory_list", arguments={}),
    ],
    ids=["cursor", "other-filter", "not-in-snapshot", "initialize", "no-envelope", "tool-call"],
)
def test_a_modern_request_the_snapshot_does_not_cover_exactly_is_left_to_the_sdk(
    asked: Any,
) -> None:
    assert answers(modern("server/discover"), asked)[1] is None


def test_a_discover_with_its_envelope_half_built_leaves_the_connection_to_the_sdk() -> None:
    message = modern("server/discover")
    message["params"] = {}
    assert answers(message, modern("tools/list", 2)) == [None, None]


# -- what opens nothing, and the SDK's duplicates ----------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "1.0", "id": 1, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": True, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": 1.5, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": None, "method": "initialize", "params": initialize()["params"]},
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": []},
    ],
    ids=["jsonrpc-1", "id-bool", "id-float", "id-null", "params-list"],
)
def test_a_request_the_sdk_may_read_otherwise_leaves_the_connection_to_it(message: Any) -> None:
    assert answers(message, initialize(2), legacy("tools/list", 3)) == [None, None, None]


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 9, "result": {}},
        [initialize()],
        "initialize",
        b"not json\n",
        b"\xff\xfe\n",
        b"",
    ],
    ids=["notification", "response", "batch", "string", "text", "bytes", "empty"],
)
def test_what_is_not_a_request_is_not_answered_and_opens_nothing(message: Any) -> None:
    assert answers(message, initialize(2)) == [None, answers(initialize(2))[0]]


def test_the_sdks_answer_to_each_request_answered_early_is_a_duplicate_once() -> None:
    early = EarlyAnswers(SNAPSHOT)
    listen = modern("subscriptions/listen", "listen:0", notifications=LISTEN_FOR)
    for message in (modern("server/discover", 1), listen, modern("tools/list", "t")):
        assert early.answer(line(message)) is not None
    ack = {
        "jsonrpc": "2.0",
        "method": ACKNOWLEDGED,
        "params": {"_meta": {SUBSCRIPTION: "listen:0"}, "notifications": {}},
    }
    sdk = [
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": "t", "error": {"code": -32602, "message": "refused"}},
        ack,
    ]
    assert [early.duplicate(json.dumps(m)) for m in sdk] == [True, True, True]
    assert [early.duplicate(json.dumps(m)) for m in sdk] == [False, False, False]


def test_the_sdks_other_messages_pass() -> None:
    early = EarlyAnswers(SNAPSHOT)
    assert early.answer(line(modern("server/discover", 1))) is not None
    final = {"jsonrpc": "2.0", "id": "listen:0", "result": {"_meta": {SUBSCRIPTION: "listen:0"}}}
    for message in (
        {"jsonrpc": "2.0", "id": 2, "result": {}},
        {"jsonrpc": "2.0", "id": "1", "result": {}},
        {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"},
        final,
    ):
        assert not early.duplicate(json.dumps(message))


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
    early = EarlyAnswers(SNAPSHOT)
    assert early.answer(data) is None
    assert early.answer(line(initialize())) is not None  # and decide nothing
