"""Starting and stopping real engines in tests (tests/test_engine*.py): `Engines` starts
`python -m memem daemon run` processes and, at teardown, stops every engine of the test's
state dir, those it started and those a hook or command started in the background (by the pid
in <state>/daemon.json)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memem.engine import client
from tests.conftest import ROOT
from tests.waiting import wait_until

PAYLOAD_BASE = {"transcript_path": "", "hook_event_name": ""}


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has exited and holds nothing: it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def engine_env(**extra: str) -> dict[str, str]:
    """This test's environment with the engine allowed, runnable as `-m memem`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEMEM_MINER_BACKEND="heuristic")
    env.pop("MEMEM_ENGINE", None)
    env.update(extra)
    return env


def state_of(env: Mapping[str, str]) -> Path:
    return Path(env["MEMEM_DIR"])


STATUS_PROBE = """
import json, os, sys
from memem.engine import client
try:
    print(json.dumps(client.call(os.environ, sys.argv[1], "status", timeout=5.0)))
except client.Unavailable:
    print("null")
"""


def answers(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The engine's status when it answers on its socket, else None. Asked by a client with
    `env`'s code: from this process, or from a process of the copy `env` runs."""
    if env.get("PYTHONPATH", str(ROOT)) != str(ROOT):
        done = subprocess.run(
            [sys.executable, "-c", STATUS_PROBE, str(state_of(env))],
            capture_output=True,
            text=True,
            env=dict(env),
            cwd=env["PYTHONPATH"],
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        probed: dict[str, Any] | None = json.loads(done.stdout)
        return probed
    try:
        status: dict[str, Any] = client.call(env, str(state_of(env)), "status", timeout=5.0)
    except client.Unavailable:
        return None
    return status


def heartbeat(env: Mapping[str, str]) -> dict[str, Any]:
    try:
        data = json.loads((state_of(env) / "daemon.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def hook(
    event: str, env: Mapping[str, str], cwd: Path, **payload: object
) -> subprocess.CompletedProcess[str]:
    """`python -m memem hook EVENT` as Claude Code runs it: the payload on stdin."""
    body = {**PAYLOAD_BASE, "cwd": str(cwd), "hook_event_name": event, **payload}
    return subprocess.run(
        [sys.executable, "-m", "memem", "hook", event],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(env),
        timeout=60,
    )


class Engines:
    """The engines of one test; `stop_all` at teardown leaves none running."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        self.envs: list[Mapping[str, str]] = []

    def spawn(self, env: Mapping[str, str], cwd: Path = ROOT) -> subprocess.Popen[str]:
        """`memem daemon run` in `env`, not waited for."""
        process = subprocess.Popen(
            [sys.executable, "-m", "memem", "daemon", "run"],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        self.watch(env)
        return process

    def start(self, env: Mapping[str, str], cwd: Path = ROOT) -> subprocess.Popen[str]:
        """`memem daemon run`, returned once it answers on its socket."""
        process = self.spawn(env, cwd)
        self.ready(env, process.pid)
        return process

    def watch(self, env: Mapping[str, str]) -> None:
        """Stop the engines of `env`'s state dir at teardown too (one a hook started)."""
        self.envs.append(env)

    def ready(self, env: Mapping[str, str], pid: int | None = None) -> dict[str, Any]:
        """Wait until an engine (`pid`, if given) answers; its status."""
        found: dict[str, Any] = {}

        def answered() -> bool:
            status = answers(env)
            if status is None or (pid is not None and status.get("pid") != pid):
                return False
            found.update(status)
            return True

        wait_until(answered, timeout=60, what="the engine answering on its socket")
        return found

    def stop_all(self) -> None:
        pids = {p.pid for p in self.processes if p.poll() is None}
        for env in self.envs:
            pid = int(heartbeat(env).get("pid") or 0)
            if pid and alive(pid):
                pids.add(pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)  # a test may have stopped it
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        for pid in pids:
            try:
                wait_until(lambda pid=pid: not alive(pid), timeout=30, what=f"engine {pid} gone")
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                raise


def engine_pids(state: Path) -> set[int]:
    """The engines of the state dir `state` (`memem daemon run` processes whose MEMEM_DIR is
    it): the pid in its daemon.json, and any started too recently to have written it."""
    pids: set[int] = set()
    with contextlib.suppress(OSError, ValueError, TypeError):
        pids.add(int(json.loads((state / "daemon.json").read_text())["pid"]))
    wanted = f"MEMEM_DIR={state}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if (
                b"daemon" in argv
                and b"run" in argv
                and wanted in (proc / "environ").read_bytes().split(b"\0")
            ):
                pids.add(int(proc.name))
    return {pid for pid in pids if alive(pid)}


def stop_engines(state: Path) -> list[int]:
    """SIGTERM every engine of `state` and wait until they are gone (SIGKILL after 30 s)."""
    pids = engine_pids(state)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        try:
            wait_until(lambda pid=pid: not alive(pid), timeout=30, what=f"engine {pid} gone")
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise
    return sorted(pids)
