"""The memory rows of the index: writing them (upsert, the bulk load of a rebuild, delete)
and reading them through named queries (`get`, `anchors`, `recent`, `project_memories`...),
plus the bookkeeping reconcile needs (files, hashes, stats) and counts.

The database itself (connection, schema, transactions) is `memem.storage.database`, the
tokenizer and term statistics `memem.storage.terms`, edges and broken or quarantined files
`memem.storage.records`, search `memem.storage.retrieval`; the names callers use from those
are importable from here too, so that `index.<name>` stays the one way in.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import json

from memem.core import provenance
from memem.core.memory import Memory, format_datetime, to_datetime
from memem.core.ranking import idf
from memem.core.value import Value
from memem.storage.database import (
    MEMORY_COLUMNS,
    Connection,
    Index,
    SQLiteError,
    begin,
    checkpoint,
    commit,
    in_chunks,
    rollback,
    unusable,
)
from memem.storage.records import (
    Brief,
    add_edges,
    all_edges,
    briefs,
    broken_files,
    clear_broken,
    clear_quarantined,
    degrees,
    edge_counts,
    edges_of,
    ids_of,
    layer_counts,
    quarantined_files,
    remove_all_edges,
    remove_derived_edges,
    remove_edges,
    scope_counts,
    set_broken,
    set_quarantined,
)
from memem.storage.terms import (
    adjust_terms,
    analyze,
    doc_count,
    document_frequencies,
    memory_terms,
    stopword_stems,
    term_frequencies,
    weights,
    weights_with,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence
    from typing import Any, Final

__all__ = [
    "MEMORY_COLUMNS",
    "Brief",
    "Connection",
    "Index",
    "Row",
    "SQLiteError",
    "add_edges",
    "all_edges",
    "all_memories",
    "analyze",
    "anchors",
    "around",
    "before_in_session",
    "begin",
    "briefs",
    "broken_files",
    "by_fingerprint",
    "checkpoint",
    "clear_broken",
    "clear_quarantined",
    "commit",
    "degrees",
    "delete",
    "doc_count",
    "document_frequencies",
    "edge_counts",
    "edges_of",
    "file_record",
    "files",
    "get",
    "get_many",
    "idf",
    "ids_with_prefix",
    "layer_counts",
    "load",
    "memory_terms",
    "other_file_with_id",
    "project_memories",
    "quarantined_files",
    "recent",
    "remove_all_edges",
    "remove_derived_edges",
    "remove_edges",
    "rollback",
    "scope_counts",
    "set_broken",
    "set_file_stat",
    "set_quarantined",
    "stopword_stems",
    "term_frequencies",
    "to_row",
    "unusable",
    "upsert",
    "weights",
    "weights_with",
]


class Row(Value):
    """A memory as the index holds it, with the bookkeeping reconcile and search need."""

    __slots__ = ("file", "hash", "memory", "mtime_ns", "size", "terms")

    memory: Final[Memory]
    file: Final[str]
    hash: Final[str]
    mtime_ns: Final[int]
    size: Final[int]
    terms: Final[frozenset[str]]

    def __init__(
        self, memory: Memory, file: str, hash: str, mtime_ns: int, size: int, terms: frozenset[str]
    ) -> None:
        self.memory = memory
        self.file = file
        self.hash = hash
        self.mtime_ns = mtime_ns
        self.size = size
        self.terms = terms


def _json_default(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def row_to_memory(r: sqlite3.Row) -> Memory:
    return Memory.trusted(
        id=r["id"],
        title=r["title"],
        content=r["content"],
        project=r["project"],
        tags=tuple(r["tags"].split()),
        situations=tuple(r["situations"].split("\n")) if r["situations"] else (),
        layer=r["layer"],
        importance=r["importance"],
        status=r["status"],
        source_type=r["source_type"],
        source_session=r["source_session"],
        created=to_datetime(r["created"]),
        updated=to_datetime(r["updated"]),
        valid_to=to_datetime(r["valid_to"]) if r["valid_to"] else None,
        related=ids_of(r["related"]),
        contradicts=ids_of(r["contradicts"]),
        schema_version=r["schema_version"],
        extra=json.loads(r["extra"]) if r["extra"] != "{}" else {},
        branch=r["branch"],
        private=bool(r["private"]),
        provenance=provenance.from_json(r["provenance"]) if r["provenance"] else None,
    )


def to_row(r: sqlite3.Row) -> Row:
    return Row(
        memory=row_to_memory(r),
        file=r["file"],
        hash=r["hash"],
        mtime_ns=r["mtime_ns"],
        size=r["size"],
        terms=frozenset(r["terms"].split()),
    )


# -- memories ------------------------------------------------------------------------------------


def _values(
    memory: Memory,
    *,
    file: str,
    hash: str,
    mtime_ns: int,
    size: int,
    fingerprint: str,
    terms: Iterable[str],
) -> tuple[Any, ...]:
    """Column values in MEMORY_COLUMNS order."""
    return (
        memory.id,
        file,
        hash,
        mtime_ns,
        size,
        memory.title,
        memory.content,
        " ".join(memory.tags),
        memory.project,
        memory.layer,
        memory.importance,
        memory.status,
        memory.source_type,
        memory.source_session,
        format_datetime(memory.created),
        format_datetime(memory.updated),
        format_datetime(memory.valid_to) if memory.valid_to else None,
        json.dumps(list(memory.related)),
        json.dumps(list(memory.contradicts)),
        memory.schema_version,
        json.dumps(dict(memory.extra), default=_json_default, ensure_ascii=False),
        fingerprint,
        " ".join(sorted(terms)),
        # One a line: a situation is one line (memem.core.memory.normalize_situation).
        "\n".join(memory.situations),
        memory.branch,
        int(memory.private),
        provenance.render(memory.provenance) if memory.provenance else None,
    )


_INSERT: Final = f"INSERT INTO memories({MEMORY_COLUMNS}) VALUES ({','.join('?' * len(MEMORY_COLUMNS.split(',')))})"


def upsert(
    conn: sqlite3.Connection,
    memory: Memory,
    *,
    file: str,
    hash: str,
    mtime_ns: int,
    size: int,
    fingerprint: str,
) -> None:
    """Insert or replace the row for `memory` (by id; a row holding the same file goes first)."""
    terms = memory_terms(conn, memory)
    old = conn.execute(
        "SELECT rowid, id, terms FROM memories WHERE id = ? OR file = ?", (memory.id, file)
    ).fetchall()
    for r in old:
        if r["id"] != memory.id:
            delete(conn, r["id"])
    previous = next((r for r in old if r["id"] == memory.id), None)
    values = _values(
        memory,
        file=file,
        hash=hash,
        mtime_ns=mtime_ns,
        size=size,
        fingerprint=fingerprint,
        terms=terms,
    )
    if previous is None:
        conn.execute(_INSERT, values)
        adjust_terms(conn, terms, +1)
        return
    sets = ", ".join(f"{c.strip()} = ?" for c in MEMORY_COLUMNS.split(","))
    conn.execute(f"UPDATE memories SET {sets} WHERE rowid = ?", (*values, previous["rowid"]))
    old_terms = set(previous["terms"].split())
    adjust_terms(conn, old_terms - terms, -1)
    adjust_terms(conn, terms - old_terms, +1)


def load(
    conn: sqlite3.Connection, entries: Iterable[tuple[Memory, str, str, int, int, str]]
) -> int:
    """Replace every memory row at once: (memory, file, hash, mtime_ns, size, fingerprint)
    per file.

    For a full rebuild: the triggers stand aside, the FTS index and the term statistics are
    built in one pass each at the end. Edges and broken-file records are cleared."""
    conn.execute("UPDATE counts SET bulk = 1")
    for table in ("scope", "memories", "terms", "edges", "broken", "quarantine"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('delete-all')")
    rows = (
        _values(
            memory,
            file=file,
            hash=digest,
            mtime_ns=mtime_ns,
            size=size,
            fingerprint=fingerprint,
            terms=(),
        )
        for memory, file, digest, mtime_ns, size, fingerprint in entries
    )
    conn.executemany(_INSERT, rows)
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO terms(term, df) SELECT term, doc FROM memories_vocab")
    # Each row's term set, read back from the index FTS5 just built (one tokenizer pass).
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.memories_instances "
        "USING fts5vocab(main, memories_fts, 'instance')"
    )
    conn.execute("CREATE TEMP TABLE doc_terms (doc INTEGER PRIMARY KEY, terms TEXT NOT NULL)")
    # Terms are single words (no commas), so the default separator can be swapped afterwards;
    # one grouping pass instead of a DISTINCT sort of every token.
    conn.execute(
        "INSERT INTO doc_terms SELECT doc, replace(group_concat(DISTINCT term), ',', ' ') "
        "FROM temp.memories_instances GROUP BY doc"
    )
    conn.execute(
        "UPDATE memories SET terms = "
        "coalesce((SELECT terms FROM doc_terms WHERE doc_terms.doc = memories.rowid), '')"
    )
    conn.execute("DROP TABLE temp.doc_terms")
    count = int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])
    conn.execute("UPDATE counts SET docs = ?, bulk = 0", (count,))
    return count


def delete(conn: sqlite3.Connection, memory_id: str) -> None:
    """Remove a memory from the index (its file is gone) with its edges."""
    r = conn.execute("SELECT terms FROM memories WHERE id = ?", (memory_id,)).fetchone()
    if r is None:
        return
    conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
    adjust_terms(conn, r["terms"].split(), -1)
    conn.execute("DELETE FROM edges WHERE src = ? OR dst = ?", (memory_id, memory_id))


def get(conn: sqlite3.Connection, memory_id: str) -> Row | None:
    r = conn.execute(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
    return to_row(r) if r else None


def get_many(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for chunk, marks in in_chunks(ids):
        for r in conn.execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id IN ({marks})", chunk
        ):
            found[r["id"]] = to_row(r)
    return found


def ids_with_prefix(conn: sqlite3.Connection, prefix: str, limit: int = 2) -> list[str]:
    upper = prefix + "\uffff"
    return [
        i
        for (i,) in conn.execute(
            "SELECT id FROM memories WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, upper, limit),
        )
    ]


def by_fingerprint(conn: sqlite3.Connection, fingerprint: str, project: str) -> Row | None:
    r = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE fingerprint = ? AND project = ? "
        "AND status = 'active' LIMIT 1",
        (fingerprint, project),
    ).fetchone()
    return to_row(r) if r else None


# -- named queries: every read of memory rows the service makes -------------------------------


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    return [to_row(r) for r in conn.execute(f"SELECT {MEMORY_COLUMNS} FROM memories {sql}", params)]


def all_memories(conn: sqlite3.Connection) -> list[Row]:
    """Every memory, oldest first."""
    return _rows(conn, "ORDER BY created", ())


def anchors(conn: sqlite3.Connection, project: str, limit: int | None = None) -> list[Row]:
    """The project's active L0 memories, most important and newest first."""
    return _rows(
        conn,
        "WHERE project = ? AND layer = 0 AND status = 'active' "
        "ORDER BY importance DESC, created DESC LIMIT ?",
        (project, -1 if limit is None else limit),
    )


