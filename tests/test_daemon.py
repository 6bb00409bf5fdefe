"""The daemon as users run it: separate processes, the real `anthropic` SDK against the fake
Messages API on 127.0.0.1, a real watchdog observer, kill -9 in the middle."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memem import Store
from tests.conftest import ROOT, run_cli
from tests.engine_helpers import alive
from tests.fake_anthropic import FakeAnthropic, lesson
from tests.test_miner import record
from tests.waiting import wait_until

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def env(isolated: Path, api: FakeAnthropic) -> Iterator[dict[str, str]]:
    environ = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        ANTHROPIC_API_KEY="sk-ant-test-key",
        ANTHROPIC_BASE_URL=api.url,
        MEMEM_MINER_BACKEND="anthropic",
        MEMEM_MINER_SETTLE_SECONDS="0",
    )
    environ.pop("MEMEM_ENGINE")  # these tests start the engine, and stop it below
    yield environ
    # Whatever a test did, no daemon outlives it.
    status = Path(os.environ["MEMEM_DIR"]) / "daemon.json"
    if status.exists():
        pid = int(json.loads(status.read_text()).get("pid") or 0)
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)


def projects_dir() -> Path:
    return Path(os.environ["HOME"]) / ".claude" / "projects"


def session(name: str, cwd: Path, *lines: str) -> Path:
    path = projects_dir() / "-work-shop" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    os.utime(path, (time.time() - 10, time.time() - 10))
    return path


def realistic(name: str, cwd: Path) -> Path:
    c = str(cwd)
    tool_use = {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "t1",
                "name": "Bash",
                "input": {"command": "cat secrets.txt"},
            }
        ],
    }
    tool_result = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "TOOL-OUTPUT-MARKER 42"}
        ],
    }
    slice_attachment = {
        "type": "attachment",
        "attachment": {
            "type": "hook_additional_context",
            "content": ["<memem-memory>SLICE-MARKER</memem-memory>"],
        },
        "cwd": c,
        "sessionId": name,
        "timestamp": "2026-11-20T10:00:00Z",
        "uuid": "a1",
    }
    return session(
        name,
        cwd,
        record("user", f"We decided to use Postgres for {name}; token {SECRET}", c, session=name),
        json.dumps(
            {
                "type": "assistant",
                "message": tool_use,
                "cwd": c,
                "sessionId": name,
                "timestamp": "2026-11-20T10:00:01Z",
                "uuid": "x1",
            }
        )
        + "\n",
        json.dumps(
            {
                "type": "user",
                "message": tool_result,
                "cwd": c,
                "sessionId": name,
                "timestamp": "2026-11-20T10:00:02Z",
                "uuid": "x2",
            }
        )
        + "\n",
        json.dumps(slice_attachment) + "\n",
        record("assistant", "Postgres it is, because of JSONB.", c, session=name),
    )


def daemon(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "memem", "daemon", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def opt_in(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memem", "mine", "--opt-in", "history", "--yes"],
        env={**env, "MEMEM_ENGINE": "off"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def workdir(isolated: Path) -> Path:
    repo = isolated / "work" / "shop"
    (repo / ".git").mkdir(parents=True)
    return repo


def mined_titles() -> list[str]:
    with Store.open() as store:
        return sorted(m.title for p in store.list(recent=100) for m in p.recent)


def test_once_mines_settled_sessions_and_sends_nothing_it_should_not(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    realistic("alpha", workdir)
    api.reply_json({"memories": [lesson("Postgres is the database of alpha")]})
    opt_in(env)
    run = daemon(env, "run", "--once")
    assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
    assert mined_titles() == ["Postgres is the database of alpha"]
    sent = json.dumps(api.message_requests[0].body)
    assert "Postgres for alpha" in sent
    assert SECRET not in sent and "TOOL-OUTPUT-MARKER" not in sent and "SLICE-MARKER" not in sent
    with Store.open() as store:
        memory = store.get(store.search("alpha database postgres")[0].id)
    assert (memory.project, memory.source_type, memory.source_session) == ("shop", "mined", "alpha")


def test_with_the_api_down_once_returns_and_loses_nothing(
    env: dict[str, str], workdir: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    down = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{dead_port}"}
    for name in ("one", "two", "three"):
        realistic(name, workdir)
    opt_in(down)
    run = daemon(down, "run", "--once")
    assert run.wait(timeout=180) == 0
    status = json.loads(run_cli_env(down, "status", "--json"))["miner"]
    assert status["sessions"].get("failed", 0) + status["sessions"].get("dead", 0) == 3
    assert mined_titles() == []


def run_cli_env(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "memem", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kill_9_mid_mining_then_restart_mines_every_session_exactly_once(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    for name in ("a", "b", "c"):
        realistic(name, workdir)
    opt_in(env)
    api.reply_json({"memories": [lesson("Lesson from the first session")]})
    api.hang(60)  # the second session's request never comes back before the kill
    first = daemon(env, "run", "--once")
    api.wait_for(2, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    api.close()
    with FakeAnthropic() as again:
        again.reply_json({"memories": [lesson("Lesson from the second session")]})
        again.reply_json({"memories": [lesson("Lesson from the third session")]})
        second = daemon({**env, "ANTHROPIC_BASE_URL": again.url}, "run", "--once")
        assert second.wait(timeout=120) == 0
        assert len(again.message_requests) == 2  # the first session was not mined again
    assert mined_titles() == [
        "Lesson from the first session",
        "Lesson from the second session",
        "Lesson from the third session",
    ]


def fact(n: int) -> str:
    """A fact of its own vocabulary, so that neither dedup nor the contradiction check may
    take one fact for another."""
    rng = random.Random(n)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(9)) for _ in range(6)]
    return f"The {words[0]} {words[1]} job needs {words[2]} {words[3]} before {words[4]} runs."


FACT_LINE = re.compile(r"FACT(\d+): ([^\n]+)")


def lessons_for(request: dict[str, object]) -> str:
    """The fake model's answer: one memory per FACT line of the transcript it was sent."""
    sent = json.dumps(request.get("messages"))
    found = dict(FACT_LINE.findall(json.loads(sent)[0]["content"]))
    memories = [
        {"title": f"Fact {n}", "content": content, "type": "convention", "importance": 3}
        for n, content in sorted(found.items(), key=lambda item: int(item[0]))
    ]
    return json.dumps({"memories": memories})


