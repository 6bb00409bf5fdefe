"""The injection ledger (`memem.storage.ledger`): what the hooks and the slice tools record,
bounded, private, and readable after a kill -9."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memem import Store
from memem.core.slice import Item, Slice
from memem.hook import respond
from memem.storage import ledger
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path, store: Store) -> Path:
    root = tmp_path / "work" / "shop"
    (root / ".git").mkdir(parents=True)
    store.save("Deploys go through Fly.io from main, never from a feature branch.", project="shop")
    store.save(
        "The checkout test was flaky because it called Stripe; use the fake gateway.",
        project="shop",
    )
    return root


def env(tmp_path: Path) -> dict[str, str]:
    return {"MEMEM_DIR": str(tmp_path / "state"), "MEMEM_OBSIDIAN_VAULT": str(tmp_path / "vault")}


def a_slice(*ids: str) -> Slice:
    items = tuple(
        Item(
            id=i, role="decisions", layer=1, score=0.5, title=f"t {i}", text="body", source="search"
        )
        for i in ids
    )
    return Slice("## memem\nbody", False, items)


def test_a_prompt_hook_records_its_injection_without_the_prompt(
    project: Path, tmp_path: Path
) -> None:
    prompt = "why was the checkout test flaky with Stripe?"
    payload = {
        "prompt": prompt,
        "session_id": "s-1",
        "cwd": str(project),
        "transcript_path": str(tmp_path / "s-1.jsonl"),
    }
    assert respond("UserPromptSubmit", payload, env(tmp_path))
    [shot] = ledger.read(tmp_path / "state")
    assert shot["event"] == "UserPromptSubmit" and shot["session_id"] == "s-1"
    assert shot["transcript"] == str(tmp_path / "s-1.jsonl")
    assert shot["at"].endswith("Z") and shot["chars"] > 0
    assert shot["prompt_digest"] == ledger.digest(tmp_path / "state", prompt)
    checkout = [i for i in shot["items"] if i["source"] == "search"]
    assert checkout and {"id", "role", "score", "chars", "source", "used"} <= set(checkout[0])
    assert all(i["used"] is None for i in shot["items"])
    raw = (tmp_path / "state" / "ledger" / "ledger.jsonl").read_text()
    assert "checkout test was flaky" not in raw and "Stripe" not in raw


def test_session_start_records_under_its_event_and_an_empty_slice_records_nothing(
    project: Path, tmp_path: Path, store: Store
) -> None:
    respond(
        "UserPromptSubmit", {"prompt": "what about the weather", "cwd": str(project)}, env(tmp_path)
    )
    assert ledger.read(tmp_path / "state") == []
    anchor = store.save("The shop always ships from main.", project="shop", layer=0)
    respond("SessionStart", {"source": "startup", "cwd": str(project)}, env(tmp_path))
    [start] = ledger.read(tmp_path / "state")
    assert start["event"] == "SessionStart"
    assert {"id": anchor.id, "source": "anchor"}.items() <= start["items"][0].items()


def test_the_slice_command_records_nothing_and_the_mcp_tools_record_their_name(
    project: Path, tmp_path: Path, store: Store
) -> None:
    from memem.mcp_server.tools import run_tool

    store.slice("checkout test Stripe flaky", scope="shop")
    assert ledger.read(tmp_path / "state") == []
    run_tool(
        store,
        "active_memory_slice",
        {"query": "checkout test Stripe flaky", "scope_id": "shop", "session_id": "m-1"},
        import_roots=[],
        mining=None,
    )
    run_tool(
        store,
        "context_assemble",
        {"query": "deploys Fly.io", "project": "shop"},
        import_roots=[],
        mining=None,
    )
    events = [s["event"] for s in ledger.read(tmp_path / "state")]
    assert events == ["active_memory_slice", "context_assemble"]


def test_the_ledger_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ledger.record_slice(state, a_slice("m1"), event="UserPromptSubmit", session_id="s", prompt="p")
    folder = state / "ledger"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("ledger.jsonl", "key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert len((folder / "key").read_bytes()) == 32


def test_the_digest_is_keyed_per_machine(tmp_path: Path) -> None:
    one = ledger.digest(tmp_path / "a", "same prompt")
    assert one == ledger.digest(tmp_path / "a", "same prompt")
    assert one != ledger.digest(tmp_path / "b", "same prompt")
    assert one != ledger.digest(tmp_path / "a", "other prompt")


def test_rotation_keeps_the_ledger_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "ROTATE_BYTES", 4096)
    state = tmp_path / "state"
    for n in range(400):
        ledger.record_slice(
            state,
            a_slice(f"m{n}", f"n{n}"),
            event="UserPromptSubmit",
            session_id="s",
            prompt=str(n),
        )
    folder = state / "ledger"
    files = sorted(p.name for p in folder.glob("ledger*.jsonl"))
    assert len(files) == ledger.KEEP + 1
    assert sum(p.stat().st_size for p in folder.glob("ledger*.jsonl")) <= 4096 * (ledger.KEEP + 1)
    kept = ledger.read(state)
    assert kept and kept[-1]["items"][0]["id"] == "m399"  # the newest survive, in order
    ats = [s["at"] for s in kept]
    assert ats == sorted(ats)


def test_a_line_torn_by_kill_9_is_skipped(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ledger.record_slice(state, a_slice("m1"), event="UserPromptSubmit", session_id="s", prompt="p")
    with open(state / "ledger" / "ledger.jsonl", "ab") as f:
        f.write(b'{"kind": "injection", "at": "2026-12-04T1')  # the writer died here
    ledger.record_slice(state, a_slice("m2"), event="UserPromptSubmit", session_id="s", prompt="q")
    assert [s["items"][0]["id"] for s in ledger.read(state)] == ["m1"]
    # the torn line and the next were joined into one bad line; what follows reads again
    ledger.record_slice(state, a_slice("m3"), event="UserPromptSubmit", session_id="s", prompt="r")
    assert [s["items"][0]["id"] for s in ledger.read(state)] == ["m1", "m3"]


def test_a_writer_killed_mid_run_leaves_a_readable_ledger(tmp_path: Path) -> None:
    state = tmp_path / "state"
    code = (
        "import sys\n"
        "from memem.core.slice import Item, Slice\n"
        "from memem.storage import ledger\n"
        "items = tuple(Item(id='m%d' % n, role='decisions', layer=1, score=0.5, title='t',"
        " text='x' * 300, source='search') for n in range(10))\n"
        "s = Slice('md', False, items)\n"
        "print('go', flush=True)\n"
        "while True:\n"
        "    ledger.record_slice(sys.argv[1], s, event='UserPromptSubmit', session_id='k',"
        " prompt='p')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(state)],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"go\n"
    path = state / "ledger" / "ledger.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until some lines are down (bounded; no sleep)
        if path.exists() and path.stat().st_size > 20_000:
            break
        os.sched_yield()
    proc.kill()
    proc.wait(timeout=30)
    shots = ledger.read(state)
    assert shots and all(len(s["items"]) == 10 for s in shots)


def test_decisions_merge_into_items_and_non_memories_stay_undecided(tmp_path: Path) -> None:
    state = tmp_path / "state"
    slice_ = a_slice("m1", "m2", "artifacts:s")
    ledger.record_slice(
        state, slice_, event="UserPromptSubmit", session_id="s", prompt="p", now=100.0
    )
    [shot] = ledger.read(state, undecided=True)
    ledger.decide(state, shot["at"], "s", {"m1": True, "m2": False})
    [shot] = ledger.read(state)
    assert [i["used"] for i in shot["items"]] == [True, False, None] and shot["decided"]
    assert ledger.read(state, undecided=True) == []


def test_read_filters_by_session_since_and_limit(tmp_path: Path) -> None:
    state = tmp_path / "state"
    day = ledger.parse_time("2026-12-04")
    for n, sid in enumerate(["a", "b", "a", "a"]):
        ledger.record_slice(
            state,
            a_slice(f"m{n}"),
            event="UserPromptSubmit",
            session_id=sid,
            prompt="p",
            now=day + n * 3600,
        )
    assert [s["items"][0]["id"] for s in ledger.read(state, session_id="a")] == ["m0", "m2", "m3"]
    since = ledger.parse_time("2026-12-04T02:00:00Z")
    assert [s["items"][0]["id"] for s in ledger.read(state, since=since)] == ["m2", "m3"]
    assert [s["items"][0]["id"] for s in ledger.read(state, limit=1)] == ["m3"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-12-04", "2026-12-04T00:00:00.000Z"),
        ("2026-12-04T15:30", "2026-12-04T15:30:00.000Z"),
        ("2026-12-04T15:30:00.123Z", "2026-12-04T15:30:00.123Z"),
        ("2026-12-04T17:30:00+02:00", "2026-12-04T15:30:00.000Z"),
        (" 2026-12-04 15:30:00 ", "2026-12-04T15:30:00.000Z"),
    ],
)
def test_since_takes_an_iso_date_or_datetime(text: str, iso: str) -> None:
    assert ledger.iso(ledger.parse_time(text)) == iso


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01", "12/04/2026", "2026-12-04T25:00"])
def test_a_bad_since_says_what_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="ISO date or datetime"):
        ledger.parse_time(text)


def test_a_ledger_that_cannot_be_written_never_loses_the_slice(
    project: Path, tmp_path: Path
) -> None:
    (tmp_path / "state" / "ledger").write_text("not a directory")
    payload = {"prompt": "why was the checkout test flaky with Stripe?", "cwd": str(project)}
    assert "fake gateway" in respond("UserPromptSubmit", payload, env(tmp_path))


def test_lines_are_json_objects_one_per_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ledger.record_slice(state, a_slice("m1"), event="PreToolUse", session_id=None, prompt="a.py")
    [line] = (state / "ledger" / "ledger.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert entry["kind"] == "injection" and entry["session_id"] is None
    assert set(entry) == {
        "kind",
        "at",
        "session_id",
        "event",
        "prompt_digest",
        "transcript",
        "chars",
        "items",
    }


@pytest.mark.parametrize(
    ("source", "said"),
    [("search", "search"), ("graph", "neighbour"), ("anchor", "anchor"), ("playbook", "playbook")],
)
def test_each_item_says_where_it_came_from(tmp_path: Path, source: str, said: str) -> None:
    state = tmp_path / "state"
    item = Item(id="m1", role="decisions", layer=1, score=0.5, title="t", text="b", source=source)
    slice_ = Slice("## memem\nb", False, (item,))
    ledger.record_slice(state, slice_, event="UserPromptSubmit", session_id="s", prompt="p")
    [shot] = ledger.read(state)
    assert shot["items"][0]["source"] == said
