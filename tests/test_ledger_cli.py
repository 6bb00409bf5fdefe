"""`memem ledger` as a user runs it, and the MCP tool `memory_ledger` over real stdio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memem import Store
from memem.core.slice import Item, Slice
from memem.storage import ledger
from tests.conftest import run_cli
from tests.test_mcp import Server, server_env


def seed(state: Path, ids: list[str]) -> None:
    """Two injections on 4 December 2026 and one decided."""
    day = ledger.parse_time("2026-12-04")
    for n, session in enumerate(["s-a", "s-b"]):
        items = tuple(
            Item(
                id=i, role="decisions", layer=1, score=0.75, title="t", text="body", source="search"
            )
            for i in [*ids, "artifacts:x"]
        )
        ledger.record_slice(
            state,
            Slice("## memem\nbody", False, items),
            event="UserPromptSubmit",
            session_id=session,
            prompt="p",
            now=day + 3600 * (n + 1),
        )
    first = ledger.read(state)[0]
    ledger.decide(state, first["at"], "s-a", {ids[0]: True, ids[1]: False})


@pytest.fixture
def ids(store: Store) -> list[str]:
    return [
        store.save("Run `go test -race ./...` before pushing.", project="gw").id,
        store.save("The gateway times upstream calls out at 2s.", project="gw").id,
    ]


def test_json_lists_injections_with_their_items_and_use(ids: list[str], tmp_path: Path) -> None:
    seed(tmp_path / "state", ids)
    result = run_cli("ledger", "--json")
    assert result.returncode == 0, result.stderr
    shots = json.loads(result.stdout)
    assert [s["session_id"] for s in shots] == ["s-a", "s-b"]
    for shot in shots:
        assert {"at", "session_id", "event", "items"} <= set(shot)
        for item in shot["items"]:
            assert {"id", "role", "score", "chars", "source", "used"} <= set(item)
    assert [i["used"] for i in shots[0]["items"]] == [True, False, None]
    assert [i["used"] for i in shots[1]["items"]] == [None, None, None]


def test_session_since_and_limit_filter(ids: list[str], tmp_path: Path) -> None:
    seed(tmp_path / "state", ids)

    def sessions(*args: str) -> list[str]:
        result = run_cli("ledger", "--json", *args)
        assert result.returncode == 0, result.stderr
        return [s["session_id"] for s in json.loads(result.stdout)]

    assert sessions("--session", "s-b") == ["s-b"]
    assert sessions("--since", "2026-12-04T01:30:00Z") == ["s-b"]
    assert sessions("--since", "2026-12-05") == []
    assert sessions("--limit", "1") == ["s-b"]


def test_the_table_says_what_was_used(ids: list[str], tmp_path: Path) -> None:
    seed(tmp_path / "state", ids)
    result = run_cli("ledger")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().split("\n\n")
    assert "UserPromptSubmit" in first and "session s-a" in first and "used 1/2" in first
    assert "undecided" in second
    rows = first.splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["yes", "no", "?"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "last week"], "--since: not an ISO date or datetime"),
        (["--limit", "-1"], "--limit"),
        (["--limit", "x"], "invalid int value"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_2(args: list[str], says: str) -> None:
    result = run_cli("ledger", *args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_an_empty_ledger_says_so() -> None:
    result = run_cli("ledger")
    assert result.returncode == 0 and "no injections recorded yet" in result.stdout
    filtered = run_cli("ledger", "--session", "nope")
    assert filtered.returncode == 0 and "no injections recorded for that filter" in filtered.stdout


def test_mcp_memory_ledger_over_stdio(tmp_path: Path) -> None:
    with Server(server_env(), cwd=tmp_path) as server:
        saved = server.ok(
            "memory_save", content="The checkout test uses the FakeGateway fixture.", project="shop"
        )
        assert saved.startswith("saved")
        assert "no injections recorded yet" in server.ok("memory_ledger")
        sliced = server.ok(
            "active_memory_slice",
            query="checkout test FakeGateway",
            scope_id="shop",
            session_id="m-1",
        )
        assert "FakeGateway" in sliced
        text = server.ok("memory_ledger", session_id="m-1")
        assert "active_memory_slice" in text and "session m-1" in text
        assert "no injections recorded for that filter" in server.ok(
            "memory_ledger", since="2099-01-01"
        )
        bad = server.call("memory_ledger", since="soon")
        assert bad.error and "ISO date or datetime" in bad.text