def test_kill_9_at_many_points_while_mining_saves_every_fact_exactly_once(
    env: dict[str, str], workdir: Path
) -> None:
    # 4 sessions of 3 chunks, one fact a chunk; the daemon is SIGKILLed at a new point each
    # time (as a request arrives, or just after a reply, while it saves), then restarted.
    sessions, per_session = 4, 3
    for s in range(sessions):
        turns = []
        for c in range(per_session):
            n = s * per_session + c
            turns.append(
                record("user", f"FACT{n}: {fact(n)}\n" + "x" * 7000, str(workdir), f"k{s}")
            )
        session(f"k{s}", workdir, *turns)
    total = sessions * per_session
    with FakeAnthropic(respond=lessons_for) as api:
        run_env = {**env, "ANTHROPIC_BASE_URL": api.url}
        opt_in(run_env)
        from memem.settings import Settings
        from memem.storage.miner_state import MinerState

        state = MinerState(Settings.from_env(os.environ).miner_path)
        for kill in range(1, 9):
            run = daemon(run_env, "run")
            seen = len(api.message_requests)
            if kill % 2:
                api.wait_for(seen + kill % 3 + 1, timeout=60)  # mid-request
            else:
                api.wait_replied(api.replied + 1, timeout=60)  # just after a reply
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
            if state.counts().get("mined", 0) == sessions:
                break
        last = daemon(run_env, "run", "--once")
        assert last.wait(timeout=180) == 0
    with Store.open() as store:
        files = sorted(store.vault.memories_dir.rglob("*.md"))
        assert store.status().memories == total
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert len(texts) == total
    for n in range(total):
        assert sum(fact(n) in text for text in texts) == 1, f"fact {n}"
    assert not list(Path(os.environ["MEMEM_DIR"]).glob(".daemon.json.*.tmp"))


def test_a_memory_file_the_index_missed_is_known_to_dedup_when_its_chunk_is_mined_again(
    env: dict[str, str], workdir: Path, isolated: Path
) -> None:
    # What a kill -9 between a memory file's write and its index row leaves: the file in the
    # vault, unknown to the index, and the chunk not counted done. The daemon reconciles the
    # index on start, so mining the chunk again finds the file and saves nothing twice.
    with Store.open():
        pass  # the daemon's index exists, and does not know what comes next
    vault = Path(os.environ["MEMEM_OBSIDIAN_VAULT"])
    with Store.open(state_dir=isolated / "elsewhere", vault_dir=vault) as other:
        other.add(fact(0), title="Fact 0", project="shop", tags=("convention",), importance=3)
    session("again", workdir, record("user", f"FACT0: {fact(0)}", str(workdir), "again"))
    with FakeAnthropic(respond=lessons_for) as api:
        run_env = {**env, "ANTHROPIC_BASE_URL": api.url}
        opt_in(run_env)
        run = daemon(run_env, "run", "--once")
        assert run.wait(timeout=120) == 0
        assert len(api.message_requests) == 1
    with Store.open() as store:
        files = sorted(store.vault.memories_dir.rglob("*.md"))
    assert sum(fact(0) in f.read_text(encoding="utf-8") for f in files) == 1


