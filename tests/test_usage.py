"""Used or not: the pure detector (`memem.core.usage`), transcript turns, and the detection pass
over the ledger (`memem.service.usage`), by hand and in the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memem import Store
from memem.core import usage as core
from memem.core.slice import Item, Slice
from memem.service import usage
from memem.settings import Settings
from memem.storage import ledger
from memem.storage.utility import Utility
from tests.conftest import ROOT

MID = "3f9a1c2e5b7d4f608a1b2c3d4e5f6a7b"
RACE = ("Go tests run with the race detector", "Run `go test -race -count=1 ./...` in CI and here.")


def turn(reply: str = "", *tools: tuple[str, dict[str, Any]], prompt: str = "fix it") -> core.Turn:
    return core.Turn(prompt, reply, tuple(tools), cwd="/home/dev/go-gateway")


@pytest.mark.parametrize(
    ("title", "content", "the_turn", "expected"),
    [
        (*RACE, turn("", ("Bash", {"command": "go test -race -count=1 ./..."})), True),
        (*RACE, turn("Tests pass.", ("Bash", {"command": "go test ./..."})), False),
        (*RACE, turn(f"Per {MID[:8]}, done."), True),
        (*RACE, turn(f"Applied memory {MID}."), True),
        (
            "Upstream calls time out at 2s",
            "Wrap upstream calls in context.WithTimeout(r.Context(), 2*time.Second).",
            turn(
                "Added the proxy.",
                (
                    "Edit",
                    {
                        "file_path": "/x/h.go",
                        "new_string": "context.WithTimeout(r.Context(), 2*time.Second)",
                    },
                ),
            ),
            True,
        ),
        (
            "Deploys need approval",
            "Every deploy to production needs an approval from the team.",
            turn("I changed the test and the code so that it works now."),
            False,
        ),
        # the prompt's own words prove nothing: the memory was recalled for sharing them
        (
            "Stripe webhook signature",
            "Stripe webhook signature verification needs the raw request body.",
            turn(
                "Looked at the Stripe webhook signature code.",
                prompt="why does the Stripe webhook signature check fail?",
            ),
            False,
        ),
        # a file only Read is not acted on
        (
            "reader.rs buffers lines",
            "src/reader.rs uses BufReader::with_capacity(64 * 1024) for speed.",
            turn("The parser is fine.", ("Read", {"file_path": "src/reader.rs"})),
            False,
        ),
        (
            "Money is integer cents",
            "Store prices as integer cents (price_cents), never floats.",
            turn(
                "Returned a float. There's a note about integer cents, but I'll ignore it here.",
                ("Edit", {"file_path": "/x/cart.py", "new_string": "price_cents / 100"}),
            ),
            False,
        ),
    ],
)
def test_the_detector_decides_from_distinctive_content(
    title: str, content: str, the_turn: core.Turn, expected: bool
) -> None:
    assert core.used(MID, title, content, the_turn) is expected


def record(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "isSidechain": False, "cwd": "/home/dev/shop", **fields}


def prompt(text: str, at: str) -> dict[str, Any]:
    return record("user", message={"role": "user", "content": text}, timestamp=at)


def reply(text: str, *tools: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    blocks += [
        {"type": "tool_use", "id": f"t{n}", "name": n_, "input": i}
        for n, (n_, i) in enumerate(tools)
    ]
    return record("assistant", message={"role": "assistant", "content": blocks})


def write(path: Path, *records: dict[str, Any], garbage: bool = False) -> None:
    lines = [json.dumps(r) for r in records]
    if garbage:
        lines.insert(1, '{"type": "user", "message": {')
    path.write_text("\n".join(lines) + "\n")


def test_exchanges_are_prompts_with_what_followed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(
        path,
        prompt("first", "2026-12-04T10:00:00.000Z"),
        reply("Looking.", ("Read", {"file_path": "/a.py"})),
        record(
            "user",
            message={"content": [{"type": "tool_result", "tool_use_id": "t0", "content": "x"}]},
        ),
        record("user", isMeta=True, message={"content": "skill body"}),
        {**reply("side", ("Edit", {"file_path": "/side.py"})), "isSidechain": True},
        reply("Done.", ("Edit", {"file_path": "/a.py", "new_string": "y"})),
        prompt("second", "2026-12-04T10:05:00.000Z"),
        reply("Working", ("Bash", {"command": "make"})),
        garbage=True,
    )
    first, second = core.exchanges(path.read_bytes())
    assert first.turn.prompt == "first" and first.closed and first.at == "2026-12-04T10:00:00.000Z"
    assert first.turn.reply == "Looking.\nDone." and first.turn.files == ("/a.py",)
    assert [n for n, _ in first.turn.tool_calls] == ["Read", "Edit"]
    assert second.turn.prompt == "second" and not second.closed


@pytest.fixture
def memories(store: Store) -> dict[str, str]:
    checkout = store.save(
        "The checkout test was flaky because it called Stripe; use the FakeGateway fixture "
        "(tests/fakes/gateway.py).",
        project="shop",
        title="Checkout tests use FakeGateway",
    )
    deploy = store.save(
        "Deploys go through fly deploy --strategy bluegreen from main, never from a branch.",
        project="shop",
        title="Deploy with fly bluegreen",
    )
    return {"checkout": checkout.id, "deploy": deploy.id}


def env(tmp_path: Path) -> dict[str, str]:
    return {"MEMEM_DIR": str(tmp_path / "state"), "MEMEM_OBSIDIAN_VAULT": str(tmp_path / "vault")}


def inject(
    memories: dict[str, str], tmp_path: Path, text: str, transcript: Path | None
) -> dict[str, Any]:
    """What the prompt hook records when it injects both memories and the session's files."""
    items = tuple(
        Item(id=i, role="decisions", layer=1, score=0.8, title="t", text="x", source="search")
        for i in [*memories.values(), "artifacts:s-1"]
    )
    ledger.record_slice(
        tmp_path / "state",
        Slice("md", False, items),
        event="UserPromptSubmit",
        session_id="s-1",
        prompt=text,
        transcript=str(transcript) if transcript else None,
    )
    return ledger.read(tmp_path / "state")[-1]


