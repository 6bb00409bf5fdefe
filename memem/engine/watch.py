"""The engine's eye on the vault: an edit made in Obsidian or an editor reaches recall within
about a second, with no command.

watchdog's events on the memories folder only mark the vault dirty; a thread waits for the
burst to settle (an editor writes a file in several steps, a sync tool many files at once),
then reconciles the index with the vault (files compared by mtime and size; only changed ones
are parsed). Without watchdog, or when the watch fails, it reconciles every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from memem.service.store import Store

log = logging.getLogger("memem.engine")

SETTLE_SECONDS: Final = 0.2
# A vault written more often than SETTLE_SECONDS (a sync tool, a script) is still reconciled
# this often: the burst never has to end first.
MAX_SETTLE_SECONDS: Final = 1.0
POLL_SECONDS: Final = 5.0


class VaultWatcher:
    def __init__(
        self, store: Store, stopping: threading.Event, pause: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.stopping = stopping
        self.pause = pause  # called between steps of a reconcile (requests come first)
        self.dirty = threading.Event()
        self.watching = False
        self.reconciles = 0
        self._observer: Any = None

    def start(self) -> None:
        self._observer = self._observe()
        self.watching = self._observer is not None
        threading.Thread(target=self._run, name="memem-vault", daemon=True).start()

    def stop(self) -> None:
        self.dirty.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    def _observe(self) -> Any:
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed: the vault is reconciled every few seconds")
            return None
        dirty = self.dirty

        class Edited(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type not in ("opened", "closed_no_write"):
                    dirty.set()

        observer = Observer()
        observer.daemon = True
        try:
            observer.schedule(Edited(), str(self.store.vault.memories_dir), recursive=False)
            observer.start()
        except OSError:
            log.exception("cannot watch the vault: reconciling every few seconds instead")
            return None
        return observer

    def _run(self) -> None:
        while not self.stopping.is_set():
            if self.watching:
                self.dirty.wait()
            else:
                self.dirty.wait(POLL_SECONDS)
            if self.stopping.is_set():
                return
            # Let the burst settle: one reconcile for many events.
            settled_by = time.monotonic() + MAX_SETTLE_SECONDS
            while (
                self.dirty.is_set() and not self.stopping.is_set() and time.monotonic() < settled_by
            ):
                self.dirty.clear()
                self.stopping.wait(SETTLE_SECONDS)
            self.dirty.clear()
            try:
                self.store.reconcile(self.pause)
                self.reconciles += 1
            except Exception:
                log.exception("reconciling the vault after an edit failed")
