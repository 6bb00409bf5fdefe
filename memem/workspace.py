"""Where the user is working: the project name of a directory, its git repository and branch.

The hooks, the store and the miner all name projects this way: the git root's directory
name, else the directory's own name. Reads `.git` directly (no subprocess: hooks are on the
prompt's critical path).
"""

from __future__ import annotations

import os

from memem.memory import normalize_project
from memem.settings import absolute
from memem.slice import Environment


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
        if os.path.isfile(git):  # a worktree or submodule: "gitdir: <path>"
            with open(git, encoding="utf-8") as handle:
                pointer = handle.read().strip().removeprefix("gitdir:").strip()
            git = os.path.realpath(os.path.join(root, pointer))
        with open(os.path.join(git, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except (OSError, UnicodeDecodeError):
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
