"""Where the user is working: the project name of a directory, its git repository and branch.

The hooks, the store and the miner all name projects this way: the git root's directory
name, else the directory's own name. Reads `.git` directly (no subprocess: hooks are on the
prompt's critical path).

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os
import stat

from memem.core.memory import normalize_project
from memem.core.slice import Environment
from memem.settings import absolute

# More than any .git pointer or HEAD holds.
GIT_FILE_LIMIT = 4096


def read_regular(path: str, limit: int, *, tail: bool = False) -> bytes | None:
    """Up to `limit` bytes of a regular file (its last ones with `tail`); None when `path` is
    anything else or unreadable. Hooks read paths they are handed (a transcript, .git/HEAD):
    a FIFO would block the open or the read forever and a device like /dev/zero never ends,
    so the open does not block and only a regular file is read, a bounded amount."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if tail and info.st_size > limit:
            os.lseek(fd, info.st_size - limit, os.SEEK_SET)
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def git_root(directory: str) -> str | None:
    """The nearest directory holding `.git`, from `directory` (absolute) upwards."""
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def project_of(cwd: str | os.PathLike[str]) -> str:
    """The project a directory belongs to: its git root's name, else its own name."""
    path = absolute(cwd)
    return normalize_project(os.path.basename(git_root(path) or path) or "global")


def _branch(root: str) -> str:
    git = os.path.join(root, ".git")
    try:
        if not os.path.isdir(git):  # a worktree or submodule: "gitdir: <path>"
            data = read_regular(git, GIT_FILE_LIMIT)
            if data is None:
                return ""
            pointer = data.decode("utf-8").strip().removeprefix("gitdir:").strip()
            git = os.path.realpath(os.path.join(root, pointer))
        data = read_regular(os.path.join(git, "HEAD"), GIT_FILE_LIMIT)
        if data is None:
            return ""
        head = data.decode("utf-8").strip()
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return ""
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref:") else head[:12]


def environment(cwd: str | os.PathLike[str]) -> Environment:
    path = absolute(cwd)
    root = git_root(path)
    return Environment(
        cwd=path,
        repository=root or "",
        branch=_branch(root) if root else "",
        project=normalize_project(os.path.basename(root or path) or "global"),
    )
