"""Project aliases: an old project name that now means another one.

memem named a repository's project after its folder until it named it after the repository's
remote (`memem.storage.workspace`); memories saved under the folder name belong to the
remote's project. `<state>/projects.json` (`{"aliases": {"old": "project"}}`) records that,
once, when memem first meets the repository and memories under its folder name exist
(`adopt`). The index stores the canonical name (the rows are renamed when the alias is recorded,
a file read later gets it on ingest, a rebuild applies every alias again: the Store's
`Reconciler`), so search, the
slice, listings and sync see one project; the files keep the name they were written with.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os

from memem.core.memory import GLOBAL_PROJECT, normalize_project
from memem.storage.files import write_atomic
from memem.storage.workspace import read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping
    from typing import Final

PROJECTS_FILE: Final = "projects.json"
# Far more than a person's repositories; a bigger file is not memem's and is not read.
MAX_PROJECTS_BYTES: Final = 1 << 20


def aliases(state_dir: str | os.PathLike[str]) -> dict[str, str]:
    """old name -> canonical name; {} when the file is missing, unreadable or not memem's."""
    data = read_regular(os.path.join(state_dir, PROJECTS_FILE), MAX_PROJECTS_BYTES)
    if not data:
        return {}
    import json

    try:
        found = json.loads(data.decode("utf-8")).get("aliases")
    except (ValueError, AttributeError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        normalize_project(old): normalize_project(new)
        for old, new in found.items()
        if isinstance(old, str)
        and isinstance(new, str)
        and normalize_project(old) != GLOBAL_PROJECT
    }


def canonical(known: Mapping[str, str], project: str) -> str:
    """The name the index stores for `project` under the aliases `known`."""
    return known.get(project, project)


def record(state_dir: str | os.PathLike[str], old: str, new: str) -> dict[str, str]:
    """Add the alias `old` -> `new` (an alias that led to `old` now leads to `new`); returns
    every alias."""
    import json

    known = {k: (new if v == old else v) for k, v in aliases(state_dir).items() if k != new}
    known[old] = new
    text = json.dumps({"aliases": dict(sorted(known.items()))}, indent=2, ensure_ascii=False)
    write_atomic(os.path.join(state_dir, PROJECTS_FILE), (text + "\n").encode("utf-8"))
    return known


def adopt(
    conn: sqlite3.Connection, state_dir: str | os.PathLike[str], folder: str, identity: str
) -> bool:
    """Make `folder` an alias of `identity` when memories are indexed under `folder`: record the
    alias, rename the rows. True when it did. Costs one indexed lookup when there is nothing to
    adopt, so the hook can call it on every prompt."""
    if not folder or folder in (identity, GLOBAL_PROJECT) or identity == GLOBAL_PROJECT:
        return False
    if (
        conn.execute("SELECT 1 FROM memories WHERE project = ? LIMIT 1", (folder,)).fetchone()
        is None
    ):
        return False
    if aliases(state_dir).get(folder) != identity:
        record(state_dir, folder, identity)
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Renamed now, so that recall finds them at once; read again from their files at the
        # next reconcile (neither stat nor hash match), which re-derives all that the project
        # name is part of (the row's terms).
        conn.execute(
            "UPDATE memories SET project = ?, mtime_ns = -1, hash = '' WHERE project = ?",
            (identity, folder),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


class Aliases:
    """The aliases of one state dir, read again only when the file changed (a long-lived
    process, the engine, sees an alias another process recorded)."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = os.fspath(state_dir)
        self._stamp: tuple[int, int, int] | None = None
        self._known: dict[str, str] = {}

    def get(self) -> dict[str, str]:
        try:
            st = os.stat(os.path.join(self.state_dir, PROJECTS_FILE))
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0, 0)
        if stamp != self._stamp:
            self._known = aliases(self.state_dir) if stamp != (0, 0, 0) else {}
            self._stamp = stamp
        return self._known

    def canonical(self, project: str) -> str:
        return canonical(self.get(), project)
