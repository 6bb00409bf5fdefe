"""The mining service (memem.mining.service) end to end: a real Store, the real miner state,
the real `anthropic` SDK talking to the fake Messages API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from memem import Store
from memem.errors import ConfigError
from memem.mining.service import Mining
from memem.settings import MINER_CHILD, Settings
from tests.fake_anthropic import FakeAnthropic, lesson
from tests.test_miner import write_session

SECRET = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"


@pytest.fixture
def environ(isolated: Path, api: FakeAnthropic) -> dict[str, str]:
    """An entry point's environment: the Anthropic backend on the fake API, no settle time,
    and no daemon started behind the test's back."""
    return dict(
        os.environ,
        ANTHROPIC_API_KEY="sk-ant-test-key",
        ANTHROPIC_BASE_URL=api.url,
        MEMEM_MINER_BACKEND="anthropic",
        MEMEM_MINER_SETTLE_SECONDS="0",
        MEMEM_ENGINE="off",
    )


@pytest.fixture
def mining(environ: dict[str, str]) -> Mining:
    return Mining(Settings.from_env(environ), environ)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    repo = tmp_path / "code" / "shop"
    (repo / ".git").mkdir(parents=True)
    return repo


def transcript(name: str, workdir: Path, *prompts: str) -> Path:
    """A settled Claude Code transcript in ~/.claude/projects, one exchange per prompt."""
    turns: list[tuple[str, str]] = []
    for prompt in prompts:
        turns += [("user", prompt), ("assistant", "Understood, noted for later.")]
    path = Path(os.environ["HOME"]) / ".claude" / "projects" / "-code-shop" / f"{name}.jsonl"
    write_session(path, turns, str(workdir))
    os.utime(path, (time.time() - 10, time.time() - 10))
    return path


# -- mining ----------------------------------------------------------------------------------


def test_a_transcript_is_mined_into_the_store_and_its_exchanges_are_searchable(
    mining: Mining, store: Store, api: FakeAnthropic, workdir: Path
) -> None:
    path = transcript("s1", workdir, f"We chose Postgres for the orders service; token {SECRET}")
    api.reply_json({"memories": [lesson("Orders use Postgres")]})
    assert mining.discover() == 1
    assert mining.opt("history").startswith("not started (MEMEM_ENGINE=off")
    assert mining.due(time.time()) == [str(path)]
    outcome = mining.miner(store).mine(str(path))
    assert (outcome.status, outcome.memories) == ("mined", 1)
    memory = store.get(store.search("orders postgres")[0].id)
    assert (memory.title, memory.project, memory.source_type) == (
        "Orders use Postgres",
        "shop",
        "mined",
    )
    # What went to the model and what the transcript index keeps never hold the secret.
    assert SECRET not in json.dumps(api.message_requests[0].body)
    hits = mining.search("postgres orders")
    assert [h["session"] for h in hits] == ["s1"]
    assert SECRET not in str(hits) and "[Postgres]" in hits[0]["user"]
    assert mining.due(time.time()) == []  # mined: nothing left to do
    status = mining.status()
    assert status["sessions"] == {"mined": 1} and status["last_mined"] == str(path)
    assert (status["opt_in"], status["daemon"], status["errors"]) == ("history", "not running", [])


def test_a_model_failure_keeps_the_cursor_and_shows_in_status_until_retried(
    mining: Mining, store: Store, api: FakeAnthropic, workdir: Path
) -> None:
    path = transcript("s2", workdir, "We deploy the shop with Fly.io from main only")
    mining.discover()
    mining.opt("history")
    api.fail(529, retry_after=120)  # past the in-place retry window: recorded at once
    outcome = mining.miner(store).mine(str(path))
    assert outcome.status == "failed" and "529" in outcome.error
    row = mining.state.row(str(path))
    assert row is not None and (row.cursor, row.attempts) == (0, 1)
    assert row.next_attempt >= time.time() + 100  # the server's hint is honoured
    assert mining.due(time.time()) == []  # backing off
    errors = mining.status()["errors"]
    assert [(e["session"], e["status"]) for e in errors] == [(str(path), "failed")]
    assert "529" in errors[0]["error"]
    # The part's exchanges were indexed before the model call; mining it again re-indexes the
    # same part instead of adding it twice.
    assert len(mining.search("fly.io deploy")) == 1
    assert mining.retry_failed() == 1
    assert mining.unmined() == [str(path)]
    api.reply_json({"memories": [lesson("Deploys go through Fly.io from main")]})
    assert mining.miner(store).mine(str(path), explicit=True).memories == 1
    row = mining.state.row(str(path))
    assert row is not None and row.cursor == path.stat().st_size and row.status == "mined"
    assert mining.status()["errors"] == []
    assert len(mining.search("fly.io deploy")) == 1


