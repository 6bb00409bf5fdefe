"""Owner-only permissions for everything memem keeps: 0600 files in 0700 directories.

The root cause of state readable by other users is that files are created with the process
umask (022 on most systems gives 0644 and 0755). Every entry point therefore calls
`restrict()` before anything is created, so that files made by SQLite, logging or a child
process are owner-only too; and the CLI, the MCP server and the daemon call `tighten()` on
start to fix state left by an older memem or a looser umask. `tighten` is cheap (a listdir
of the state dir and its few known subdirectories, and of the vault's memem folders), and
the hook, which runs on every prompt, does not call it.

Not memem's, left alone: the virtual environment (`<state>/venv`, its executables), and the
user's own files in the vault outside `<vault>/memem/`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

UMASK: Final = 0o077
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
NOT_OURS: Final = frozenset({"venv", "venv.lock"})


def restrict() -> None:
    """Make every file and directory this process (and its children) creates owner-only."""
    os.umask(UMASK)


def tighten(state_dir: Path, vault_dir: Path) -> list[str]:
    """Owner-only modes on memem's existing state and vault folders; the paths changed.

    Never follows a symlink and never raises: a path it cannot change is left for `memem
    doctor` to report."""
    changed: list[str] = []
    _fix(state_dir, DIR_MODE, changed)
    for entry in _entries(state_dir):
        if entry.name in NOT_OURS:
            continue
        if entry.is_dir(follow_symlinks=False):
            _fix(Path(entry.path), DIR_MODE, changed)
            # logs/, sessions/ and the like: memem's own, one level deep.
            for inner in _entries(Path(entry.path)):
                _fix_entry(inner, changed)
        else:
            _fix_entry(entry, changed)
    memem_dir = vault_dir / "memem"
    _fix(memem_dir, DIR_MODE, changed)
    for folder in (memem_dir / "memories", memem_dir / "playbooks"):
        _fix(folder, DIR_MODE, changed)
        for entry in _entries(folder):
            if entry.name.endswith(".md"):
                _fix_entry(entry, changed)
    return changed


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return list(it)
    except OSError:
        return []


def _fix_entry(entry: os.DirEntry[str], changed: list[str]) -> None:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        _fix(Path(entry.path), DIR_MODE, changed)
    elif stat.S_ISREG(st.st_mode) or stat.S_ISSOCK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        _fix(Path(entry.path), FILE_MODE, changed, st)


def _fix(path: Path, mode: int, changed: list[str], st: os.stat_result | None = None) -> None:
    try:
        st = st or os.stat(path, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
            return
        if stat.S_IMODE(st.st_mode) & ~mode:
            os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
            changed.append(str(path))
    except OSError:
        return
