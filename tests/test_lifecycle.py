"""Starting, stopping and probing the daemon (memem.mining.lifecycle) with real processes, and
the miner-child flag (settings.MINER_CHILD) that keeps memem's hooks and daemon out of
memem's own `claude -p` runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memem import Store
from memem.mining import lifecycle
from memem.mining.service import Mining
from memem.settings import MINER_CHILD, Settings
from tests.conftest import ROOT
from tests.engine_helpers import stop_engines
from tests.test_daemon import wait_until

# Holds the daemon's lock like a daemon does, records its pid in daemon.json, and exits on
# SIGTERM (or when its stdin closes).
LOCK_HOLDER = """\
import fcntl, json, os, signal, sys
state = sys.argv[1]
fd = os.open(os.path.join(state, "daemon.lock"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
if sys.argv[2] == "pid":
    with open(os.path.join(state, "daemon.json"), "w") as f:
        json.dump({"state": "running", "pid": os.getpid(), "heartbeat": 1.0, "backend": "x"}, f)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def settings(isolated: Path) -> Settings:
    configured = Settings.from_env(os.environ)
    configured.state_dir.mkdir(parents=True, exist_ok=True)
    return configured


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def hold_lock(
    settings: Settings, holders: list[subprocess.Popen[str]], *, pid: bool = True
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(settings.state_dir), "pid" if pid else "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    holders.append(process)
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    return process


def environment(**extra: str) -> dict[str, str]:
    """The environment an entry point hands down: this test's, runnable as `-m memem`, with
    the engine allowed (the tests that start one stop it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEMEM_MINER_BACKEND="heuristic", **extra)
    if "MEMEM_ENGINE" not in extra:
        env.pop("MEMEM_ENGINE", None)
    return env


# -- probing ---------------------------------------------------------------------------------


def test_no_lock_file_means_no_daemon_and_probing_creates_none(settings: Settings) -> None:
    assert not lifecycle.is_running(settings)
    assert not lifecycle.lock_path(settings).exists()
    assert lifecycle.read_status(settings) == {"running": False}


def test_a_process_holding_the_lock_is_running_until_it_dies(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold_lock(settings, holders)
    assert lifecycle.is_running(settings)
    assert lifecycle.is_running(settings)  # probing does not take the lock away
    status = lifecycle.read_status(settings)
    assert (status["running"], status["pid"], status["backend"]) == (True, holder.pid, "x")
    holder.kill()
    holder.wait(timeout=30)
    # The kernel drops a dead process's lock: a crash never blocks the next daemon.
    assert not lifecycle.is_running(settings)
    assert lifecycle.read_status(settings)["running"] is False


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '"a string"'])
def test_an_unreadable_status_file_reads_as_no_status(settings: Settings, content: str) -> None:
    lifecycle.status_path(settings).write_text(content, encoding="utf-8")
    assert lifecycle.read_status(settings) == {"running": False}


def test_opted_in_reads_the_miner_state_without_creating_it(settings: Settings) -> None:
    assert not lifecycle.opted_in(settings)
    assert not settings.miner_path.exists()
    mining = Mining(settings, {MINER_CHILD: "1"})  # opting in starts no daemon here
    mining.opt("new")
    assert lifecycle.opted_in(settings)
    mining.opt("none")
    assert not lifecycle.opted_in(settings)


def test_a_damaged_miner_state_reads_as_not_opted_in(settings: Settings) -> None:
    settings.miner_path.write_bytes(b"this is not a database" * 100)
    assert not lifecycle.opted_in(settings)


# -- stopping --------------------------------------------------------------------------------


def test_stop_without_a_daemon_says_so(settings: Settings) -> None:
    assert lifecycle.stop(settings) == "not running"


def test_stop_sends_sigterm_and_waits_until_the_lock_is_released(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold_lock(settings, holders)
    assert lifecycle.stop(settings, timeout=30) == "stopped"
    assert holder.wait(timeout=30) == 0
    assert not lifecycle.is_running(settings)


def test_stop_does_not_signal_a_daemon_whose_pid_it_does_not_know(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold_lock(settings, holders, pid=False)
    assert lifecycle.stop(settings) == "running, but its pid is unknown (see daemon.json)"
    assert holder.poll() is None and lifecycle.is_running(settings)


def test_stop_gives_up_after_its_timeout_on_a_daemon_that_ignores_sigterm(
    settings: Settings, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold_lock(settings, holders)
    holder.send_signal(signal.SIGSTOP)  # a stopped process cannot act on SIGTERM yet
    try:
        assert (
            lifecycle.stop(settings, timeout=0.2) == f"still draining after 0 s (pid {holder.pid})"
        )
        assert lifecycle.is_running(settings)
    finally:
        holder.send_signal(signal.SIGCONT)
    assert holder.wait(timeout=30) == 0  # the SIGTERM it was sent is delivered now


# -- starting --------------------------------------------------------------------------------


def test_ensure_starts_one_daemon_that_stop_ends(settings: Settings) -> None:
    env = environment()
    assert lifecycle.ensure(settings, env) == "started"
    try:
        wait_until(lambda: lifecycle.read_status(settings).get("state") == "running")
        assert lifecycle.ensure(settings, env) == "running"  # idempotent
        assert lifecycle.read_status(settings)["backend"].startswith("heuristic")
    finally:
        assert lifecycle.stop(settings) in ("stopped", "not running")
    assert not lifecycle.is_running(settings)
    assert lifecycle.read_status(settings)["state"] == "stopped"


def test_ensure_respects_memem_engine_off(settings: Settings) -> None:
    assert lifecycle.ensure(settings, environment(MEMEM_ENGINE="off")).startswith("not started")
    assert not lifecycle.is_running(settings)


# -- the miner-child flag --------------------------------------------------------------------


def test_the_flag_has_one_name() -> None:
    from memem.mining.backends import CHILD_VARIABLES

    assert MINER_CHILD == "MEMEM_MINER_CHILD"
    assert CHILD_VARIABLES[MINER_CHILD] == "1"


def test_inside_memem_own_claude_run_ensure_starts_nothing(settings: Settings) -> None:
    assert lifecycle.ensure(settings, environment(**{MINER_CHILD: "1"})) == (
        "skipped (inside memem's own claude session)"
    )
    assert not lifecycle.is_running(settings)
    assert not (settings.log_dir / "daemon.out").exists()


def test_inside_memem_own_claude_run_the_daemon_exits_without_taking_the_lock(
    settings: Settings,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memem", "daemon", "run", "--once"],
        env=environment(**{MINER_CHILD: "1"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, "")
    assert not lifecycle.lock_path(settings).exists()
    assert not lifecycle.status_path(settings).exists()


def run_hook(event: str, payload: dict[str, object], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "memem", "hook", event],
        input=json.dumps(payload),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_inside_memem_own_claude_run_hooks_inject_nothing_and_start_no_daemon(
    settings: Settings, tmp_path: Path
) -> None:
    project = tmp_path / "code" / "shop"
    (project / ".git").mkdir(parents=True)
    with Store.open() as store:
        store.save("The shop deploys with Fly.io from main.", project="shop", layer=0)
    Mining(settings, {MINER_CHILD: "1"}).opt("new")
    payload = {"cwd": str(project), "session_id": "s", "prompt": "how do we deploy the shop?"}
    child = environment(**{MINER_CHILD: "1"})
    assert run_hook("UserPromptSubmit", payload, child) == ""
    assert run_hook("SessionStart", {**payload, "source": "startup"}, child) == ""
    assert not lifecycle.is_running(settings) and not lifecycle.lock_path(settings).exists()
    # Without the flag the same hooks inject the memory, and the session start starts the
    # daemon of an opted-in user.
    try:
        assert "Fly.io" in run_hook("UserPromptSubmit", payload, environment())
        start = {**payload, "session_id": "fresh", "source": "startup"}  # no repeats in "s"
        assert "Fly.io" in run_hook("SessionStart", start, environment())
        wait_until(lambda: lifecycle.is_running(settings))
    finally:
        # Both hooks may have started an engine: one runs, one may still be starting.
        wait_until(lambda: lifecycle.read_status(settings).get("pid") is not None)
        assert lifecycle.stop(settings) == "stopped"
        stop_engines(settings.state_dir)