def test_the_breaker_pauses_what_is_due_after_failures_in_a_row(
    mining: Mining, store: Store, api: FakeAnthropic, workdir: Path
) -> None:
    paths = [
        transcript(f"b{n}", workdir, f"Durable fact number {n} about caching") for n in range(6)
    ]
    mining.discover()
    mining.opt("history")
    api.fail(401, times=5)  # permanent: dead at once, no in-place retry
    miner = mining.miner(store)
    now = time.time()
    for path in paths[:5]:
        assert miner.mine(str(path), now=now).status == "dead"
    assert mining.breaker_open(now)
    assert mining.due(now) == []  # the sixth session waits with the rest
    assert mining.due(now + 700) == [str(paths[5])]  # the pause is ten minutes
    assert [r.path for r in mining.dead()] == [str(p) for p in paths[:5]]


def test_memem_own_claude_sessions_are_skipped_and_never_count_as_unmined(
    mining: Mining, store: Store, api: FakeAnthropic, tmp_path: Path
) -> None:
    own = mining.settings.state_dir / "miner-cwd"
    own.mkdir(parents=True)
    path = transcript("own", own, "Extract the lessons of this conversation")
    mining.discover()
    assert mining.unmined() == [str(path)]
    assert mining.miner(store).mine(str(path)).status == "skipped"
    assert mining.unmined() == [] and api.message_requests == []


def test_a_backend_that_cannot_work_is_a_config_error_and_offline_mining_still_works(
    isolated: Path, store: Store, workdir: Path
) -> None:
    environ = dict(os.environ, MEMEM_MINER_BACKEND="anthropic")  # and no ANTHROPIC_API_KEY
    mining = Mining(Settings.from_env(environ), environ)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        mining.miner(store)
    assert "mining will fail" in mining.backend_name()
    path = transcript("h1", workdir, "Always run make migrate before make test in this repo")
    miner = mining.miner(store, offline=True)
    assert miner.backend.name == "heuristic"
    assert miner.mine(str(path)).memories == 1
    assert "make migrate" in store.get(store.search("make migrate")[0].id).content


# -- the opt-in ------------------------------------------------------------------------------


def test_nothing_is_due_until_the_user_opts_in_and_nothing_after_opting_out(
    mining: Mining, workdir: Path
) -> None:
    path = transcript("o1", workdir, "We use uv for every install")
    mining.discover()
    assert mining.opt_in == "none" and mining.due(time.time()) == []
    mining.opt("history")
    assert mining.due(time.time()) == [str(path)]
    assert mining.opt("none") == ""
    assert mining.opt_in == "none" and mining.due(time.time()) == []


def test_opting_in_to_new_sessions_leaves_the_sessions_written_before_alone(
    mining: Mining, workdir: Path
) -> None:
    old = transcript("before", workdir, "An old fact about the build")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    mining.opt("new", now=time.time() - 60)
    new = transcript("after", workdir, "A new fact about the build")
    mining.discover()
    assert mining.sessions() == 2
    assert mining.due(time.time()) == [str(new)]


def test_an_unknown_opt_in_mode_is_refused_and_changes_nothing(mining: Mining) -> None:
    with pytest.raises(ValueError, match="opt-in is one of"):
        mining.opt("everything")
    assert mining.opt_in == "none"


def test_opting_in_inside_memem_own_claude_run_starts_no_daemon(isolated: Path) -> None:
    environ = dict(os.environ, **{MINER_CHILD: "1"})
    mining = Mining(Settings.from_env(environ), environ)
    assert mining.opt("new") == "skipped (inside memem's own claude session)"
    assert mining.opt_in == "new"
    assert not mining.daemon_running()
    assert not (mining.settings.state_dir / "daemon.lock").exists()


# -- reading ---------------------------------------------------------------------------------


def test_status_before_anything_was_mined(mining: Mining) -> None:
    status = mining.status()
    assert status == {
        "opt_in": "none",
        "backend": status["backend"],
        "daemon": "not running",
        "heartbeat": None,
        "sessions": {},
        "last_mined": None,
        "errors": [],
    }
    assert status["backend"].startswith("anthropic (MEMEM_MINER_BACKEND=anthropic")
    assert "sk-ant-test-key" not in status["backend"]
    assert mining.daemon_status() == {"running": False}


def test_status_lists_only_the_five_latest_errors(
    mining: Mining, store: Store, api: FakeAnthropic, workdir: Path
) -> None:
    paths = [
        transcript(f"e{n}", workdir, f"A fact about queue {n} worth keeping") for n in range(7)
    ]
    for n, path in enumerate(paths):
        os.utime(path, (time.time() - 100 + n, time.time() - 100 + n))
    mining.discover()
    api.fail(400, times=7)
    miner = mining.miner(store)
    for path in paths:
        miner.mine(str(path))
    errors = mining.status()["errors"]
    assert [e["session"] for e in errors] == [str(p) for p in paths[2:]]
    assert all(e["status"] == "dead" and "400" in e["error"] for e in errors)


def test_the_transcript_index_is_opened_only_when_first_used(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "fresh", vault_dir=tmp_path / "vault")
    mining = Mining(settings)
    assert not settings.miner_path.exists()
    assert mining.search("anything") == []
    assert settings.miner_path.exists()
