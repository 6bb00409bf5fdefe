"""The index's side records: what graph linking reads (`Brief`) and the edges it writes, and
the vault files that are not memories (broken: unparseable; quarantined: refused by the
scanner, memem.storage.quarantine).

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import json
from datetime import datetime

from memem.core.memory import to_datetime
from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence
    from typing import Final


def ids_of(text: str) -> tuple[str, ...]:
    """A JSON list of ids, as the index stores `related` and `contradicts`."""
    return tuple(json.loads(text)) if text != "[]" else ()


class Brief(Value):
    """A memory as linking sees it (a `graph.Node`): cheap to load for a whole vault."""

    __slots__ = (
        "active",
        "content",
        "contradicts",
        "created",
        "id",
        "project",
        "source_session",
        "terms",
        "title",
    )

    id: Final[str]
    title: Final[str]
    content: Final[str]
    project: Final[str]
    source_session: Final[str | None]
    created: Final[datetime]
    active: Final[bool]
    contradicts: Final[tuple[str, ...]]
    terms: Final[frozenset[str]]

    def __init__(
        self,
        id: str,
        title: str,
        content: str,
        project: str,
        source_session: str | None,
        created: datetime,
        active: bool,
        contradicts: tuple[str, ...],
        terms: frozenset[str],
    ) -> None:
        self.id = id
        self.title = title
        self.content = content
        self.project = project
        self.source_session = source_session
        self.created = created
        self.active = active
        self.contradicts = contradicts
        self.terms = terms


def briefs(conn: sqlite3.Connection) -> list[Brief]:
    """Every memory, oldest first, as a Brief."""
    return [
        Brief(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            to_datetime(r[5]),
            r[6] == "active",
            ids_of(r[7]),
            frozenset(r[8].split()),
        )
        for r in conn.execute(
            "SELECT id, title, content, project, source_session, created, status, contradicts, "
            "terms FROM memories ORDER BY created, id"
        )
    ]


# -- graph edges ---------------------------------------------------------------------------------


def add_edges(conn: sqlite3.Connection, edges: Iterable[tuple[str, str, str, float]]) -> None:
    conn.executemany(
        "INSERT INTO edges(src, dst, type, score) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(src, dst, type) DO UPDATE SET score = max(score, excluded.score)",
        list(edges),
    )


def edges_of(conn: sqlite3.Connection, memory_id: str) -> list[tuple[str, str, str, float]]:
    return [
        (r[0], r[1], r[2], r[3])
        for r in conn.execute(
            "SELECT src, dst, type, score FROM edges WHERE src = ? "
            "UNION ALL SELECT src, dst, type, score FROM edges WHERE dst = ?",
            (memory_id, memory_id),
        )
    ]


def remove_edges(conn: sqlite3.Connection, edges: Iterable[tuple[str, str, str]]) -> None:
    conn.executemany("DELETE FROM edges WHERE src = ? AND dst = ? AND type = ?", list(edges))


def degrees(conn: sqlite3.Connection, memory_ids: Sequence[str]) -> dict[str, int]:
    """How many edges each of `memory_ids` has (0 for none)."""
    found = dict.fromkeys(memory_ids, 0)
    if not found:
        return found
    marks = ", ".join("?" * len(found))
    ids = list(found)
    for memory_id, n in conn.execute(
        f"SELECT src, count(*) FROM edges WHERE src IN ({marks}) GROUP BY src "
        f"UNION ALL SELECT dst, count(*) FROM edges WHERE dst IN ({marks}) GROUP BY dst",
        ids * 2,
    ):
        found[memory_id] += n
    return found


def all_edges(conn: sqlite3.Connection) -> list[tuple[str, str, str, float]]:
    return [
        (r[0], r[1], r[2], r[3]) for r in conn.execute("SELECT src, dst, type, score FROM edges")
    ]


def edge_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Edges per type."""
    return dict(conn.execute("SELECT type, count(*) FROM edges GROUP BY type").fetchall())


def remove_derived_edges(conn: sqlite3.Connection, memory_id: str) -> None:
    """Drop the edges a memory's save proposed (declared ones, supersedes and contradicts, stay)."""
    conn.execute(
        "DELETE FROM edges WHERE src = ? AND type NOT IN ('supersedes', 'contradicts')",
        (memory_id,),
    )


def remove_all_edges(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM edges")


# -- broken files --------------------------------------------------------------------------------


def set_broken(conn: sqlite3.Connection, file: str, reason: str, mtime_ns: int, size: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO broken(file, reason, mtime_ns, size) VALUES (?, ?, ?, ?)",
        (file, reason, mtime_ns, size),
    )


def broken_files(conn: sqlite3.Connection) -> dict[str, tuple[str, int, int]]:
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT * FROM broken ORDER BY file")}


def clear_broken(conn: sqlite3.Connection, file: str) -> None:
    conn.execute("DELETE FROM broken WHERE file = ?", (file,))


# -- quarantined files (memem.storage.quarantine) ------------------------------------------------------


def set_quarantined(
    conn: sqlite3.Connection,
    file: str,
    memory_id: str,
    reason: str,
    hash: str,
    mtime_ns: int,
    size: int,
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO quarantine(file, id, reason, hash, mtime_ns, size) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (file, memory_id, reason, hash, mtime_ns, size),
    )


def quarantined_files(conn: sqlite3.Connection) -> dict[str, tuple[str, str, str, int, int]]:
    """file -> (id, reason, hash, mtime_ns, size), by file name."""
    rows = conn.execute(
        "SELECT file, id, reason, hash, mtime_ns, size FROM quarantine ORDER BY file"
    )
    return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}


def clear_quarantined(conn: sqlite3.Connection, file: str) -> None:
    conn.execute("DELETE FROM quarantine WHERE file = ?", (file,))


# -- counts ---------------------------------------------------------------------------------------


def layer_counts(
    conn: sqlite3.Connection, project: str | None = None
) -> list[tuple[str, int, str, int]]:
    """(project, layer, status, count) for every project, or one."""
    where, params = ("WHERE project = ?", (project,)) if project else ("", ())
    return [
        (r[0], r[1], r[2], r[3])
        for r in conn.execute(
            f"SELECT project, layer, status, count(*) FROM memories {where} GROUP BY 1, 2, 3",
            params,
        )
    ]


def scope_counts(conn: sqlite3.Connection, project: str) -> tuple[int, int]:
    """Active memories in scope: (in `project`, in all)."""
    counts = dict(
        conn.execute(
            "SELECT project = ?, count(*) FROM scope WHERE status = 'active' GROUP BY 1", (project,)
        ).fetchall()
    )
    return counts.get(1, 0), sum(counts.values())
