"""The miner daemon: one per user, watching Claude Code's session folders.

    memem daemon run [--once]   the loop (--once: mine what is due, then exit)
    memem daemon ensure | stop | status   (memem.mining.lifecycle: start, stop, heartbeat)

Lifecycle (arq's Worker): a lock file makes it single-instance (`flock`, released by the
kernel when the process dies, so a crash never leaves a stale lock); a status file carries
the heartbeat; SIGTERM stops at once: no new model call, a call in flight is abandoned after
a short drain window (the cursor had not moved, so nothing is lost); the index is reconciled
with the vault once on start, before mining; watchdog events are hints that
wake the loop, and a full scan of the folders on start and every few minutes reconciles what
events missed. Every failure inside the loop is logged and survived (the crash guard).
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from memem.mining.lifecycle import lock_path, status_path
from memem.mining.service import Mining
from memem.settings import MINER_CHILD, Settings
from memem.storage.files import write_atomic

log = logging.getLogger("memem.daemon")

HEARTBEAT_SECONDS: Final = 15.0
SCAN_SECONDS: Final = 120.0
ONCE_BUDGET_SECONDS: Final = 120.0


@dataclass
class Daemon:
    settings: Settings
    once: bool = False
    # The environment it was started in: the claude CLI backend's child runs in it.
    env: Mapping[str, str] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    counts: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    miner: Any = None
    watched: set[Path] = field(default_factory=set)

    @functools.cached_property
    def mining(self) -> Mining:
        return Mining(self.settings, self.env)

    def stop(self, *_: object) -> None:
        """Ask the loop to exit: a model call in flight gets a short drain window
        (miner.DRAIN_SECONDS), then is abandoned; its chunk is mined again next time."""
        self.stopping.set()
        self.wake.set()
        if self.miner is not None:
            self.miner.stop()

    def run(self) -> int:
        """The loop. Returns 0, or 3 when another daemon already runs."""
        if self.env.get(MINER_CHILD) == "1":
            return 0  # inside memem's own `claude -p`: never recurse
        self.settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(lock_path(self.settings), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            return 3
        self._remove_stale_status_temps()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        observer = None if self.once else self._watch()
        started = time.time()
        try:
            self._beat("running", started)
            self._loop(started)
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            self._beat("stopped", started)
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
        return 0

    def _loop(self, started: float) -> None:
        from memem.core.security import redact
        from memem.mining.miner import Miner
        from memem.service.store import Store

        store = Store.open(state_dir=self.settings.state_dir, vault_dir=self.settings.vault_dir)
        try:
            # A memory whose file was written just before a kill -9 may be missing from the
            # index; the same chunk is mined again (its cursor had not moved), and only an
            # index that knows the file lets dedup absorb it instead of saving it twice.
            store.reconcile()
        except Exception:  # the crash guard: mining still works, dedup is only weaker
            log.exception("reconciling the index with the vault failed")
        mining = self.mining
        miner: Miner | None = None
        last_scan = 0.0
        try:
            while not self.stopping.is_set():
                now = time.time()
                try:
                    if miner is None:
                        # A backend that cannot work (MEMEM_MINER_BACKEND=anthropic without a
                        # key) is reported and retried each cycle; the daemon stays up.
                        deadline = time.monotonic() + ONCE_BUDGET_SECONDS if self.once else None
                        miner = self.miner = mining.miner(store, deadline=deadline)
                        if self.stopping.is_set():  # a SIGTERM before self.miner was set
                            miner.stop()
                    if now - last_scan >= SCAN_SECONDS or self.wake.is_set() or self.once:
                        self.wake.clear()
                        mining.discover()
                        last_scan = now
                    for path in mining.due(now):
                        if self.stopping.is_set():
                            break
                        if self.once and time.time() - started > ONCE_BUDGET_SECONDS:
                            log.warning("--once ran out of time; the rest waits")
                            break
                        outcome = miner.mine(path)
                        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
                        self.counts["memories"] = self.counts.get("memories", 0) + outcome.memories
                        if outcome.error:
                            self.last_error = redact(outcome.error)
                        self._beat("running", started)
                        if mining.breaker_open(time.time()):
                            break
                except Exception as exc:  # the crash guard: log, back off, carry on
                    log.exception("daemon loop failed")
                    self.last_error = redact(f"{type(exc).__name__}: {exc}")
                    self.stopping.wait(5)
                if self.once:
                    return
                self._watch_new()
                self._beat("running", started)
                self.wake.wait(HEARTBEAT_SECONDS)
        finally:
            store.close()

    def _watch(self) -> Any:
        """A watchdog observer on the session folders; events only wake the loop."""
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed: scanning every few minutes instead")
            return None
        daemon = self

        class Hint(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if str(event.src_path).endswith(".jsonl"):
                    daemon.wake.set()

        observer = Observer()
        observer.daemon = True
        observer.start()
        self._handler = Hint()
        self._observer = observer
        self._watch_new()
        return observer

    def _watch_new(self) -> None:
        """Watch the session folders that exist now (Claude Code may create them later)."""
        observer = getattr(self, "_observer", None)
        if observer is None:
            return
        for directory in self.settings.session_dirs:
            if directory not in self.watched and directory.is_dir():
                try:
                    observer.schedule(self._handler, str(directory), recursive=True)
                except OSError:
                    log.exception("cannot watch a session folder", extra={"dir": str(directory)})
                    continue
                self.watched.add(directory)
                self.wake.set()

    def _remove_stale_status_temps(self) -> None:
        """A daemon killed inside `_beat` leaves `.daemon.json.<pid>.tmp`; holding the lock,
        this daemon is the only writer, so every such file is stale."""
        path = status_path(self.settings)
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                log.warning("cannot remove a stale status file", extra={"path": str(tmp)})

    def _beat(self, state: str, started: float) -> None:
        data = {
            "state": state,
            "pid": os.getpid(),
            "started": started,
            "heartbeat": time.time(),
            "backend": self.mining.backend_name(),
            "counts": self.counts,
            "last_error": self.last_error,
        }
        path = status_path(self.settings)
        try:
            write_atomic(path, json.dumps(data).encode("utf-8"))
        except OSError:
            log.exception("cannot write the daemon status file")


def main(args: list[str]) -> int:
    """`memem daemon run [--once]`, the daemon's own entry point."""
    from memem import logs

    settings = Settings.from_env(os.environ)
    logs.setup(settings.log_dir, name="daemon")
    code = Daemon(settings, once="--once" in args, env=os.environ).run()
    if code == 3:
        print("memem: a daemon is already running (see `memem daemon status`)", file=sys.stderr)
    return code
