"""Sync's own files under `<state>/sync/`: the channels, each channel's state, a cache of
what each vault file is in a remote's form, and the lock one sync holds at a time.

    channels.json       {"channels": [{"name", "remote", "project"}]}
    <name>.json         a channel's state (`ChannelState`): the base blob of every remote
                        path last agreed, the remote commit, what was held back, quarantined
                        or resolved, when it last synced or failed, when to try again
    <name>.git/         the channel's bare repository (`memem.storage.git`)
    files.json          vault file -> (mtime_ns, size, what sync needs of it): an unchanged
                        file is never read again
    lock                held (flock) by the one sync running; a killed one releases it
    waiting             held (shared flock) by syncs waiting for `lock`

Every write is atomic (`memem.storage.files.write_atomic`). A file that cannot be read as
what it should be is taken as empty: the state is rebuilt by the next sync, whose merge
treats a missing base as "nothing agreed yet" (absence never deletes).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from memem.errors import SyncError
from memem.storage.files import write_atomic

DIR: Final = "sync"
CHANNELS: Final = "channels.json"
FILES: Final = "files.json"
LOCK: Final = "lock"
# Held (shared) by the syncs waiting for the lock.
WAITING: Final = "waiting"
MAX_STATE_BYTES: Final = 512 * 1024 * 1024
LOCK_POLL: Final = 0.2


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    remote: str
    project: str | None = None


@dataclass(slots=True)
class ChannelState:
    """What one channel remembers between syncs (mutated by a run, then saved whole)."""

    head: str | None = None
    base: dict[str, str] = field(default_factory=dict)
    held: list[dict[str, str]] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    last_sync: str | None = None
    last_error: str = ""
    next_try: str | None = None
    failures: int = 0
    behind: int | None = None


_STATE_FIELDS: Final = tuple(ChannelState.__dataclass_fields__)

# vault file -> [mtime_ns, size, id, project, private, blob sha of its remote form, problem]
FileEntry = list[Any]


def sync_dir(state_dir: Path) -> Path:
    return state_dir / DIR


def git_dir(state_dir: Path, name: str) -> Path:
    return sync_dir(state_dir) / f"{name}.git"


def _load(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STATE_BYTES)
        return json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None


def _save(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, separators=(",", ":"), sort_keys=True).encode())


def channels(state_dir: Path) -> list[ChannelConfig]:
    loaded = _load(sync_dir(state_dir) / CHANNELS)
    items = loaded.get("channels") if isinstance(loaded, dict) else None
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            project = item.get("project")
            found.append(
                ChannelConfig(
                    item["name"],
                    str(item.get("remote", "")),
                    project if isinstance(project, str) else None,
                )
            )
    return found


def save_channels(state_dir: Path, configs: list[ChannelConfig]) -> None:
    _save(sync_dir(state_dir) / CHANNELS, {"channels": [asdict(c) for c in configs]})


def load_state(state_dir: Path, name: str) -> ChannelState:
    loaded = _load(sync_dir(state_dir) / f"{name}.json")
    if not isinstance(loaded, dict):
        return ChannelState()
    state = ChannelState()
    for key, default in asdict(ChannelState()).items():
        value = loaded.get(key, default)
        if isinstance(value, type(default)) or (default is None and isinstance(value, str | int)):
            setattr(state, key, value)
    return state


def save_state(state_dir: Path, name: str, state: ChannelState) -> None:
    # Not `asdict`: it deep-copies the base (one entry a memory) only to serialise it.
    _save(sync_dir(state_dir) / f"{name}.json", {f: getattr(state, f) for f in _STATE_FIELDS})


def forget_channel(state_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (sync_dir(state_dir) / f"{name}.json").unlink()


def load_files(state_dir: Path) -> dict[str, FileEntry]:
    loaded = _load(sync_dir(state_dir) / FILES)
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(v, list) and len(v) == 7}


def save_files(state_dir: Path, files: dict[str, FileEntry]) -> None:
    # A cache: losing it to a power cut costs one full read of the vault, nothing else.
    write_atomic(
        sync_dir(state_dir) / FILES,
        json.dumps(files, separators=(",", ":")).encode(),
        durable=False,
    )


@contextlib.contextmanager
def locked(state_dir: Path, *, wait: float) -> Iterator[bool]:
    """Hold the sync lock; yields False (without it) when another sync held it for `wait`
    seconds. The lock dies with its process (kill -9 included).

    A caller that waits (a sync by hand) says so while it waits, on a second file, and one
    that does not (the engine's schedule) stands aside while anyone waits: otherwise an
    engine syncing often can take the lock again before a waiter's next try, every time."""
    directory = sync_dir(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = _open(directory / LOCK)
    queue = _open(directory / WAITING)
    try:
        if wait > 0:
            fcntl.flock(queue, fcntl.LOCK_SH)  # blocks only for another's instant check below
        elif _flock(queue, fcntl.LOCK_EX, directory):
            fcntl.flock(queue, fcntl.LOCK_UN)
        else:
            yield False  # someone waits for the lock: let them have it first
            return
        deadline = time.monotonic() + wait
        while not _flock(fd, fcntl.LOCK_EX, directory):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(LOCK_POLL)
        fcntl.flock(queue, fcntl.LOCK_UN)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(queue)
        os.close(fd)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SyncError(f"cannot lock {path}: {exc.strerror}") from None


def _flock(fd: int, kind: int, directory: Path) -> bool:
    """Take `kind` on `fd` without blocking: False when another process holds it."""
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise SyncError(f"cannot lock {directory / LOCK}: {exc.strerror}") from None
    return True