def test_status_temp_files_a_killed_daemon_left_are_removed_on_start(
    env: dict[str, str], isolated: Path
) -> None:
    state = Path(os.environ["MEMEM_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    stale = [state / ".daemon.json.4242.tmp", state / ".daemon.json.31337.tmp"]
    for path in stale:
        path.write_text("{", encoding="utf-8")
    run = daemon(env, "run", "--once")
    assert run.wait(timeout=120) == 0
    assert not [p for p in stale if p.exists()]
    assert json.loads((state / "daemon.json").read_text())["state"] == "stopped"


def test_the_daemon_watches_stops_on_request_and_leaves_no_process(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    opt_in(env)
    assert "started" in run_cli_env(env, "daemon", "ensure")
    wait_until(
        lambda: json.loads(run_cli_env(env, "daemon", "status", "--json"))["running"],
        timeout=30,
        what="the daemon running",
    )
    assert "running" in run_cli_env(env, "daemon", "ensure")  # idempotent
    api.reply_json({"memories": [lesson("A lesson the watcher found")]})
    realistic("watched", workdir)
    wait_until(
        lambda: mined_titles() == ["A lesson the watcher found"],
        timeout=60,
        what="the watched session mined",
    )
    status = json.loads(run_cli_env(env, "daemon", "status", "--json"))
    pid = int(status["pid"])
    assert "stopped" in run_cli_env(env, "daemon", "stop")
    wait_until(lambda: not alive(pid), timeout=30, what="the daemon gone after stop")


def test_daemon_stop_drains_within_its_timeout_when_the_api_hangs(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    # Before: each hung request held the daemon for the client's 45 s timeout, times the
    # in-place retries (~150 s); `daemon stop` gave up after 30 s and the daemon lived on.
    for _ in range(10):
        api.hang(600)
    realistic("hung", workdir)
    opt_in(env)
    assert "started" in run_cli_env(env, "daemon", "ensure")
    api.wait_for(1, timeout=60)
    pid = int(json.loads(run_cli_env(env, "daemon", "status", "--json"))["pid"])
    assert "stopped" in run_cli_env(env, "daemon", "stop")  # lifecycle.stop, default timeout
    wait_until(lambda: not alive(pid), timeout=10, what="the daemon gone after stop")
    status = json.loads(run_cli_env(env, "status", "--json"))["miner"]
    assert status["sessions"].get("pending") == 1  # not failed, not dead: mined next time


def test_an_explicit_mine_ignores_the_breaker(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    path = realistic("explicit", workdir)
    api.reply_json({"memories": [lesson("Mined because a person asked")]})
    with Store.open():
        pass
    from memem.settings import Settings
    from memem.storage.miner_state import MinerState

    state = MinerState(Settings.from_env(os.environ).miner_path)
    state.put("breaker_until", repr(time.time() + 3600))
    out = run_cli_env(env, "mine", "--session", str(path))
    assert "1 new memories" in out
    assert mined_titles() == ["Mined because a person asked"]
    assert run_cli("status").returncode == 0


def test_a_reply_with_lone_surrogates_neither_stalls_the_queue_nor_hammers_the_api(
    env: dict[str, str], api: FakeAnthropic, workdir: Path
) -> None:
    # `"\ud800"` is valid JSON that no UTF-8 writer accepts: it once crashed the mining of its
    # session before anything was recorded, so the same session stayed due and was sent
    # again every few seconds while the sessions behind it waited forever.
    realistic("alpha", workdir)
    realistic("beta", workdir)
    api.reply_text(
        '{"memories": [{"title": "Broken \\ud800 title", "content": "Lone \\udfff surrogate",'
        ' "type": "decision", "importance": 3, "tags": ["x\\ud800"]}]}'
    )
    api.reply_json({"memories": [lesson("The second session is mined too")]})
    opt_in(env)
    run = daemon(env, "run", "--once")
    assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
    assert len(api.message_requests) == 2  # one call per session, none repeated
    assert mined_titles() == ["Broken \ufffd title", "The second session is mined too"]
    status = json.loads(run_cli_env(env, "status", "--json"))["miner"]
    assert status["sessions"].get("mined") == 2


def test_the_engine_reports_its_own_time_per_kind_of_request(
    env: dict[str, str], store: Store, workdir: Path
) -> None:
    from memem.engine import client

    store.save("Deploys go through Fly.io from main.", project="shop")
    assert "the engine answers" in run_cli_env(env, "daemon", "ensure")
    state = os.environ["MEMEM_DIR"]
    payload = {"prompt": "how do we deploy?", "cwd": str(workdir), "session_id": "timed"}
    answer = client.hook("UserPromptSubmit", json.dumps(payload).encode(), env, state)
    assert answer is not None and b"Fly.io" in answer
    timing = client.call(env, state, "status")["request_ms"]
    hook = timing["hook UserPromptSubmit"]
    assert hook["count"] == 1
    assert 0 <= hook["cpu_p50"] <= hook["p50"] == hook["max"]
    status = json.loads(run_cli_env(env, "daemon", "status", "--json"))
    assert status["request_ms"]["status"]["count"] >= 1
    assert status["reconciles"] == 0  # nothing was edited behind memem's back
    pid = int(status["pid"])
    assert "stopped" in run_cli_env(env, "daemon", "stop")
    wait_until(lambda: not alive(pid), timeout=30, what="the engine gone after stop")
