"""Devices and teammates for the sync tests: each a separate HOME (with its own git identity),
state dir and vault, running `python -m memem` as a user would; bare remotes on local disk.
Every git subprocess runs with HOME in tmp_path and GIT_CONFIG_NOSYSTEM=1, so the real
~/.gitconfig is never read or written. Imported as `from tests.devices import Device, bare`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def git_env(home: Path) -> dict[str, str]:
    """The environment of a git command in a test: its HOME, no system config, no prompt."""
    env = dict(os.environ, HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(key, None)
    return env


def git(home: Path, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], capture_output=True, text=True, env=git_env(home), cwd=cwd, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def bare(root: Path, name: str = "remote.git") -> Path:
    """A new bare repository on local disk, the remote of a test."""
    path = root / name
    git(root, "init", "--bare", "-q", str(path))
    return path


def remote_files(remote: Path, folder: str = "memories") -> list[str]:
    """The files under `folder` in the remote's `memem` branch ([] before the first push)."""
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "--name-only", "memem", f"{folder}/"],
        capture_output=True,
        text=True,
        env=git_env(remote.parent),
        timeout=60,
    )
    return sorted(Path(line).name for line in done.stdout.split()) if done.returncode == 0 else []


class Device:
    """One machine of one user: `run` is `memem ARGS...` there."""

    def __init__(self, root: Path, name: str, **env: str) -> None:
        self.name = name
        self.home = root / name / "home"
        self.home.mkdir(parents=True)
        (self.home / ".gitconfig").write_text(
            f"[user]\n\tname = {name}\n\temail = {name.lower()}@example.com\n", encoding="utf-8"
        )
        self.state = root / name / "state"
        self.vault = root / name / "vault"
        self.env = {
            **git_env(self.home),
            "PYTHONPATH": str(ROOT),
            "MEMEM_DIR": str(self.state),
            "MEMEM_OBSIDIAN_VAULT": str(self.vault),
            "MEMEM_ENGINE": "off",
            **env,
        }

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "memem", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.home,
            timeout=120,
        )

    def ok(self, *args: str) -> str:
        """`memem ARGS...`, which must succeed: its stdout."""
        done = self.run(*args)
        assert done.returncode == 0, f"{self.name}: memem {' '.join(args)}: {done.stderr}"
        assert "Traceback" not in done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def save(self, text: str, *options: str) -> str:
        """Save a memory here; its id."""
        return self.ok("save", text, *options).split()[-1]

    def file_of(self, memory_id: str) -> Path | None:
        """The vault file carrying `memory_id`, or None."""
        folder = self.vault / "memem" / "memories"
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            text = path.read_text(encoding="utf-8")
            if any(f"\nid: {v}\n" in text for v in (memory_id, f'"{memory_id}"')):
                return path
        return None

    def ids(self, project: str | None = None) -> set[str]:
        """The ids of the active memories searchable here (of `project`, or all)."""
        listing = self.json(
            "list", "--recent", "1000", *(["--project", project] if project else [])
        )
        return {m["id"] for p in listing for m in p.get("recent", [])}
