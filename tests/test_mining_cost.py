"""The mining cost receipt: tokens per model call on the miner's state (the real `anthropic` SDK
against tests/fake_anthropic.py; a fake `claude` for the estimated CLI backend), `memem status`,
and the daily cap (`MEMEM_MINER_DAILY_TOKENS`): mining pauses, the cursor waits, nothing is
lost, and the next UTC day it resumes."""

from __future__ import annotations

import calendar
import json
import os
import sys
import time
from pathlib import Path

import pytest

from memem import Store
from memem.mining.backends import AnthropicBackend, ClaudeCliBackend, estimate
from memem.mining.miner import Miner
from memem.mining.service import Mining
from memem.settings import Settings, daily_tokens
from memem.storage.miner_state import MinerState, receipt
from tests.conftest import run_cli
from tests.fake_anthropic import FakeAnthropic

NOW = float(calendar.timegm((2026, 12, 4, 12, 0, 0)))
DAY = 86_400.0
SESSION = "9d1e0a3c-0000-4000-8000-00000000c0de"
USAGE = {
    "input_tokens": 900,
    "output_tokens": 120,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 2_000,
}
MEMORY = {
    "title": "Staging database port",
    "content": "Staging Postgres listens on port 5433.",
    "type": "environment",
    "importance": 3,
}


def transcript(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "home" / ".claude" / "projects" / "-code-shop" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for n, text in enumerate(texts):
            kind = "user" if n % 2 == 0 else "assistant"
            content: object = text if kind == "user" else [{"type": "text", "text": text}]
            record = {
                "type": kind,
                "message": {"role": kind, "content": content},
                "uuid": f"e-{os.urandom(4).hex()}",
                "timestamp": "2026-12-04T08:30:00.000Z",
                "sessionId": SESSION,
                "cwd": "/code/shop",
            }
            handle.write(json.dumps(record) + "\n")
    return path


@pytest.fixture
def state(tmp_path: Path) -> MinerState:
    return MinerState(tmp_path / "state" / "miner.sqlite3")


def backend(api: FakeAnthropic) -> AnthropicBackend:
    return AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)


def test_each_call_records_the_apis_usage_fields_cache_included(
    tmp_path: Path, store: Store, state: MinerState, api: FakeAnthropic
) -> None:
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    api.reply_json({"memories": [MEMORY]}, usage=USAGE)
    assert Miner(store, state, backend(api)).mine(str(path), now=NOW).status == "mined"
    today = receipt(state.path, NOW)["today"]
    assert today == {
        "input": 900,
        "output": 120,
        "cache_write": 300,
        "cache_read": 2_000,
        "total": 3_320,
        "calls": 1,
        "estimated": False,
    }
    assert state.tokens_today(NOW) == 3_320


def test_a_malformed_reply_was_paid_for_and_is_on_the_receipt(
    tmp_path: Path, store: Store, state: MinerState, api: FakeAnthropic
) -> None:
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    api.reply_text("<html>not json</html>", usage={"input_tokens": 50, "output_tokens": 5})
    api.reply_json({"memories": []}, usage={"input_tokens": 50, "output_tokens": 2})
    Miner(store, state, backend(api), retry_pause=0).mine(str(path), now=NOW)
    today = receipt(state.path, NOW)["today"]
    assert (today["calls"], today["input"], today["output"]) == (2, 100, 7)


def test_the_claude_cli_backend_records_an_estimate_marked_as_such(
    tmp_path: Path, store: Store, state: MinerState
) -> None:
    claude = tmp_path / "bin" / "claude"
    claude.parent.mkdir()
    reply = json.dumps({"memories": [MEMORY]})
    claude.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nprint({reply!r})\n", encoding="utf-8"
    )
    claude.chmod(0o755)
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    cli = ClaudeCliBackend(env=os.environ, executable=str(claude), cwd=tmp_path / "miner-cwd")
    assert Miner(store, state, cli).mine(str(path), now=NOW).memories == 1
    today = receipt(state.path, NOW)["today"]
    assert today["estimated"] is True and today["calls"] == 1
    assert today["output"] == estimate(reply + "\n")
    assert today["input"] > 500  # the system prompt and the transcript, at ~4 chars a token


def test_the_heuristic_backend_spends_nothing(
    tmp_path: Path, store: Store, state: MinerState
) -> None:
    from memem.mining.backends import HeuristicBackend

    path = transcript(tmp_path, ["Remember that staging Postgres always listens on 5433.", "Ok."])
    Miner(store, state, HeuristicBackend(), daily_tokens=1).mine(str(path), now=NOW)
    assert receipt(state.path, NOW)["today"]["calls"] == 0


def test_today_and_this_month_are_utc_days_and_the_calendar_month(state: MinerState) -> None:
    state.record_tokens("anthropic", {"input": 10, "output": 1}, NOW)
    state.record_tokens("anthropic", {"input": 20, "output": 2}, NOW - 3 * DAY)  # Dec 1
    state.record_tokens("anthropic", {"input": 40, "output": 4}, NOW - 4 * DAY)  # Nov 30
    state.record_tokens("claude-cli", {"input": 5, "output": 5, "estimated": True}, NOW)
    found = receipt(state.path, NOW)
    assert (found["today"]["total"], found["today"]["estimated"]) == (21, True)
    assert (found["month"]["total"], found["month"]["calls"]) == (43, 3)