def recent(conn: sqlite3.Connection, project: str, limit: int) -> list[Row]:
    """The project's newest active memories."""
    return _rows(
        conn,
        "WHERE project = ? AND status = 'active' ORDER BY created DESC LIMIT ?",
        (project, limit),
    )


def project_memories(conn: sqlite3.Connection, project: str, limit: int) -> list[Row]:
    """The project's active L0-L2 memories by layer, then most important and newest first
    (what its playbook is made of)."""
    return _rows(
        conn,
        "WHERE project = ? AND status = 'active' AND layer <= 2 "
        "ORDER BY layer, importance DESC, created DESC LIMIT ?",
        (project, limit),
    )


def around(
    conn: sqlite3.Connection, project: str, created: str, memory_id: str, limit: int
) -> tuple[list[Row], list[Row]]:
    """The `limit` memories of `project` created before `created` (newest first) and those
    created at or after it (oldest first), other than `memory_id`: a timeline's two halves."""
    before = _rows(
        conn,
        "WHERE project = ? AND created < ? AND id != ? ORDER BY created DESC LIMIT ?",
        (project, created, memory_id, limit),
    )
    after = _rows(
        conn,
        "WHERE project = ? AND created >= ? AND id != ? ORDER BY created LIMIT ?",
        (project, created, memory_id, limit),
    )
    return before, after


