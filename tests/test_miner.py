"""The miner, in process, with fake backends (classes that follow the Backend protocol)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from memem import Store
from memem.core.extraction import Lesson
from memem.core.transcript import MINER_MARKER, Message
from memem.errors import MalformedReply, PermanentError, TransientError
from memem.mining.miner import MAX_FAILURES, RETRIES_IN_PLACE, Miner, session_files
from memem.storage.miner_state import BREAKER_FAILURES, MinerState
from tests.fake_anthropic import FakeAnthropic

T = "2026-11-20T10:00:00.000Z"


def record(kind: str, text: str, cwd: str, session: str = "sess-1", **extra: object) -> str:
    message: object
    if kind == "user":
        message = {"role": "user", "content": text}
    else:
        message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
    body = {
        "type": kind,
        "message": message,
        "uuid": f"u-{abs(hash(text)) % 10**8}",
        "parentUuid": None,
        "isSidechain": False,
        "timestamp": T,
        "sessionId": session,
        "cwd": cwd,
        "version": "2.1.329",
        "gitBranch": "main",
        **extra,
    }
    return json.dumps(body) + "\n"


def write_session(path: Path, turns: Sequence[tuple[str, str]], cwd: str, mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8") as handle:
        for kind, text in turns:
            handle.write(record(kind, text, cwd, session=path.stem))
    return path


class Recorder:
    """A backend that returns one lesson per user message and records what it was sent."""

    name = "recorder"

    def __init__(self, fail: list[Exception] | None = None) -> None:
        self.seen: list[str] = []
        self.fail = fail or []

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        self.seen.append("\n".join(m.text for m in messages))
        if self.fail:
            raise self.fail.pop(0)
        return [
            Lesson(
                title=m.text[:60],
                content=f"Lesson: {m.text}",
                type="convention",
                tags=("mined",),
                importance=3,
                layer=None,
            )
            for m in messages
            if m.role == "user"
        ]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    repo = tmp_path / "code" / "shop"
    (repo / ".git").mkdir(parents=True)
    return repo


@pytest.fixture
def state(tmp_path: Path) -> MinerState:
    return MinerState(tmp_path / "state" / "miner.sqlite3")


def sessions_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".claude" / "projects" / "-code-shop"


def test_nothing_is_due_before_opting_in(tmp_path: Path, state: MinerState, workdir: Path) -> None:
    write_session(
        sessions_dir(tmp_path) / "a.jsonl", [("user", "Always use uv for installs")], str(workdir)
    )
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    assert state.due(time.time() + 999, settle=0) == []
    state.set_opt_in("history", time.time())
    assert len(state.due(time.time() + 999, settle=0)) == 1


def test_opting_in_to_new_sessions_leaves_the_past_alone(
    tmp_path: Path, state: MinerState, workdir: Path
) -> None:
    old = write_session(
        sessions_dir(tmp_path) / "old.jsonl", [("user", "old fact here")], str(workdir)
    )
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    state.set_opt_in("new", time.time() - 60)
    write_session(sessions_dir(tmp_path) / "new.jsonl", [("user", "new fact here")], str(workdir))
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    assert [Path(r.path).name for r in state.due(time.time() + 999, settle=0)] == ["new.jsonl"]


def test_a_session_is_mined_once_with_its_project_and_session(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s1.jsonl",
        [("user", "We always run make migrate before make test"), ("assistant", "Noted, I will.")],
        str(workdir),
    )
    backend = Recorder()
    miner = Miner(store, state, backend)
    outcome = miner.mine(str(path))
    assert (outcome.status, outcome.memories) == ("mined", 1)
    hit = store.search("make migrate before make test")[0]
    memory = store.get(hit.id)
    assert (memory.project, memory.source_type, memory.source_session) == ("shop", "mined", "s1")
    assert miner.mine(str(path)).memories == 0 and len(backend.seen) == 1
    assert (store.vault.playbooks_dir / "shop.md").exists()


def test_only_the_new_part_of_a_growing_session_is_mined(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s2.jsonl",
        [("user", "first durable fact about caching")],
        str(workdir),
    )
    backend = Recorder()
    Miner(store, state, backend).mine(str(path))
    write_session(path, [("user", "second durable fact about queues")], str(workdir), mode="a")
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    Miner(store, state, backend).mine(str(path))
    assert "first durable fact" not in backend.seen[1] and "second durable fact" in backend.seen[1]


def test_an_outage_leaves_the_cursor_and_the_same_part_is_mined_after_recovery(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memem.mining.miner.RETRIES_IN_PLACE", 0)
    path = write_session(
        sessions_dir(tmp_path) / "s3.jsonl",
        [("user", "The API key rotates every 90 days")],
        str(workdir),
    )
    down = Recorder(fail=[TransientError("529 overloaded")])
    outcome = Miner(store, state, down).mine(str(path))
    row = state.row(str(path))
    assert outcome.status == "failed" and row is not None
    assert (row.cursor, row.attempts) == (0, 1) and row.next_attempt > time.time()
    assert "overloaded" in (row.last_error or "")
    up = Recorder()
    assert Miner(store, state, up).mine(str(path), explicit=True).memories == 1
    assert state.row(str(path)).cursor == path.stat().st_size  # type: ignore[union-attr]


def test_a_failure_mid_session_resumes_at_the_failed_chunk_without_duplicates(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memem.mining.miner.RETRIES_IN_PLACE", 0)
    turns = [
        ("user", f"Durable fact number {n}: service {n} owns queue {n}. " + "x" * 7000)
        for n in range(3)
    ]
    path = write_session(sessions_dir(tmp_path) / "s4.jsonl", turns, str(workdir))
    flaky = Recorder(fail=[])
    original = flaky.extract
    calls = {"n": 0}

    def second_call_fails(messages: Sequence[Message], *, project: str) -> list[Lesson]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransientError("500 internal error")
        return original(messages, project=project)

    flaky.extract = second_call_fails  # type: ignore[method-assign]
    assert Miner(store, state, flaky).mine(str(path)).status == "failed"
    assert state.row(str(path)).chunks_done == 1  # type: ignore[union-attr]
    before = store.status().memories
    again = Recorder()
    outcome = Miner(store, state, again).mine(str(path), explicit=True)
    assert outcome.status == "mined" and len(again.seen) == 2  # chunks 2 and 3 only
    assert store.status().memories == before + outcome.memories == 3


def test_a_permanent_error_dead_letters_until_the_file_changes(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s5.jsonl", [("user", "We deploy on Tuesdays only")], str(workdir)
    )
    assert (
        Miner(store, state, Recorder(fail=[PermanentError("reply is not JSON")]))
        .mine(str(path))
        .status
        == "dead"
    )
    state.set_opt_in("history", 0)
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    assert state.due(time.time() + 999, settle=0) == []
    write_session(path, [("user", "and on Thursdays too")], str(workdir), mode="a")
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    assert [r.path for r in state.due(time.time() + 999, settle=0)] == [str(path)]


DAY = 24 * 3600.0


def test_a_dead_session_is_retried_automatically_after_a_long_backoff(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    # 401 and 400 are not worth retrying soon, but a fixed key or a changed model makes them
    # work: a dead session waits a day (doubling each time it dies again), then mines.
    path = write_session(
        sessions_dir(tmp_path) / "s7.jsonl", [("user", "We deploy on Tuesdays only")], str(workdir)
    )
    state.set_opt_in("history", 0)
    now = time.time()
    down = Recorder(fail=[PermanentError("anthropic API answered 401")])
    assert Miner(store, state, down).mine(str(path), now=now).status == "dead"
    row = state.row(str(path))
    assert row is not None and row.next_attempt >= now + DAY / 2
    assert state.due(now + 3600, settle=0) == []
    assert [r.path for r in state.due(now + 2 * DAY, settle=0)] == [str(path)]
    again = Recorder(fail=[PermanentError("anthropic API answered 401")])
    assert Miner(store, state, again).mine(str(path), now=now + 2 * DAY).status == "dead"
    second = state.row(str(path))
    assert second is not None and second.next_attempt - (now + 2 * DAY) > row.next_attempt - now
    up = Recorder()
    later = second.next_attempt + 1
    assert [r.path for r in state.due(later, settle=0)] == [str(path)]
    assert Miner(store, state, up).mine(str(path), now=later).status == "mined"


def test_a_reply_that_stays_malformed_is_dead_only_after_bounded_attempts(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s8.jsonl", [("user", "We deploy on Fridays never")], str(workdir)
    )
    state.set_opt_in("history", 0)
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    garbage = Recorder(fail=[MalformedReply("reply is not JSON")] * 1000)
    miner = Miner(store, state, garbage, retry_pause=0)
    now = time.time()
    statuses = []
    for _ in range(MAX_FAILURES):
        due = state.due(now, settle=0)
        assert [r.path for r in due] == [str(path)]
        statuses.append(miner.mine(str(path), now=now).status)
        row = state.row(str(path))
        assert row is not None and row.cursor == 0
        now = row.next_attempt + 1
    assert statuses == ["failed"] * (MAX_FAILURES - 1) + ["dead"]
    assert len(garbage.seen) == MAX_FAILURES * (RETRIES_IN_PLACE + 1)  # bounded
    dead = state.row(str(path))
    assert dead is not None and "not JSON" in (dead.last_error or "")
    assert dead.next_attempt >= time.time() + DAY / 2  # the long backoff, then automatic
    assert Miner(store, state, Recorder()).mine(str(path), now=dead.next_attempt).status == "mined"


def test_html_then_cut_off_json_then_a_good_reply_mines_the_chunk(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.mining.backends import AnthropicBackend
    from tests.fake_anthropic import FakeAnthropic

    path = write_session(
        sessions_dir(tmp_path) / "s9.jsonl",
        [("user", "The staging database listens on port 5433"), ("assistant", "Noted.")],
        str(workdir),
    )
    good = {
        "title": "Staging database port",
        "content": "The staging database listens on port 5433.",
        "type": "environment",
        "importance": 3,
    }
    with FakeAnthropic() as api:
        api.raw(b"<html><body>502 Bad Gateway</body></html>", "text/html")
        api.reply_text('{"memories": [{"title": "Staging database port", "cont')
        api.reply_json({"memories": [good]})
        backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
        outcome = Miner(store, state, backend, retry_pause=0).mine(str(path))
        assert (outcome.status, outcome.memories) == ("mined", 1)
        assert len(api.message_requests) == 3
    assert store.search("staging database port")


def test_mined_memories_are_saved_with_the_situations_the_model_gave(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path, api: FakeAnthropic
) -> None:
    from memem.mining.backends import AnthropicBackend

    path = write_session(
        sessions_dir(tmp_path) / "s11.jsonl",
        [("user", "The staging database listens on port 5433"), ("assistant", "Noted.")],
        str(workdir),
    )
    asked = ["Why can't I connect to the staging database?", "configuring psql for staging"]
    api.reply_json(
        {
            "memories": [
                {
                    "title": "Staging database port",
                    "content": "The staging database listens on port 5433.",
                    "type": "environment",
                    "importance": 3,
                    "situations": [*asked, {"not": "text"}],
                }
            ]
        }
    )
    backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
    assert Miner(store, state, backend, retry_pause=0).mine(str(path)).memories == 1
    (hit,) = store.search("connect to staging psql")
    assert store.get(hit.id).situations == tuple(asked)
    assert "situations" in api.message_requests[0].body["system"]


def test_html_replies_across_runs_fail_then_mine_without_dead_lettering(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.mining.backends import AnthropicBackend
    from tests.fake_anthropic import FakeAnthropic

    path = write_session(
        sessions_dir(tmp_path) / "s10.jsonl",
        [("user", "The staging database listens on port 5433"), ("assistant", "Noted.")],
        str(workdir),
    )
    with FakeAnthropic() as api:
        for _ in range(RETRIES_IN_PLACE + 1):
            api.raw(b"<html><body>502 Bad Gateway</body></html>", "text/html")
        backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
        first = Miner(store, state, backend, retry_pause=0).mine(str(path))
        assert first.status == "failed"
        row = state.row(str(path))
        assert row is not None and (row.cursor, row.attempts) == (0, 1)
        later = Miner(store, state, backend, retry_pause=0).mine(str(path), now=row.next_attempt)
        assert later.status == "mined"


def test_only_the_miner_cwd_marks_a_session_as_memems_own_not_a_colliding_folder_name(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.core.transcript import project_slug

    own = state.path.parent / "miner-cwd"
    folder = tmp_path / "home" / ".claude" / "projects" / project_slug(str(own))
    # "miner_cwd" has the same folder name as "miner-cwd": the records' cwd decides.
    collide = workdir.parent / "miner_cwd"
    (collide / ".git").mkdir(parents=True)
    user = write_session(folder / "user.jsonl", [("user", "We use uv for installs")], str(collide))
    mine = write_session(folder / "own.jsonl", [("user", "Extract the lessons")], str(own))
    backend = Recorder()
    assert Miner(store, state, backend).mine(str(mine)).status == "skipped"
    assert Miner(store, state, backend).mine(str(user)).status == "mined"
    assert len(backend.seen) == 1


def test_sessions_an_older_version_skipped_for_a_typed_marker_are_mined_after_upgrade(
    tmp_path: Path, store: Store, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s16.jsonl",
        [("user", f"Why is {MINER_MARKER} in my logs? We use uv here."), ("assistant", "ok")],
        str(workdir),
    )
    old = MinerState(tmp_path / "state" / "miner.sqlite3")
    old.discover([(str(path), path.stat().st_size, path.stat().st_mtime)])
    old.update(str(path), status="skipped", cursor=path.stat().st_size)
    with old.connect() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'skip_rule'")  # as an older version left it
    upgraded = MinerState(tmp_path / "state" / "miner.sqlite3")
    row = upgraded.row(str(path))
    assert row is not None and (row.status, row.cursor) == ("pending", 0)
    assert Miner(store, upgraded, Recorder()).mine(str(path)).status == "mined"
    upgraded.update(str(path), status="skipped")  # skipped under the current rule: stays
    assert MinerState(tmp_path / "state" / "miner.sqlite3").row(str(path)).status == "skipped"  # type: ignore[union-attr]


class Hung:
    """A backend whose call never returns until released (a hung API), and which records
    whether the miner cancelled it."""

    name = "hung"

    def __init__(self, fail_first: Exception | None = None) -> None:
        self.called = threading.Event()
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.fail_first = fail_first
        self.calls = 0

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        self.calls += 1
        self.called.set()
        if self.fail_first is not None and self.calls == 1:
            raise self.fail_first
        self.release.wait(600)
        return []

    def cancel(self) -> None:
        self.cancelled.set()
        self.release.set()


def mine_in_thread(miner: Miner, path: Path) -> tuple[threading.Thread, list[object]]:
    outcomes: list[object] = []
    worker = threading.Thread(target=lambda: outcomes.append(miner.mine(str(path))), daemon=True)
    worker.start()
    return worker, outcomes


def test_stop_abandons_a_hung_model_call_after_the_drain_window_and_loses_nothing(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memem.mining.miner.DRAIN_SECONDS", 0.2)
    path = write_session(
        sessions_dir(tmp_path) / "s11.jsonl", [("user", "We deploy on Tuesdays only")], str(workdir)
    )
    backend = Hung()
    miner = Miner(store, state, backend)
    worker, outcomes = mine_in_thread(miner, path)
    assert backend.called.wait(30)
    miner.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert [o.status for o in outcomes] == ["pending"]  # type: ignore[attr-defined]
    assert backend.cancelled.is_set()
    row = state.row(str(path))
    assert row is not None and (row.cursor, row.status, row.attempts) == (0, "pending", 0)
    assert Miner(store, state, Recorder()).mine(str(path)).status == "mined"


def test_ctrl_c_during_a_model_call_cancels_it(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    import _thread

    path = write_session(
        sessions_dir(tmp_path) / "s15.jsonl", [("user", "We deploy on Tuesdays only")], str(workdir)
    )
    backend = Hung()

    def interrupt_once_called() -> None:
        if backend.called.wait(30):
            _thread.interrupt_main()

    threading.Thread(target=interrupt_once_called, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        Miner(store, state, backend).mine(str(path))
    assert backend.cancelled.is_set()  # the claude CLI backend kills its child's group
    assert state.row(str(path)).cursor == 0  # type: ignore[union-attr]


def test_stop_wakes_a_retry_pause_and_starts_no_new_call(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s12.jsonl", [("user", "We deploy on Tuesdays only")], str(workdir)
    )
    backend = Hung(fail_first=TransientError("529 overloaded"))
    miner = Miner(store, state, backend, retry_pause=600)
    worker, outcomes = mine_in_thread(miner, path)
    assert backend.called.wait(30)
    miner.stop()
    worker.join(timeout=30)
    assert not worker.is_alive() and backend.calls == 1
    assert [o.status for o in outcomes] == ["pending"]  # type: ignore[attr-defined]
    assert state.row(str(path)).cursor == 0  # type: ignore[union-attr]


def test_repeated_failures_open_the_breaker(state: MinerState) -> None:
    now = time.time()
    for _ in range(BREAKER_FAILURES):
        state.note_result(False, now)
    assert state.breaker_open(now + 1)
    assert not state.breaker_open(now + 10_000)


def test_a_prompt_that_merely_contains_the_miner_marker_is_mined(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s6.jsonl",
        [
            ("user", f"[{MINER_MARKER}] Extract the durable lessons of this session: we use uv"),
            ("assistant", "Noted."),
        ],
        str(workdir),
    )
    backend = Recorder()
    outcome = Miner(store, state, backend).mine(str(path))
    assert (outcome.status, outcome.memories) == ("mined", 1)
    assert len(backend.seen) == 1


# A `claude` that behaves like Claude Code where it matters here: it appends its session to
# ~/.claude/projects/<slug of its cwd>/<session>.jsonl (records carry `cwd`, `entrypoint`),
# then answers on stdout.
TRANSCRIBING_CLAUDE = """import json, os, re, sys, uuid
prompt = sys.stdin.read()
cwd = os.getcwd()
sid = str(uuid.uuid4())
folder = os.path.join(os.environ["HOME"], ".claude", "projects", re.sub("[^A-Za-z0-9]", "-", cwd))
os.makedirs(folder, exist_ok=True)
envelope = {"isSidechain": False, "userType": "external", "entrypoint": "sdk-cli", "cwd": cwd,
            "sessionId": sid, "version": "2.1.329", "gitBranch": "HEAD",
            "timestamp": "2026-11-20T10:00:00.000Z"}