def test_no_miner_database_reads_as_zero_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state" / "miner.sqlite3"
    assert receipt(path, NOW)["month"]["total"] == 0
    assert not path.exists()


def test_at_the_cap_mining_pauses_keeps_the_cursor_and_resumes_the_next_utc_day(
    tmp_path: Path, store: Store, state: MinerState, api: FakeAnthropic
) -> None:
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    state.discover([(str(path), path.stat().st_size, NOW - DAY)])
    state.record_tokens("anthropic", {"input": 1_000}, NOW - 60)
    miner = Miner(store, state, backend(api), daily_tokens=1_000)
    outcome = miner.mine(str(path), now=NOW)
    assert outcome.status == "paused" and api.message_requests == []
    row = state.row(str(path))
    assert row is not None and row.cursor == 0 and row.status == "pending"
    api.reply_json({"memories": [MEMORY]}, usage=USAGE)
    tomorrow = float(calendar.timegm((2026, 12, 5, 0, 0, 1)))
    assert miner.mine(str(path), now=tomorrow).memories == 1
    assert state.row(str(path)).cursor == path.stat().st_size  # type: ignore[union-attr]


def test_the_cap_reached_mid_session_keeps_the_chunks_done_and_loses_nothing(
    tmp_path: Path, store: Store, state: MinerState, api: FakeAnthropic
) -> None:
    # Two chunks (12,000 characters each at most): the first call reaches the cap.
    path = transcript(tmp_path, [f"Part one. {'a' * 7_000}", f"Part two. {'b' * 7_000}"])
    first = {**MEMORY, "title": "Part one", "content": "Part one: the release train is weekly."}
    second = {**MEMORY, "title": "Part two", "content": "Part two: hotfixes skip the train."}
    api.reply_json({"memories": [first]}, usage={"input_tokens": 900, "output_tokens": 100})
    miner = Miner(store, state, backend(api), daily_tokens=1_000)
    outcome = miner.mine(str(path), now=NOW)
    assert (outcome.status, outcome.memories) == ("paused", 1)
    row = state.row(str(path))
    assert row is not None and (row.cursor, row.chunks_done) == (0, 1)
    api.reply_json({"memories": [second]})
    outcome = miner.mine(str(path), now=NOW + DAY)
    assert (outcome.status, outcome.memories) == ("mined", 1)
    assert len(api.message_requests) == 2  # the first chunk was not sent again
    assert {h.title for h in store.search("release train hotfixes", limit=5)} >= {
        "Part one",
        "Part two",
    }


def test_the_service_mines_nothing_while_paused_and_reports_it(tmp_path: Path) -> None:
    settings = Settings.from_env({**os.environ, "MEMEM_MINER_DAILY_TOKENS": "1_000"})
    mining = Mining(settings)
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    mining.state.set_opt_in("history", NOW - DAY)
    mining.state.discover([(str(path), path.stat().st_size, NOW - DAY)])
    assert mining.due(NOW) == [str(path)]
    mining.state.record_tokens("anthropic", {"input": 999, "output": 1}, NOW)
    assert mining.due(NOW) == []
    tokens = mining.tokens(NOW)
    assert (tokens["daily_cap"], tokens["paused"], tokens["today"]["total"]) == (1_000, True, 1_000)
    assert mining.due(NOW + DAY) == [str(path)]
    assert Mining(Settings.from_env(os.environ)).tokens(NOW)["daily_cap"] is None


@pytest.mark.parametrize(
    ("value", "cap"),
    [
        ("200000", 200_000),
        ("200_000", 200_000),
        ("1,500", 1_500),
        ("", 0),
        ("0", 0),
        ("off", 0),
        ("lots", 0),
        ("-5", 0),
        ("1e6", 0),
    ],
)
def test_the_daily_cap_setting_reads_whole_numbers_and_else_means_no_cap(
    value: str, cap: int
) -> None:
    assert daily_tokens(value) == cap
    assert Settings.from_env({"MEMEM_MINER_DAILY_TOKENS": value}).miner_daily_tokens == cap


def test_memem_status_shows_the_receipt_and_doctor_warns_when_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = MinerState(tmp_path / "state" / "miner.sqlite3")
    now = time.time()
    state.record_tokens("anthropic", {"input": 12_300, "output": 1_204, "cache_read": 500}, now)
    shown = run_cli("status")
    assert shown.returncode == 0, shown.stderr
    assert "mining tokens: today 12.3k in, 1,204 out, 500 cache;" in shown.stdout
    monkeypatch.setenv("MEMEM_MINER_DAILY_TOKENS", "10000")
    data = json.loads(run_cli("status", "--json").stdout)["mining_tokens"]
    assert set(data) == {"today", "month", "daily_cap", "paused"}
    assert (data["daily_cap"], data["paused"], data["today"]["total"]) == (10_000, True, 14_004)
    assert "mining paused until 00:00 UTC" in run_cli("status").stdout
    doctor = run_cli("doctor")
    assert "mining tokens" in doctor.stdout and "MEMEM_MINER_DAILY_TOKENS" in doctor.stdout
    monkeypatch.setenv("MEMEM_MINER_DAILY_TOKENS", "50k")
    typo = run_cli("doctor").stdout
    assert "MEMEM_MINER_DAILY_TOKENS='50k' is not a whole number" in typo
    assert "no daily cap is in force" in typo
    monkeypatch.setenv("MEMEM_MINER_DAILY_TOKENS", "off")
    assert "no daily cap is in force" not in run_cli("doctor").stdout
