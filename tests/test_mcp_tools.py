"""The MCP tools without the stdio transport: their bodies through `run_tool` (what the engine
calls with its warm store), and the SDK's registration (`app.build`) handing each call, once
its arguments are valid, to `forward`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from memem.errors import InvalidInput, MememError
from memem.mcp_server.app import build
from memem.mcp_server.tools import run_tool
from memem.service.store import Store


def run(store: Store, name: str, roots: tuple[Path, ...] = (), **arguments: Any) -> str:
    return run_tool(store, name, arguments, import_roots=roots, mining=None)


def test_run_tool_saves_and_finds_a_memory_with_the_defaults_filled_in(store: Store) -> None:
    saved = run(
        store, "memory_save", content="Deploys go out from main with Fly.io.", project="shop"
    )
    assert saved.startswith("saved: ")
    found = run(store, "memory_search", query="how do deploys go out")
    assert "Fly.io" in found and "[shop]" in found
    assert run(store, "memory_list").startswith("shop: 1 active")


def test_run_tool_refuses_an_unknown_tool_or_argument_as_invalid_input(store: Store) -> None:
    with pytest.raises(InvalidInput, match="no tool named 'memory_delete'"):
        run(store, "memory_delete", id="x")
    with pytest.raises(InvalidInput, match="memory_search"):
        run(store, "memory_search", query="x", colour="red")
    with pytest.raises(InvalidInput, match="memory_search"):
        run(store, "memory_search")


def test_run_tool_raises_the_stores_errors_for_bad_input(store: Store) -> None:
    with pytest.raises(MememError):
        run(store, "memory_get", ids=["ffffffff"])


def test_run_tool_imports_only_inside_its_roots(store: Store, tmp_path: Path) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    (inside / "CLAUDE.md").write_text(
        "# Tests\n\nRun the tests with pytest -q.\n", encoding="utf-8"
    )
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# Secret\n\nNot for the model.\n", encoding="utf-8")
    assert run(store, "memory_import", (inside,), path=str(inside / "CLAUDE.md")).startswith(
        "imported 1 memories"
    )
    with pytest.raises(InvalidInput, match="outside them"):
        run(store, "memory_import", (inside,), path=str(outside))


class Recorder:
    def __init__(self, reply: str = "forwarded", error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply, self.error = reply, error

    def __call__(self, name: str, arguments: dict[str, Any]) -> str:
        self.calls.append((name, arguments))
        if self.error is not None:
            raise self.error
        return self.reply


def call(forward: Recorder, name: str, arguments: dict[str, Any]) -> str:
    result = asyncio.run(build(forward=forward).call_tool(name, arguments))
    return "".join(getattr(part, "text", "") for part in getattr(result, "content", []))


def test_a_valid_call_is_forwarded_with_its_arguments_and_defaults() -> None:
    forward = Recorder("from the engine")
    assert call(forward, "memory_search", {"query": "deploys"}) == "from the engine"
    assert forward.calls == [("memory_search", {"query": "deploys", "project": None, "limit": 10})]


def test_an_invalid_call_is_refused_before_it_is_forwarded() -> None:
    forward = Recorder()
    with pytest.raises(ToolError):
        call(forward, "memory_search", {"query": "deploys", "limit": 0})
    assert forward.calls == []


def test_a_memem_error_from_forward_is_a_tool_error_with_its_message() -> None:
    with pytest.raises(ToolError, match="no memory ffffffff"):
        call(
            Recorder(error=InvalidInput("no memory ffffffff")), "memory_get", {"ids": ["ffffffff"]}
        )


def test_without_forward_a_call_runs_here_on_the_store(store: Store) -> None:
    app = build(store)
    result = asyncio.run(app.call_tool("memory_save", {"content": "Run migrations with alembic."}))
    text = "".join(getattr(part, "text", "") for part in getattr(result, "content", []))
    assert text.startswith("saved: ")
    assert "alembic" in run(store, "memory_recall", query="how to run migrations")


def test_a_server_needs_a_store_or_a_forward() -> None:
    with pytest.raises(ValueError, match="store or a forward"):
        build()


def test_memory_save_takes_the_situations_a_memory_answers(store: Store) -> None:
    asked = ["How do I rotate the TLS certificate?"]
    app = build(store)
    arguments = {"content": "The signing key lives in Vault.", "situations": asked}
    result = asyncio.run(app.call_tool("memory_save", arguments))
    assert "".join(getattr(part, "text", "") for part in getattr(result, "content", [])).startswith(
        "saved: "
    )
    (hit,) = store.search("rotate the certificate")
    assert store.get(hit.id).situations == tuple(asked)


def test_memory_save_refuses_more_situations_than_the_limit_before_forwarding() -> None:
    forward = Recorder()
    arguments = {"content": "A fact.", "situations": [f"question {n}?" for n in range(6)]}
    with pytest.raises(ToolError):
        call(forward, "memory_save", arguments)
    assert forward.calls == []


def test_memory_save_private_keeps_the_memory_marked_private(store: Store) -> None:
    text = run(store, "memory_save", content="My staging login is in the team vault.", private=True)
    assert "(private)" in text
    (hit,) = store.search("staging login vault")
    assert store.get(hit.id).private is True
    with pytest.raises(InvalidInput, match="private"):
        run(store, "memory_save", content="Another fact entirely.", private="yes")