ASK = "checkout test flaky with Stripe; and deploys from main with fly?"


def test_a_finished_turn_is_decided_and_feeds_the_utility_store(
    memories: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "s-1.jsonl"
    shot = inject(memories, tmp_path, ASK, path)
    ids = set(memories.values())
    write(
        path,
        prompt(ASK, shot["at"]),
        reply(
            "Swapped in the FakeGateway fixture.",
            (
                "Edit",
                {
                    "file_path": "/w/tests/test_checkout.py",
                    "new_string": "from tests.fakes.gateway import FakeGateway",
                },
            ),
        ),
        prompt("thanks", shot["at"]),
    )
    settings = Settings.from_env(env(tmp_path))
    result = usage.detect(settings)
    assert (result.decided, result.used, result.unused) == (1, 1, 1)
    [decided] = ledger.read(tmp_path / "state")
    used = {i["id"]: i["used"] for i in decided["items"]}
    assert used == {memories["checkout"]: True, memories["deploy"]: False, "artifacts:s-1": None}
    with Utility.open(tmp_path / "state") as utility:
        records = utility.records(sorted(ids))
    assert set(records) == ids
    assert usage.detect(settings).decided == 0  # decided once


def test_an_open_turn_waits_for_the_next_prompt_or_the_settle_time(
    memories: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "s-1.jsonl"
    shot = inject(memories, tmp_path, ASK, path)
    write(path, prompt(ASK, shot["at"]), reply("Swapped in the FakeGateway fixture."))
    settings = Settings.from_env(env(tmp_path))
    assert usage.detect(settings).pending == 1
    later = ledger.parse_time(shot["at"]) + settings.settle_seconds + 1
    assert usage.detect(settings, now=later).decided == 1


def test_the_store_carries_the_settle_time_so_memem_ledger_and_the_engine_honour_it(
    memories: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "s-1.jsonl"
    shot = inject(memories, tmp_path, ASK, path)
    write(path, prompt(ASK, shot["at"]), reply("Swapped in the FakeGateway fixture."))
    with Store.open(env={**env(tmp_path), "MEMEM_MINER_SETTLE_SECONDS": "0"}) as store:
        assert store.settings.settle_seconds == 0.0
        assert usage.detect(store.settings).decided == 1


def test_a_repeated_prompt_is_not_decided_on_an_old_turn_with_the_same_words(
    memories: dict[str, str], tmp_path: Path
) -> None:
    """ "continue" at 10:00 and again at 11:00: until the 11:00 turn is in the transcript,
    the 11:00 injection waits; the 10:00 turn (the same digest) is not its turn."""
    path = tmp_path / "s-1.jsonl"
    items = (
        Item(
            id=memories["deploy"],
            role="decisions",
            layer=1,
            score=0.8,
            title="t",
            text="x",
            source="search",
        ),
    )
    ten = ledger.parse_time("2026-12-04T10:00:00Z")
    for when in (ten, ten + 3600):
        ledger.record_slice(
            tmp_path / "state",
            Slice("md", False, items),
            event="UserPromptSubmit",
            session_id="s-1",
            prompt="continue",
            transcript=str(path),
            now=when,
        )
    first, _ = ledger.read(tmp_path / "state")
    write(
        path,
        prompt("continue", first["at"]),
        reply("Ran it.", ("Bash", {"command": "fly deploy --strategy bluegreen"})),
        prompt("thanks", ledger.iso(ten + 60)),
    )
    settings = Settings.from_env(env(tmp_path))
    result = usage.detect(settings, now=ten + 3600 + 30)
    assert (result.decided, result.used, result.pending) == (1, 1, 1)
    decided = [shot["decided"] for shot in ledger.read(tmp_path / "state")]
    assert decided == [True, False]


def test_an_unreadable_transcript_closes_undecided_after_a_day(
    memories: dict[str, str], tmp_path: Path
) -> None:
    shot = inject(memories, tmp_path, ASK, tmp_path / "gone.jsonl")
    settings = Settings.from_env(env(tmp_path))
    assert usage.detect(settings).pending == 1
    day = ledger.parse_time(shot["at"]) + usage.GIVE_UP_SECONDS + 1
    assert usage.detect(settings, now=day).abandoned == 1
    [closed] = ledger.read(tmp_path / "state")
    assert closed["decided"] and all(i["used"] is None for i in closed["items"])


def test_a_garbled_transcript_never_crashes_the_pass(
    memories: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "s-1.jsonl"
    inject(memories, tmp_path, ASK, path)
    path.write_bytes(b"\x00\xff{not json\n[1,2]\n" + b"{" * 100_000 + b"\n")
    assert usage.detect(Settings.from_env(env(tmp_path))).pending == 1


def test_the_engine_decides_without_mining_opt_in(memories: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "s-1.jsonl"
    shot = inject(memories, tmp_path, ASK, path)
    write(
        path,
        prompt(ASK, shot["at"]),
        reply("Ran fly deploy --strategy bluegreen from main."),
        prompt("next", shot["at"]),
    )
    run = subprocess.run(
        [sys.executable, "-m", "memem", "daemon", "run", "--once"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    [decided] = ledger.read(tmp_path / "state")
    assert decided["decided"], run.stderr
    used = {i["id"]: i["used"] for i in decided["items"]}
    assert used == {memories["checkout"]: False, memories["deploy"]: True, "artifacts:s-1": None}


def test_the_detector_meets_its_target_on_the_held_out_half() -> None:
    from benchmarks import bench_usage

    scores = bench_usage.measure(bench_usage.load(), bench_usage.detector)
    assert scores["holdout"].precision >= 0.8 and scores["holdout"].recall >= 0.8
    # and it beats both baselines on the held-out half
    for baseline in (bench_usage.all_used, bench_usage.naive_overlap):
        other = bench_usage.measure(bench_usage.load(), baseline)["holdout"]
        assert scores["holdout"].f1 > other.f1
