"""Where the user is working: the project name of a directory, its git repository and branch.

Every front-end names a project from a directory this way (the hooks, the CLI, the MCP server,
the miner, the slice): a repository's project is named after its git remote
(`memem.core.project`), so that two clones, a worktree and a teammate's checkout agree; a
repository without a remote, or a directory outside any, by its folder name. Reads `.git`
directly (no subprocess: hooks are on the prompt's critical path), a bounded amount of each
file, and only regular files.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os
import stat

from memem.core.memory import GLOBAL_PROJECT, normalize_project
from memem.core.project import name_from_remote, remote_url
from memem.core.slice import Environment
from memem.settings import absolute

# More than any .git pointer or HEAD holds.
GIT_FILE_LIMIT = 4096
# More than the config of any repository a person set up; past it, remotes are not looked for.
CONFIG_LIMIT = 64 * 1024


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
    """The project a directory belongs to: its repository's remote, else the git root's
    folder name, else the directory's own name."""
    path = absolute(cwd)
    root = git_root(path)
    return (identity(root) if root else None) or folder_project(root or path)


def folder_project(directory: str) -> str:
    """The project a folder's name gives (what memem named every project before remotes)."""
    return normalize_project(os.path.basename(directory) or "global")


def identity(root: str) -> str | None:
    """The project named after the remote of the repository at `root`; None without one."""
    git = _git_dir(root)
    if git is None:
        return None
    # A worktree's own git dir names the repository's shared one in `commondir`.
    common = _read_text(os.path.join(git, "commondir"))
    git = _resolve(git, common.strip()) if common else git
    if git is None:
        return None
    config = _read_text(os.path.join(git, "config"), CONFIG_LIMIT, whole_lines=True)
    url = remote_url(config) if config else None
    name = normalize_project(name_from_remote(url) if url else None)
    # "global" is every project's shared scope, never one repository's name.
    return None if name == GLOBAL_PROJECT else name


def _read_text(path: str, limit: int = GIT_FILE_LIMIT, *, whole_lines: bool = False) -> str | None:
    """A small text file's text, None when unreadable or not UTF-8. `whole_lines`: a file cut
    at `limit` loses its cut last line (half a url would name another project)."""
    data = read_regular(path, limit)
    if whole_lines and data is not None and len(data) == limit:
        data = data[: data.rfind(b"\n") + 1]
    try:
        return data.decode("utf-8") if data is not None else None
    except UnicodeDecodeError:
        return None


def _git_dir(root: str) -> str | None:
    """The git dir of the repository at `root`: `.git`, or where a `.git` file points (a
    worktree or a submodule: "gitdir: <path>")."""
    git = os.path.join(root, ".git")
    if os.path.isdir(git):
        return git
    pointer = _read_text(git)
    if pointer is None or not pointer.startswith("gitdir:"):
        return None
    return _resolve(root, pointer.removeprefix("gitdir:").strip())


def _resolve(base: str, path: str) -> str | None:
    """`path` (absolute, or relative to `base`) as a real path; None when it cannot be one."""
    try:
        return os.path.realpath(os.path.join(base, path))
    except (OSError, ValueError):  # a NUL in the file, a symlink loop
        return None


def _branch(root: str) -> str:
    git = _git_dir(root)
    head = _read_text(os.path.join(git, "HEAD")) if git else None
    if head is None:
        return ""
    head = head.strip()
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref:") else head[:12]


def environment(cwd: str | os.PathLike[str]) -> Environment:
    path = absolute(cwd)
    root = git_root(path)
    folder = folder_project(root or path)
    return Environment(
        cwd=path,
        repository=root or "",
        branch=_branch(root) if root else "",
        project=(identity(root) if root else None) or folder,
        folder=folder,
    )
