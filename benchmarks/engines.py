"""A live memem engine for a benchmark's scratch vault, and work that keeps it busy.

    with engines.running(env, python) as engine:     # `memem daemon run`, stopped at the end
        engine.status()                              # its `status` op (requests, pid, ...)
        with engines.busy(vault):                     # the vault watcher reconciles non-stop
            ...
    engines.idle_usage(pid, seconds)                 # (RSS MB, CPU seconds over `seconds`)
    engines.memory(pid)                              # (VmRSS MB, VmHWM MB) now
    engine.wait_embedded()                           # the model loaded, every vector made
    engines.wait_started(state_dir)                  # one that hooks started is running
    engines.stop_all(state_dir)                      # the engine that hooks started, if any

The engine is started in `env` (MEMEM_DIR, MEMEM_OBSIDIAN_VAULT, HOME pointing at scratch
dirs) with the benchmark's own memem on PYTHONPATH, and is ready once it answers `status` on
its socket. At the end it gets SIGTERM, and so does any other engine a hook started for the
same state dir (its pid in <state>/daemon.json): nothing outlives the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from memem.engine import client

READY_SECONDS: Final = 120.0
# How long `wait_embedded` waits by default (loading the model takes a few seconds).
EMBED_SECONDS: Final = 300.0
STOP_SECONDS: Final = 30.0
# How often `busy` rewrites its file: just slower than the watcher lets a burst settle
# (watch.SETTLE_SECONDS, 0.2 s; a file written more often is never reconciled), so the
# engine reconciles the whole vault after each write.
TOUCH_SECONDS: Final = 0.3
BUSY_FILE: Final = "zz-bench-busy-0badc0de.md"
BUSY_MEMORY: Final = """---
id: 0badc0de0badc0de0badc0de0badc0de
schema_version: 1
title: Benchmark busy file
project: global
tags: [bench]
layer: 2
importance: 1
status: active
created: 2025-01-01T00:00:00Z
updated: 2025-01-01T00:00:00Z
---

The benchmark rewrote this file {writes} times to keep the engine reconciling.
"""


class Engine:
    def __init__(self, env: Mapping[str, str], process: subprocess.Popen[bytes]) -> None:
        self.env = dict(env)
        self.process = process
        self.state_dir = env["MEMEM_DIR"]

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self) -> dict[str, Any]:
        result = client.call(self.env, self.state_dir, "status", timeout=5.0)
        assert isinstance(result, dict)
        return result

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the engine exited with {self.process.returncode}")
            try:
                self.status()
                return
            except client.Unavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def embedder(self) -> dict[str, Any]:
        """The `embedder` object of its `status` (state, vectors, memories, pending, ...)."""
        found = self.status().get("embedder")
        return found if isinstance(found, dict) else {}

    def wait_embedded(
        self, timeout: float = EMBED_SECONDS, *, pending_ok: bool = False
    ) -> dict[str, Any]:
        """Wait until the model is loaded and the vectors were read (with `pending_ok`: even
        if some are still to make; else until none is), and return the embedder's status.
        Raises TimeoutError with the last status."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.embedder()
            loaded = found.get("state") == "ready" and found.get("memories", 0) > 0
            if loaded and (pending_ok or found.get("pending") == 0):
                return found
            if found.get("state") in ("missing", "off"):
                raise RuntimeError(f"the engine has no model: {found}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the engine did not finish embedding: {found}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        stop_all(Path(self.state_dir))  # and one a hook may have started meanwhile
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_started(state_dir: Path, timeout: float = READY_SECONDS) -> bool:
    """Wait until the engine of `state_dir` (started by someone else, e.g. a hook) runs:
    its daemon.json says "running". Never asks it over the socket: a client with other code
    (this checkout, not the installed plugin) would make it restart."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((state_dir / "daemon.json").read_text(encoding="utf-8"))
            if data.get("state") == "running" and _alive(int(data.get("pid") or 0)):
                return True
        time.sleep(0.1)
    return False


def stop_all(state_dir: Path) -> None:
    """SIGTERM the engine of `state_dir` (its pid in daemon.json; e.g. one the hooks of a
    real Claude Code started) and wait until it is gone."""
    try:
        data = json.loads((state_dir / "daemon.json").read_text(encoding="utf-8"))
        pid = int(data.get("pid") or 0)
    except (OSError, ValueError):
        return
    if pid <= 0 or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def running(env: Mapping[str, str], python: str, repo: Path) -> Iterator[Engine]:
    """A live engine for the state dir and vault of `env`; stopped on leaving."""
    environ = {k: v for k, v in env.items() if k != "MEMEM_ENGINE"}
    environ["PYTHONPATH"] = str(repo)
    log_dir = Path(env["MEMEM_DIR"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "bench-engine.out", "ab") as out:
        process = subprocess.Popen(
            [python, "-m", "memem", "daemon", "run"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    engine = Engine(environ, process)
    try:
        engine.wait_ready()
        yield engine
    finally:
        engine.stop()


@contextlib.contextmanager
def busy(memories_dir: Path) -> Iterator[dict[str, int]]:
    """Rewrite one memory file in `memories_dir` every TOUCH_SECONDS (a new inode each time:
    the scratch vault's other files are hard links into the cache and stay untouched), so the
    engine's vault watcher reconciles the whole vault back to back. Yields {"writes": n}."""
    done = threading.Event()
    counts = {"writes": 0}
    path = memories_dir / BUSY_FILE

    def touch() -> None:
        while not done.wait(TOUCH_SECONDS):
            counts["writes"] += 1
            text = BUSY_MEMORY.format(writes=counts["writes"])
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)

    thread = threading.Thread(target=touch, name="bench-busy", daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        done.set()
        thread.join()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def idle_usage(pid: int, seconds: float) -> tuple[float, float]:
    """(resident MB at the end, CPU seconds used during `seconds`) of process `pid`, from
    /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    before = cpu()
    time.sleep(seconds)
    used = cpu() - before
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return rss_kb / 1024, used


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process `pid` in MB: resident now, and its peak (Linux /proc)."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in found:
            found[key] = int(line.split()[1])
    return found["VmRSS:"] / 1024, found["VmHWM:"] / 1024
