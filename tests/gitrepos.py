"""Real git repositories for tests: git runs with a home of its own and no system config, so
the user's ~/.gitconfig is never read or written, and never reaches a network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` (its home is `git-home` beside `cwd`); its stdout. Fails the test when
    git fails."""
    home = cwd.parent / "git-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def git_repo(path: Path, remote: str | None = None, *, branch: str = "main") -> Path:
    """A repository at `path` with one empty commit on `branch`, and `origin` at `remote`."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "commit", "-q", "--allow-empty", "-m", "start")
    if remote is not None:
        git(path, "remote", "add", "origin", remote)
    return path
