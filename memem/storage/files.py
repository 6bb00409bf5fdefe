"""The one atomic write: every file memem writes (memories, playbooks, the index's side files,
quarantine records, session state, the daemon's status) goes through `write_atomic`.

A unique temp file in the target's directory (the writer's pid in its name, so that
`Vault.remove_orphan_temps` can tell a crash's leftover from a write in progress), opened with
O_EXCL|O_NOFOLLOW|O_NONBLOCK (a symlink or FIFO planted at the name fails instead of being
followed or blocking), written, fsynced, renamed over the target, then the directory fsynced:
after a crash the target holds the old bytes or the new ones, never a mix or nothing.

The prompt hook writes its session state through it.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK


def temp_name(target: str | os.PathLike[str]) -> str:
    """A fresh temp path next to `target`: `.<name>.<pid>.<random>.tmp`."""
    head, name = os.path.split(os.fspath(target))
    return os.path.join(head, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def write_atomic(
    target: str | os.PathLike[str], data: bytes, *, mode: int = FILE_MODE, durable: bool = True
) -> None:
    """Replace `target` with `data`, atomically. `durable=False` skips both fsyncs: only for a
    cache that a power cut may lose harmlessly (the prompt hook's per-session state, written
    on every prompt); the rename is atomic either way."""
    target = os.fspath(target)
    parent = os.path.dirname(target) or "."
    _make_private_dirs(parent)
    tmp = temp_name(target)
    try:
        fd = os.open(tmp, _FLAGS, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # the umask may have narrowed it; never widened past `mode`
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _make_private_dirs(path: str) -> None:
    """Create `path` and each missing parent with DIR_MODE (`os.makedirs` gives the parents
    0777 minus the umask: world-writable under umask 0)."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIR_MODE)
