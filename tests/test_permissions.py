"""Owner-only state whatever the umask: 0600 files in 0700 directories (memem.storage.permissions)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.test_miner import record


def memem(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """The CLI in a process started with the usual umask 022."""
    result = subprocess.run(
        [sys.executable, "-m", "memem", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def loose(root: Path, skip: tuple[str, ...] = ("venv",)) -> list[str]:
    """Everything under `root` (but `skip`) that is not a 0600 file or a 0700 directory."""
    found = []
    for path in [root, *root.rglob("*")]:
        if any(part in skip for part in path.relative_to(root).parts):
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if not path.is_symlink() and mode != want:
            found.append(f"{path.relative_to(root)} {mode:o}")
    return found


def test_every_file_memem_writes_is_owner_only_under_umask_022(isolated: Path) -> None:
    state, vault = isolated / "state", isolated / "vault"
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEMEM_MINER_BACKEND="heuristic")
    env["MEMEM_MINER_SETTLE_SECONDS"] = "0"
    memem("save", "We deploy the shop with Fly.io from main.", "--project", "shop", env=env)
    memem("search", "deploy", env=env)
    docs = isolated / "docs"
    docs.mkdir()
    (docs / "CLAUDE.md").write_text("## Style\nUse ruff format everywhere.\n", encoding="utf-8")
    memem("import", str(docs), env=env)
    payload = {"session_id": "s1", "prompt": "how do we deploy the shop?", "cwd": str(docs)}
    memem("hook", "UserPromptSubmit", stdin=json.dumps(payload), env=env)
    transcript = Path(os.environ["HOME"]) / ".claude" / "projects" / "-shop" / "s1.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(
        record("user", "We always use Postgres 16 for the shop, never MySQL.", str(docs))
        + record("assistant", "Noted: Postgres 16.", str(docs)),
        encoding="utf-8",
    )
    os.utime(transcript, (time.time() - 60, time.time() - 60))
    memem("mine", "--opt-in", "history", "--yes", env={**env, "MEMEM_ENGINE": "off"})
    memem("daemon", "run", "--once", env=env)
    memem("status", env=env)
    assert (state / "logs").is_dir() and (state / "miner.sqlite3").exists()
    assert loose(state) == []
    assert loose(vault / "memem") == []


def test_existing_loose_state_is_tightened_on_start_but_not_the_venv_or_user_files(
    isolated: Path,
) -> None:
    state, vault = isolated / "state", isolated / "vault"
    memem("save", "Postgres 16 behind pgbouncer in transaction mode.", "--project", "shop")
    for path in [state, *state.rglob("*"), vault / "memem", *(vault / "memem").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (state / "venv" / "bin").mkdir(parents=True)
    tool = state / "venv" / "bin" / "python"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (state / "venv").chmod(0o755)
    own = vault / "journal" / "today.md"
    own.parent.mkdir()
    own.write_text("the user's own note\n")
    own.chmod(0o644)
    memem("status")
    assert loose(state) == []
    assert loose(vault / "memem") == []
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755
    assert stat.S_IMODE((state / "venv").stat().st_mode) == 0o755
    assert stat.S_IMODE(own.stat().st_mode) == 0o644
