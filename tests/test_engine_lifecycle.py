"""The engine's lifecycle as users see it: `memem daemon ensure` and `daemon status --json`,
SIGTERM with a request in flight, an engine whose state dir is deleted (real processes and a
real socket; tests/test_engine.py has the hooks, the kills and the restarts)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from memem.engine import client, protocol
from memem.engine.daemon import Daemon
from memem.settings import Settings
from tests.engine_helpers import Engines, answers, engine_env, heartbeat
from tests.waiting import wait_until

NOBODY = 65534


@pytest.fixture
def env(isolated: Path) -> dict[str, str]:
    return engine_env()


def memem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memem", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# -- daemon ensure / status ------------------------------------------------------------------


def test_ensure_returns_once_the_engine_answers_and_status_json_describes_it(
    env: dict[str, str], engines: Engines
) -> None:
    engines.watch(env)
    stopped = json.loads(memem(env, "daemon", "status", "--json").stdout)
    assert {k: stopped[k] for k in ("running", "ready", "pid", "socket", "version")} == {
        "running": False,
        "ready": False,
        "pid": None,
        "socket": None,
        "version": None,
    }
    done = memem(env, "daemon", "ensure")
    assert (done.returncode, done.stdout) == (0, "daemon started; the engine answers\n")
    assert answers(env) is not None  # no waiting: it answered before ensure returned
    status = json.loads(memem(env, "daemon", "status", "--json").stdout)
    assert status["running"] is True and status["ready"] is True
    assert status["pid"] == heartbeat(env)["pid"]
    assert status["socket"] == protocol.socket_path(env["MEMEM_DIR"])
    assert status["version"] == protocol.code_digest()
    assert isinstance(status["requests"], int) and status["requests"] >= 1
    again = memem(env, "daemon", "ensure")
    assert (again.returncode, again.stdout) == (0, "daemon running; the engine answers\n")


def test_ensure_fails_with_the_reason_when_the_engine_cannot_listen(
    env: dict[str, str], engines: Engines
) -> None:
    engines.watch(env)
    directory = Path(os.path.dirname(protocol.socket_path(env["MEMEM_DIR"])))
    directory.mkdir(parents=True, mode=0o700)
    os.chown(directory, NOBODY, NOBODY)  # someone else's directory where the socket goes
    done = memem(env, "daemon", "ensure")
    assert done.returncode == 1
    assert done.stderr.startswith("memem: the engine did not start: it runs but cannot listen")
    assert "is not a private directory of this user" in done.stderr
    status = json.loads(memem(env, "daemon", "status", "--json").stdout)
    assert (status["running"], status["ready"], status["socket"]) == (True, False, None)


def test_ensure_fails_with_the_reason_when_the_state_dir_cannot_be_made(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state dir should be\n")
    done = memem({**env, "MEMEM_DIR": str(blocker / "state")}, "daemon", "ensure")
    assert done.returncode == 1
    assert done.stderr.startswith("memem: ") and "not-a-dir" in done.stderr
    assert "Traceback" not in done.stderr


def sockets(pid: int) -> int:
    """How many sockets `pid` has open (an accepted connection is one more)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:  # closed meanwhile
            continue
    return count


# -- stopping --------------------------------------------------------------------------------


def test_sigterm_answers_the_request_in_flight_then_exits_and_removes_its_socket(
    env: dict[str, str], engines: Engines
) -> None:
    engine = engines.start(env)
    path = protocol.socket_path(env["MEMEM_DIR"])
    request = protocol.request_header("status", protocol.client_env(env), protocol.code_digest())
    before = sockets(engine.pid)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(60)
    conn.connect(path)
    conn.sendall(request[:10])  # still arriving...
    wait_until(lambda: sockets(engine.pid) > before, timeout=30, what="the engine accepting")
    os.kill(engine.pid, signal.SIGTERM)  # ... when the engine is told to stop

    def refuses_new_connections() -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            return True
        finally:
            probe.close()
        return False

    wait_until(refuses_new_connections, timeout=30, what="the engine no longer accepting")
    assert engine.poll() is None  # still here: it waits for the request it accepted
    conn.sendall(request[10:])
    conn.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    conn.close()
    head, _, body = answer.partition(b"\n")
    assert head.startswith(protocol.OK)
    assert json.loads(body)["pid"] == engine.pid
    assert engine.wait(timeout=60) == 0
    assert not os.path.exists(path)
    assert heartbeat(env)["state"] == "stopped"


def test_an_engine_whose_state_dir_is_deleted_exits(tmp_path: Path) -> None:
    settings = Settings.from_env(engine_env())
    daemon = Daemon(settings, env=engine_env(), heartbeat=0.05)
    done: list[int] = []
    running = threading.Thread(target=lambda: done.append(daemon.run()))
    running.start()
    try:
        wait_until(lambda: answers(engine_env()) is not None, timeout=60, what="the engine up")
        # Gone in one step (an `rm -rf` can race the engine's own writes into it).
        settings.state_dir.rename(tmp_path / "deleted")
        running.join(timeout=60)
        stopped_by_itself = not running.is_alive()
    finally:
        daemon.stop()
        running.join(timeout=60)
    assert stopped_by_itself and done == [0]
    shutil.rmtree(tmp_path / "deleted")
    with pytest.raises(client.Unavailable):
        client.call(engine_env(), str(settings.state_dir), "status")


def test_outdated_names_why_an_engine_makes_way(tmp_path: Path) -> None:
    settings = Settings.from_env(engine_env())
    settings.state_dir.mkdir(parents=True)
    daemon = Daemon(settings)
    assert daemon._outdated() == ""
    daemon.code = "0" * 16  # what it was started with differs from the code on disk now
    assert daemon._outdated() == "memem's code changed on disk (updated or uninstalled)"
    settings.state_dir.rmdir()
    assert daemon._outdated() == "the state dir is gone"


def test_the_code_version_carries_the_newest_modification_time(tmp_path: Path) -> None:
    package = tmp_path / "memem"
    package.mkdir()
    (package / "a.py").write_text("A = 1\n")
    (package / "b.py").write_text("B = 2\n")
    os.utime(package / "a.py", ns=(5 * 10**18, 5 * 10**18))
    os.utime(package / "b.py", ns=(10**18, 10**18))
    code = protocol.code_digest(str(package))
    assert protocol.code_time(code) == 5 * 10**18
    assert protocol.code_time("no-time-here") == 0 and protocol.code_time("") == 0
    (package / "b.py").write_text("B = 3\n")  # same size, another time
    assert protocol.code_digest(str(package)) != code


HOLDER = """
import fcntl, json, os, sys
fd = os.open(os.path.join(sys.argv[1], "daemon.lock"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
with open(os.path.join(sys.argv[1], "daemon.json"), "w") as f:
    json.dump({"state": sys.argv[2], "pid": os.getpid()}, f)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("state", ["stopping", "restarting"])
def test_a_new_engine_takes_over_only_from_one_restarting_for_new_code(
    env: dict[str, str], engines: Engines, state: str
) -> None:
    state_dir = Path(env["MEMEM_DIR"])
    state_dir.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir), state],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        new = engines.spawn(env)
        if state == "stopping":  # `daemon stop`: an engine a hook spawned meanwhile yields
            _, err = new.communicate(timeout=60)
            assert new.returncode == 3 and "already running" in err
            return
    finally:
        holder.communicate("", timeout=30)  # the holder lets go of the lock
    assert engines.ready(env, new.pid)["pid"] == new.pid  # it waited, then took over
