"""Real git for tests: the environment every git subprocess runs in (HOME in the test's
tmp_path, GIT_CONFIG_NOSYSTEM=1, a global config of the test's own, no prompt, nothing of the
caller's GIT_* inherited), so the user's ~/.gitconfig is never read or written and git never
reaches a network; `git` itself, bare remotes on local disk, their objects, and small
repositories with one commit."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

TIMEOUT = 120
IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git_env(
    home: Path, config: Path | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a git command in a test, built from scratch apart from PATH: HOME is
    `home`, the global config `config` (default `home/.gitconfig`)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(config or home / ".gitconfig"),
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C.UTF-8",
        **(extra or {}),
    }


def git(*args: str, cwd: Path | None = None, env: Mapping[str, str], stdin: bytes = b"") -> str:
    """Run git; its stdout (text). Raises with git's stderr when it fails."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env),
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", errors="replace")


def bare(root: Path, relative: str, env: Mapping[str, str]) -> Path:
    """An empty bare repository at `root/relative` (a remote on local disk)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", str(path), env=env)
    return path


def all_objects(repository: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The content of every object of a git repository (loose and packed, reachable or not);
    git runs in `env`, by default with its home beside the repository."""
    env = env or git_env(repository.parent)
    done = subprocess.run(
        ["git", "-C", str(repository), "cat-file", "--batch-all-objects", "--batch"],
        env=dict(env),
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    return done.stdout


def git_repo(path: Path, remote: str | None = None, *, branch: str = "main") -> Path:
    """A repository at `path` with one empty commit on `branch`, and `origin` at `remote`."""
    path.mkdir(parents=True)
    env = git_env(path.parent / "git-home", extra=IDENTITY)
    git("init", "-q", "-b", branch, cwd=path, env=env)
    git("commit", "-q", "--allow-empty", "-m", "start", cwd=path, env=env)
    if remote is not None:
        git("remote", "add", "origin", remote, cwd=path, env=env)
    return path


def remote_files(remote: Path, env: Mapping[str, str] | None = None) -> dict[str, bytes]:
    """The files of the remote's `memem` branch ({} before the first push); git runs in `env`,
    by default with its home beside the remote."""
    env = env or git_env(remote.parent)
    try:
        listing = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "memem", env=env)
    except AssertionError:
        return {}
    return {
        path: subprocess.run(
            ["git", "--git-dir", str(remote), "show", f"memem:{path}"],
            env=dict(env),
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        ).stdout
        for path in listing.splitlines()
    }


def remote_memories(remote: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The names of the memory files on the remote's `memem` branch, sorted."""
    return sorted(Path(p).name for p in remote_files(remote, env) if p.startswith("memories/"))
