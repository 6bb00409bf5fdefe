"""Where the user is working: the project name of a directory, its git repository and branch.

The hooks, the store and the miner all name projects this way: the git root's directory
name, else the directory's own name. Reads `.git` directly (no subprocess: hooks are on the
prompt's critical path).
"""

from __future__ import annotations

from pathlib import Path

from memem.memory import normalize_project
from memem.slice import Environment


def git_root(cwd: Path) -> Path | None:
    for directory in (cwd, *cwd.parents):
        if (directory / ".git").exists():
            return directory
    return None


def project_of(cwd: str | Path) -> str:
    """The project a directory belongs to: its git root's name, else its own name."""
    path = Path(cwd).expanduser().absolute()
    root = git_root(path)
    return normalize_project((root or path).name or "global")


def _branch(root: Path) -> str:
    git = root / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            pointer = git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
            git = (root / pointer).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref:") else head[:12]


def environment(cwd: str | Path) -> Environment:
    path = Path(cwd).expanduser().absolute()
    root = git_root(path)
    return Environment(
        cwd=str(path),
        repository=str(root) if root else "",
        branch=_branch(root) if root else "",
        project=normalize_project((root or path).name or "global"),
    )
