"""The daemon: memem's warm engine, one per user. It serves this user's hooks, CLI and MCP
server on a local socket (memem.engine), watches the vault so that edits made elsewhere
reach recall within seconds, and, when the user opted in, mines Claude Code's settled
sessions; it syncs the memories over git on a schedule when sync is connected (memem.service.sync).

    memem daemon run [--once]   the engine (--once: mine what is due, then exit; no socket)
    memem daemon ensure | stop | status   (memem.mining.lifecycle: start, stop, heartbeat)

Lifecycle (arq's Worker): a lock file makes it single-instance (`flock`, released by the
kernel when the process dies, so a crash never leaves a stale lock); a status file carries
the heartbeat; SIGTERM stops at once: no new model call, a call in flight is abandoned after
a short drain window (the cursor had not moved, so nothing is lost) and requests in flight
are answered; the index is reconciled with the vault once on start, before mining; watchdog
events are hints that wake the loop, and a full scan of the folders on start and every few
minutes reconciles what events missed. Every failure inside the loop is logged and survived
(the crash guard). The engine holds nothing that is not derived from the vault and the
index, so `kill -9` at any moment loses nothing. It makes way when its code changed on disk
(a plugin update or uninstall) or its state dir is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from memem.engine import protocol
from memem.mining.lifecycle import lock_path, status_path
from memem.mining.service import Mining
from memem.settings import MINER_CHILD, Settings
from memem.storage.files import write_atomic

if TYPE_CHECKING:
    from memem.engine.server import Server
    from memem.engine.watch import VaultWatcher
    from memem.service.semantic import Semantic
    from memem.service.store import Store

log = logging.getLogger("memem.engine")

HEARTBEAT_SECONDS: Final = 15.0
SCAN_SECONDS: Final = 120.0
USAGE_SECONDS: Final = 60.0  # a usage detection pass (memem.service.usage), for every user
ONCE_BUDGET_SECONDS: Final = 120.0
# The main thread wakes at least this often, so that a SIGTERM is acted on promptly.
SIGNAL_SECONDS: Final = 0.25
# A new engine waits this long for one that is restarting (new code) to let go of the lock.
TAKEOVER_SECONDS: Final = 15.0
# The first sync comes this soon after the start (what other devices did meanwhile), and one
# this soon after mining saved memories (a batch of sessions mined together pushes once).
SYNC_SOON_SECONDS: Final = 10.0
# How long the exit waits for a sync in flight (git runs with its own timeouts).
SYNC_JOIN_SECONDS: Final = 60.0


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
    code: str = field(default_factory=protocol.code_digest)
    server: Server | None = None
    vault: VaultWatcher | None = None
    embedder: Semantic | None = None
    embedding: threading.Thread | None = None
    syncing: threading.Thread | None = None
    # Set by mining (memories saved) and by `stop`: the sync thread wakes.
    sync_wake: threading.Event = field(default_factory=threading.Event)
    sync: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    _state_dir_id: tuple[int, int] | None = None
    # Stopping to make way for newer code: a new engine waits for this one's lock. One that
    # is only stopping (SIGTERM, `daemon stop`) is not taken over by an engine a hook spawned.
    restarting: bool = False
    # How often the loop beats and checks `_outdated` (a test's engine beats faster).
    heartbeat: float = HEARTBEAT_SECONDS

    def __post_init__(self) -> None:
        self._state_dir_id = _identity(self.settings.state_dir)
        interval = self.settings.sync_interval
        self.sync = {"interval": interval or None, "runs": 0, "last_run": None, "last_error": ""}

    @functools.cached_property
    def mining(self) -> Mining:
        return Mining(self.settings, self.env)

    def stop(self, *_: object) -> None:
        """Ask the loop to exit: a model call in flight gets a short drain window
        (miner.DRAIN_SECONDS), then is abandoned; its chunk is mined again next time."""
        self.stopping.set()
        self.wake.set()
        self.sync_wake.set()
        if self.miner is not None:
            self.miner.stop()

    def run(self) -> int:
        """The engine. Returns 0, or 3 when another daemon already runs."""
        if self.env.get(MINER_CHILD) == "1":
            return 0  # inside memem's own `claude -p`: never recurse
        self.settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = self._lock()
        if lock_fd is None:
            return 3
        self._remove_stale_status_temps()
        self._state_dir_id = _identity(self.settings.state_dir)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        from memem.service.store import Store

        observer = None if self.once else self._watch()
        try:
            self._beat("starting")
            store = Store.open(
                state_dir=self.settings.state_dir,
                vault_dir=self.settings.vault_dir,
                semantic="background",
            )
            try:
                if not self.once:
                    self._serve(store)
                    # Published at once: `daemon ensure` waits for the socket or, when
                    # binding it failed, reports why (`last_error`) instead of waiting.
                    self._beat("running")
                    self._schedule_sync(store)
                self._loop(store)
            finally:
                if self.syncing is not None:
                    self.stopping.set()
                    self.sync_wake.set()
                    self.syncing.join(timeout=SYNC_JOIN_SECONDS)
                if self.vault is not None:
                    self.vault.stop()
                if self.server is not None:
                    self.server.close()  # requests in flight are answered first
                if self.embedding is not None:
                    # The model must not be running while the interpreter exits (onnxruntime
                    # aborts the process): the thread ends after its batch.
                    self.stopping.set()
                    self.embedding.join(timeout=30)
                store.close()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            self._beat("stopped")
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
        return 0

    def _lock(self) -> int | None:
        """The engine lock, or None when another engine holds it. One that is restarting
        (it met newer code) is waited for, so the new engine takes over at once."""
        lock_fd = os.open(lock_path(self.settings), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + TAKEOVER_SECONDS
        while True:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return lock_fd
            except OSError:
                if self._holder_state() != "restarting" or time.monotonic() > deadline:
                    os.close(lock_fd)
                    return None
                self.stopping.wait(0.05)

    def _holder_state(self) -> str:
        try:
            data = json.loads(status_path(self.settings).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        return str(data.get("state", "")) if isinstance(data, dict) else ""

    def _serve(self, store: Store) -> None:
        """Listen on the engine socket; a failure to is logged and shown in the status (the
        clients then work in-process), never fatal to mining."""
        from memem.engine.handlers import Handlers
        from memem.engine.server import Server

        path = protocol.socket_path(str(self.settings.state_dir))
        server = Server(
            path,
            Handlers(store, self.mining, self.status),
            code=self.code,
            on_stale=self._make_way,
        )
        try:
            server.bind()
        except OSError as exc:
            log.exception("cannot listen on the engine socket", extra={"socket": path})
            self.last_error = f"cannot listen on {path}: {exc}"
            return
        server.serve()
        self.server = server
        from memem.engine.watch import VaultWatcher

        self.vault = VaultWatcher(store, self.stopping, pause=server.yield_to_requests)
        self.vault.start()
        # The model loads and the vectors are made on their own thread, behind requests.
        self.embedding = threading.Thread(
            target=store.semantic.run,
            args=(self.stopping, server.yield_to_requests),
            name="memem-embed",
            daemon=True,
        )
        self.embedding.start()
        self.embedder = store.semantic

    def _schedule_sync(self, store: Store) -> None:
        """The `memem-sync` thread, unless MEMEM_SYNC_INTERVAL turned the schedule off."""
        if self.settings.sync_interval <= 0:
            return
        self.syncing = threading.Thread(
            target=self._sync_loop, args=(store,), name="memem-sync", daemon=True
        )
        self.syncing.start()

    def _sync_loop(self, store: Store) -> None:
        """Every channel whose next try has come (a failing remote backs off), every
        `sync_interval` seconds and soon after mining saved memories; behind requests. A
        failure is logged and shown in the status, never fatal."""
        from memem.core.security import redact
        from memem.service.sync import Sync
        from memem.storage.git import NICENESS

        if sys.platform == "linux":  # a thread has a niceness of its own there
            # Behind the prompt: the hook's requests are answered by other threads of this
            # process; git itself already runs niced.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        sync = Sync(store)
        pause = self.server.yield_to_requests if self.server is not None else None
        interval = self.settings.sync_interval
        due = time.monotonic() + min(interval, SYNC_SOON_SECONDS)
        while not self.stopping.is_set():
            left = due - time.monotonic()
            if left > 0:
                if self.sync_wake.wait(left):
                    self.sync_wake.clear()
                    due = min(due, time.monotonic() + SYNC_SOON_SECONDS)
                continue
            due = time.monotonic() + interval
            try:
                # Not connected: nothing to do, and nothing made in the state dir (its lock).
                if not sync.channels():
                    continue
                outcomes = sync.run(due_only=True, pause=pause)
                errors = [f"{o.channel}: {o.error}" for o in outcomes if not o.ok]
                for error in errors:
                    log.warning("a sync channel failed", extra={"error": redact(error)})
                self.sync["last_error"] = redact("; ".join(errors))
            except Exception as exc:  # the crash guard: recall and mining carry on
                log.exception("sync failed")
                self.sync["last_error"] = redact(f"{type(exc).__name__}: {exc}")
            self.sync["runs"] += 1
            self.sync["last_run"] = time.time()

    def _make_way(self, client_code: str) -> None:
        """A client runs other code. When it is newer than this engine's (a plugin update
        in a new folder) or this engine's own code changed on disk, stop: the next request
        starts an engine with the new code. A client of an older install only works
        in-process: making way for it would restart the engine back and forth between two
        installs sharing a state dir."""
        newer = protocol.code_time(client_code) > protocol.code_time(self.code)
        if not newer and protocol.code_digest() == self.code:
            return
        if not self.stopping.is_set():
            log.info("newer code on disk: making way for a new engine")
            self.restarting = True
            self._beat("restarting")
            self.stop()

    def _outdated(self) -> str:
        """Why this engine should exit on its own, or "" (checked on each heartbeat)."""
        # Gone, or (when its inode differs) deleted and made again by a writer that raced
        # the deletion: either way not the folder whose lock and index this engine holds.
        if _identity(self.settings.state_dir) != self._state_dir_id:
            return "the state dir is gone"
        if protocol.code_digest() != self.code:
            return "memem's code changed on disk (updated or uninstalled)"
        return ""

    def status(self) -> dict[str, Any]:
        """The engine's state, as `memem daemon status --json` shows it."""
        return {
            "running": True,
            "ready": self.server is not None,
            "pid": os.getpid(),
            "socket": self.server.path if self.server is not None else None,
            "version": self.code,
            "started": self.started,
            "requests": self.server.served if self.server is not None else 0,
            "mining": self.mining.opt_in,
            "backend": self.mining.backend_name(),
            "watching_vault": self.vault is not None and self.vault.watching,
            "reconciles": self.vault.reconciles if self.vault is not None else 0,
            "request_ms": self.server.request_ms() if self.server is not None else {},
            "embedder": self.embedder.status() if self.embedder is not None else None,
            "counts": self.counts,
            "last_error": self.last_error,
            "sync": self.sync,
        }

    def _loop(self, store: Store) -> None:
        from memem.core.security import redact
        from memem.mining.miner import Miner

        try:
            # A memory whose file was written just before a kill -9 may be missing from the
            # index; the same chunk is mined again (its cursor had not moved), and only an
            # index that knows the file lets dedup absorb it instead of saving it twice.
            store.reconcile()
        except Exception:  # the crash guard: mining still works, dedup is only weaker
            log.exception("reconciling the index with the vault failed")
        mining = self.mining
        miner: Miner | None = None
        last_scan = last_usage = last_retention = 0.0
        while not self.stopping.is_set():
            now = time.time()
            try:
                reason = "" if self.once else self._outdated()
                if reason:
                    log.info("the engine exits", extra={"reason": reason})
                    self._beat("stopping")
                    return
                if now - last_usage >= USAGE_SECONDS or self.once:
                    last_usage = now
                    self._usage(store)
                if self.once or mining.opt_in != "none":
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
                        if self.once and time.time() - self.started > ONCE_BUDGET_SECONDS:
                            log.warning("--once ran out of time; the rest waits")
                            break
                        if self.server is not None:
                            self.server.yield_to_requests()
                        outcome = miner.mine(path)
                        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
                        self.counts["memories"] = self.counts.get("memories", 0) + outcome.memories
                        if outcome.error:
                            self.last_error = redact(outcome.error)
                        if outcome.memories:
                            self.sync_wake.set()  # pushed soon, not at the next interval
                        self._beat("running")
                        if mining.breaker_open(time.time()):
                            break
                interval = self.settings.retention_interval  # 0: only `memem retention run`
                if interval and now - last_retention >= interval and not self.stopping.is_set():
                    last_retention = now
                    store.retention_run()
            except Exception as exc:  # the crash guard: log, back off, carry on
                log.exception("daemon loop failed")
                self.last_error = redact(f"{type(exc).__name__}: {exc}")
                self.stopping.wait(5)
            if self.once:
                return
            self._watch_new()
            self._beat("running")
            self._rest()

    def _usage(self, store: Store) -> None:
        from memem.service import usage

        try:
            usage.detect(store.settings, conn=store.index.connection())
        except Exception:  # detection waits for the next pass; mining goes on
            log.exception("usage detection failed")

    def _rest(self) -> None:
        """Until the next heartbeat or a wake-up. In slices: a signal the kernel delivers to
        another thread interrupts no wait of the main thread, and Python runs the SIGTERM
        handler only when the main thread runs again (seen: a SIGTERM answered a whole
        heartbeat late)."""
        deadline = time.monotonic() + self.heartbeat
        while not self.wake.is_set() and (left := deadline - time.monotonic()) > 0:
            self.wake.wait(min(left, SIGNAL_SECONDS))

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

    def _beat(self, state: str) -> None:
        if not self.settings.state_dir.is_dir():
            return  # deleted (memem uninstalled): never made again for a heartbeat
        if state == "running" and self.stopping.is_set():
            state = "restarting" if self.restarting else "stopping"
        data = {
            "state": state,
            "pid": os.getpid(),
            "started": self.started,
            "heartbeat": time.time(),
            "socket": self.server.path if self.server is not None else None,
            "version": self.code,
            "backend": self.mining.backend_name(),
            "counts": self.counts,
            "last_error": self.last_error,
        }
        path = status_path(self.settings)
        try:
            write_atomic(path, json.dumps(data).encode("utf-8"))
        except OSError:
            log.exception("cannot write the daemon status file")


def _identity(directory: Path) -> tuple[int, int] | None:
    """(device, inode) of a directory, or None when there is none."""
    try:
        st = directory.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def main(args: list[str]) -> int:
    """`memem daemon run [--once]`, the daemon's own entry point."""
    from memem import logs

    settings = Settings.from_env(os.environ)
    logs.setup(settings.log_dir, name="daemon")
    code = Daemon(settings, once="--once" in args, env=os.environ).run()
    if code == 3:
        print("memem: a daemon is already running (see `memem daemon status`)", file=sys.stderr)
    return code
