"""Starting, stopping and probing the miner daemon, without importing it.

The SessionStart hook and the mining service (memem.mining.service) use these; the daemon
itself (memem.engine.daemon) holds `daemon.lock` with `flock` for as long as it runs and rewrites
`daemon.json` (its heartbeat) every few seconds. The kernel drops the lock when the process
dies, so a crashed daemon never blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memem.settings import MINER_CHILD, Settings, engine_off


def lock_path(settings: Settings) -> Path:
    return settings.state_dir / "daemon.lock"


def status_path(settings: Settings) -> Path:
    return settings.state_dir / "daemon.json"


def is_running(settings: Settings) -> bool:
    """True when a daemon holds the lock (probed without taking it for long)."""
    path = lock_path(settings)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def read_status(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(status_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    data["running"] = is_running(settings)
    return data


def opted_in(settings: Settings) -> bool:
    """Whether the user opted in to mining (read straight from the miner's state)."""
    from memem.storage.miner_state import opted_in

    return opted_in(settings.miner_path)


def ensure(settings: Settings, env: Mapping[str, str]) -> str:
    """Start the daemon in the background unless one runs, in the environment `env` (the
    entry point's: the daemon reads its settings from it). Fast and idempotent."""
    environ = dict(env)
    if environ.get(MINER_CHILD) == "1":
        return "skipped (inside memem's own claude session)"
    if engine_off(environ):
        return "not started (MEMEM_ENGINE=off: mine with `memem mine` or `memem daemon run`)"
    if is_running(settings) and read_status(settings).get("state") != "restarting":
        # One that is restarting (it met newer code) is not waited for: the new engine waits
        # for its lock (memem.engine.daemon.TAKEOVER_SECONDS).
        return "running"
    settings.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The engine runs this very code: its package's folder first on the path, and `-P` so
    # that the caller's working directory (a user's project, maybe with a `memem/` of its
    # own) is never searched; it works in the state dir, holding no project folder open.
    package_root = str(Path(__file__).resolve().parents[2])
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, environ.get("PYTHONPATH", "")) if p
    )
    with open(settings.log_dir / "daemon.out", "ab") as out:
        subprocess.Popen(
            [sys.executable, "-P", "-m", "memem", "daemon", "run"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=environ,
            cwd=settings.state_dir,
            close_fds=True,
        )
    return "started"


def stop(settings: Settings, timeout: float = 30.0) -> str:
    """SIGTERM the daemon and wait (bounded) until it has released its lock."""
    status = read_status(settings)
    if not status["running"]:
        return "not running"
    pid = int(status.get("pid") or 0)
    if pid <= 0:
        return "running, but its pid is unknown (see daemon.json)"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(settings):
            return "stopped"
        time.sleep(0.05)
    return f"still draining after {timeout:.0f} s (pid {pid})"