with open(os.path.join(folder, sid + ".jsonl"), "w") as f:
    f.write(json.dumps({"type": "user", "uuid": "u1", "promptSource": "sdk",
                        "message": {"role": "user", "content": prompt}, **envelope}) + "\\n")
    f.write(json.dumps({"type": "assistant", "uuid": "a1", "message": {"role": "assistant",
        "model": "claude-haiku-4-5", "content": [{"type": "text",
        "text": "Always run make migrate before make test in this repo."}]}, **envelope}) + "\\n")
print(json.dumps({"memories": []}))
"""


def test_sessions_the_claude_cli_backend_creates_are_skipped_even_without_the_marker(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.mining import backends
    from memem.settings import Settings

    script = tmp_path / "bin" / "claude"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{TRANSCRIBING_CLAUDE}", encoding="utf-8")
    script.chmod(0o755)
    settings = Settings.from_env(
        {**os.environ, "MEMEM_MINER_BACKEND": "claude-cli", "MEMEM_CLAUDE": str(script)}
    )
    assert state.path == settings.miner_path
    child = backends.choose(settings, os.environ)
    # A user's session that the child would otherwise look like: mined.
    user_session = write_session(
        sessions_dir(tmp_path) / "mine.jsonl",
        [("user", "We use uv for every install in this repo"), ("assistant", "Noted.")],
        str(workdir),
    )
    child.extract([Message("user", "We use uv", T, "u")], project="shop")
    own = [p for p, _, _ in session_files(settings.session_dirs) if p != str(user_session)]
    assert len(own) == 1
    # The data the child was given no longer carries the marker at all: only the folder
    # (its cwd) tells the miner whose session it is.
    text = Path(own[0]).read_text(encoding="utf-8").replace(MINER_MARKER, "")
    Path(own[0]).write_text(text, encoding="utf-8")
    backend = Recorder()
    miner = Miner(store, state, backend)
    assert miner.mine(own[0]).status == "skipped"
    assert backend.seen == []
    assert miner.mine(str(user_session)).status == "mined"


def test_secrets_never_reach_the_backend_or_the_vault(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    key = "sk-ant-api03-" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2" * 2
    path = write_session(
        sessions_dir(tmp_path) / "s7.jsonl",
        [("user", f"Remember that the staging key is {key}")],
        str(workdir),
    )
    backend = Recorder()
    Miner(store, state, backend).mine(str(path))
    assert key not in backend.seen[0]
    for file in store.vault.memories_dir.glob("*.md"):
        assert key not in file.read_text()


GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def miner_database_text(state: MinerState) -> str:
    import sqlite3

    conn = sqlite3.connect(state.path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


class Quoting:
    """A backend whose failure quotes what it was sent (as an API error or a reply may)."""

    name = "quoting"

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        raise self.error(f"bad reply for project {project}: {GITHUB_TOKEN}")


@pytest.mark.parametrize("error", [TransientError, PermanentError, MalformedReply])
def test_secrets_in_the_project_name_or_an_error_never_reach_the_miner_database(
    tmp_path: Path, store: Store, state: MinerState, error: type[Exception]
) -> None:
    repo = tmp_path / "code" / GITHUB_TOKEN  # the project is the repo's folder name
    (repo / ".git").mkdir(parents=True)
    path = write_session(
        tmp_path / "home" / ".claude" / "projects" / "-code-x" / "s13.jsonl",
        [
            ("user", f"The deploy token is {GITHUB_TOKEN}, we rotate it monthly"),
            ("assistant", "ok"),
        ],
        str(repo),
    )
    outcome = Miner(store, state, Quoting(error), retry_pause=0).mine(str(path))
    assert outcome.status in ("failed", "dead")
    assert GITHUB_TOKEN not in outcome.error
    text = miner_database_text(state)
    assert "REDACTED" in text and GITHUB_TOKEN not in text


def test_secrets_in_the_project_name_never_reach_the_model(
    tmp_path: Path, store: Store, state: MinerState
) -> None:
    from memem.mining.backends import AnthropicBackend
    from tests.fake_anthropic import FakeAnthropic

    repo = tmp_path / "code" / GITHUB_TOKEN
    (repo / ".git").mkdir(parents=True)
    path = write_session(
        tmp_path / "home" / ".claude" / "projects" / "-code-x" / "s14.jsonl",
        [
            ("user", f"The deploy token is {GITHUB_TOKEN}, we rotate it monthly"),
            ("assistant", "ok"),
        ],
        str(repo),
    )
    with FakeAnthropic() as api:
        backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
        assert Miner(store, state, backend).mine(str(path)).status == "mined"
        sent = json.dumps([r.body for r in api.message_requests])
    assert GITHUB_TOKEN not in sent and "REDACTED" in sent
    assert GITHUB_TOKEN not in miner_database_text(state)


def test_transcript_search_finds_mined_exchanges(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    path = write_session(
        sessions_dir(tmp_path) / "s8.jsonl",
        [
            ("user", "Why does the Stripe webhook return 400?"),
            ("assistant", "The signing secret was stale."),
        ],
        str(workdir),
    )
    Miner(store, state, Recorder()).mine(str(path))
    hits = state.search("stripe webhook 400")
    assert hits and hits[0]["project"] == "shop" and "signing secret" in hits[0]["assistant"]


def test_an_unexpected_error_is_recorded_against_its_session_and_the_next_is_mined(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    # Whatever a session's mining raises beyond the extraction errors (a bug, a reply the
    # store cannot write) fails that session with a backoff: a loop over `due` moves on to
    # the next session instead of calling the model for the same one again and again.
    first = write_session(
        sessions_dir(tmp_path) / "a1.jsonl",
        [("user", "The cache TTL is ten minutes")],
        str(workdir),
    )
    second = write_session(
        sessions_dir(tmp_path) / "a2.jsonl", [("user", "Reviews need two approvals")], str(workdir)
    )
    state.set_opt_in("history", 0)
    state.discover(session_files([sessions_dir(tmp_path).parent]))
    backend = Recorder(fail=[UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")])
    miner = Miner(store, state, backend, retry_pause=0)
    now = time.time()
    outcomes = [miner.mine(row.path, now=now) for row in state.due(now, settle=0)]
    assert [(Path(o.path).name, o.status) for o in outcomes] == [
        ("a1.jsonl", "failed"),
        ("a2.jsonl", "mined"),
    ]
    assert "UnicodeEncodeError" in (outcomes[0].error or "")
    row = state.row(str(first))
    assert row is not None and (row.status, row.attempts, row.cursor) == ("failed", 1, 0)
    assert row.next_attempt > now and "UnicodeEncodeError" in (row.last_error or "")
    assert [r.path for r in state.due(now + 1, settle=0)] == []  # not due again at once
    assert len(backend.seen) == 2  # one call per session: no retry in place for a bug
    assert state.row(str(second)).status == "mined"  # type: ignore[union-attr]


def test_a_reply_with_lone_surrogates_is_mined_through_the_api(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.mining.backends import AnthropicBackend
    from tests.fake_anthropic import FakeAnthropic

    path = write_session(
        sessions_dir(tmp_path) / "s13.jsonl",
        [("user", "The staging database listens on port 5433"), ("assistant", "Noted.")],
        str(workdir),
    )
    with FakeAnthropic() as api:
        api.reply_text(
            '{"memories": [{"title": "Staging \\ud800 port", "content": "Port 5433 \\udfff here",'
            ' "type": "environment", "importance": 3, "tags": ["db\\ud800"]}]}'
        )
        backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
        outcome = Miner(store, state, backend, retry_pause=0).mine(str(path), explicit=True)
        assert (outcome.status, outcome.memories) == ("mined", 1)
        assert len(api.message_requests) == 1
    memory = store.get(store.search("staging port 5433")[0].id)
    assert memory.title == "Staging \ufffd port" and "\ufffd" in memory.content


def test_a_huge_retry_after_is_capped_at_the_longest_backoff(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path
) -> None:
    from memem.mining.backends import AnthropicBackend
    from memem.mining.miner import BACKOFF_MAX
    from tests.fake_anthropic import FakeAnthropic

    path = write_session(
        sessions_dir(tmp_path) / "s15.jsonl", [("user", "We deploy with Fly.io")], str(workdir)
    )
    with FakeAnthropic() as api:
        api.fail(429, retry_after=999_999)
        backend = AnthropicBackend(api_key="sk-ant-test", model="m", base_url=api.url, timeout=10)
        now = time.time()
        outcome = Miner(store, state, backend, retry_pause=0).mine(str(path), now=now)
    row = state.row(str(path))
    assert outcome.status == "failed" and row is not None
    assert now < row.next_attempt <= now + BACKOFF_MAX * 1.5  # the backoff's jitter at most


def test_the_state_sets_only_session_fields(state: MinerState, tmp_path: Path) -> None:
    state.discover([(str(tmp_path / "a.jsonl"), 10, 1.0)])
    with pytest.raises(ValueError, match="not a session field"):
        state.update(str(tmp_path / "a.jsonl"), **{"status = 'mined', cursor": 5})
    row = state.row(str(tmp_path / "a.jsonl"))
    assert row is not None and (row.status, row.cursor) == ("pending", 0)


def test_the_named_session_queries(state: MinerState, tmp_path: Path) -> None:
    names = ["mined-early", "mined-late", "failed", "dead", "skipped", "pending"]
    state.discover([(str(tmp_path / f"{n}.jsonl"), 100, float(i)) for i, n in enumerate(names)])

    def path(name: str) -> str:
        return str(tmp_path / f"{name}.jsonl")

    state.update(path("mined-early"), status="mined", cursor=100, mined_at=50.0)
    state.update(path("mined-late"), status="mined", cursor=60, mined_at=90.0)
    state.update(path("failed"), status="failed", last_error="529 overloaded")
    state.update(path("dead"), status="dead", last_error="401 invalid key")
    state.update(path("skipped"), status="skipped")
    assert [r.path for r in state.rows()] == [path(n) for n in names]  # oldest first
    # Unmined bytes, whatever the status and backoff, but never memem's own sessions.
    unmined = ["mined-late", "failed", "dead", "pending"]
    assert [r.path for r in state.unmined()] == [path(n) for n in unmined]
    assert [r.path for r in state.failing()] == [path("failed"), path("dead")]
    assert [r.path for r in state.dead()] == [path("dead")]
    last = state.last_mined()
    assert last is not None and last.path == path("mined-late")
    assert state.counts() == {"mined": 2, "failed": 1, "dead": 1, "skipped": 1, "pending": 1}
    assert state.reset_failed() == 2 and state.failing() == [] and state.dead() == []


@pytest.mark.parametrize(
    ("branch", "stored"),
    [
        ("feature/checkout", "feature/checkout"),
        ("main", None),
        ("develop", None),
        ("HEAD", None),
        ("", None),
    ],
)
def test_mined_memories_carry_the_sessions_branch_unless_it_is_a_default_one(
    tmp_path: Path, store: Store, state: MinerState, workdir: Path, branch: str, stored: str | None
) -> None:
    path = sessions_dir(tmp_path) / "b1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        record("user", "Checkout totals are rounded per line", str(workdir), "b1", gitBranch=branch)
        + record("assistant", "Noted.", str(workdir), "b1", gitBranch=branch),
        encoding="utf-8",
    )
    assert Miner(store, state, Recorder()).mine(str(path)).memories == 1
    (hit,) = store.search("checkout totals rounded")
    assert store.get(hit.id).branch == stored


def test_the_miner_names_the_project_after_the_repositorys_remote_and_adopts_the_folder_name(
    tmp_path: Path, store: Store, state: MinerState
) -> None:
    from tests.gitrepos import git_repo

    old = store.save("Deploys go through Fly.io from main.", project="storefront")
    repo = git_repo(tmp_path / "code" / "storefront", "https://github.com/acme/shop.git")
    path = write_session(
        sessions_dir(tmp_path) / "r1.jsonl", [("user", "Prices are stored in cents")], str(repo)
    )
    assert Miner(store, state, Recorder()).mine(str(path)).memories == 1
    (hit,) = store.search("prices stored in cents")
    assert store.get(hit.id).project == "acme-shop"
    assert store.get(old.id).project == "acme-shop"