def before_in_session(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, frozenset[str]]:
    """memory id -> the terms of the active memory saved just before it in its source session,
    for those of `ids` that have one: by created time, ties (one mining pass saves a session at
    once) in index order, i.e. save order (file order after a rebuild)."""
    found: dict[str, frozenset[str]] = {}
    for chunk, marks in in_chunks(ids):
        for memory_id, terms in conn.execute(
            "SELECT m.id, (SELECT p.terms FROM memories p "
            "WHERE p.source_session = m.source_session AND p.status = 'active' "
            "AND (p.created, p.rowid) < (m.created, m.rowid) "
            "ORDER BY p.created DESC, p.rowid DESC LIMIT 1) "
            f"FROM memories m WHERE m.id IN ({marks}) AND m.source_session IS NOT NULL",
            chunk,
        ):
            if terms:
                found[memory_id] = frozenset(terms.split())
    return found


def files(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """file -> (mtime_ns, size) of every indexed file, for reconcile."""
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT file, mtime_ns, size FROM memories")}


def file_record(conn: sqlite3.Connection, file: str) -> tuple[str, str] | None:
    """(id, hash) of the memory indexed from `file`."""
    r = conn.execute("SELECT id, hash FROM memories WHERE file = ?", (file,)).fetchone()
    return (r[0], r[1]) if r else None


# -- bookkeeping and counts -------------------------------------------------------------------


def set_file_stat(conn: sqlite3.Connection, file: str, mtime_ns: int, size: int) -> None:
    """Record what a vault file looks like once written (reconcile compares against it)."""
    conn.execute(
        "UPDATE memories SET mtime_ns = ?, size = ? WHERE file = ?", (mtime_ns, size, file)
    )


def other_file_with_id(conn: sqlite3.Connection, memory_id: str, file: str) -> str | None:
    """The file, other than `file`, indexed under `memory_id` (a duplicated id), if any."""
    row = conn.execute(
        "SELECT file FROM memories WHERE id = ? AND file != ?", (memory_id, file)
    ).fetchone()
    return row[0] if row else None


def files_of(conn: sqlite3.Connection, memory_ids: Iterable[str]) -> dict[str, str]:
    """The file of each of `memory_ids` that is indexed (the stems of a file's wikilinks)."""
    wanted = list(dict.fromkeys(memory_ids))
    found: dict[str, str] = {}
    for chunk, marks in in_chunks(wanted):
        found.update(conn.execute(f"SELECT id, file FROM memories WHERE id IN ({marks})", chunk))
    return found
