"""The SQLite index: derived from the vault, rebuildable at any time.

Tables: `memories` (every field of every memory file plus its analysed terms), an FTS5 table
over title, content, tags and project (porter stemming, diacritics folded), `terms` (document
frequency per stemmed term, for IDF), `edges` (the graph side index), `broken` (vault files
that could not be parsed). WAL, a busy timeout, numbered migrations in `PRAGMA user_version`.

One connection per thread (mcp runs sync tool handlers on worker threads); writes go through
`Index.write()`, an IMMEDIATE transaction. Every user string reaches MATCH quoted.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

from memem.core.memory import Memory, format_datetime, to_datetime
from memem.core.text import STOPWORDS, quote_fts
from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, Final

TOKENIZER: Final = "porter unicode61 remove_diacritics 2"
# bm25 column weights: title, content, tags, project.
WEIGHTS: Final = (4.0, 1.0, 2.0, 0.5)
BM25_ARGS: Final = ", ".join(map(str, WEIGHTS))
# Upper bound on the postings a query may make FTS5 score; rarer terms are always kept, the most
# common ones are dropped from MATCH past it (they still count for coverage).
POSTINGS_BUDGET: Final = 8_000
# Rank by BM25 x coverage**3: among matches, the one covering more of the query comes first.
COVERAGE_POWER: Final = 3
# Ranking by session (`search(..., by_session=True)`): memories saved from one source session
# answer together. A memory is credited this share of the query words that only the memory
# before it in its session holds (a reply carries the question it answered)...
SESSION_CONTEXT: Final = 0.5
# ... gains this share of the summed scores of the SESSION_PEERS best other candidates from its
# session (a session that matches the query in several memories is likelier the one asked
# about; capped, so that many weak matches do not outweigh one strong memory elsewhere) ...
SESSION_BONUS: Final = 0.15
SESSION_PEERS: Final = 3
# ... and the k-th candidate of one session is scaled by SESSION_SPREAD**k (k = 0, 1, ...), so
# that the first results are not all one session.
SESSION_SPREAD: Final = 0.7
BUSY_TIMEOUT_MS: Final = 10_000

MIGRATIONS: Final[Sequence[str]] = (
    f"""
    CREATE TABLE memories (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        file TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        mtime_ns INTEGER NOT NULL,
        size INTEGER NOT NULL,
        title TEXT NOT NULL,
        content TEXT NOT NULL,
        tags TEXT NOT NULL,
        project TEXT NOT NULL,
        layer INTEGER NOT NULL,
        importance INTEGER NOT NULL,
        status TEXT NOT NULL,
        source_type TEXT NOT NULL,
        source_session TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        valid_to TEXT,
        related TEXT NOT NULL,
        contradicts TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        extra TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        terms TEXT NOT NULL
    );
    CREATE INDEX memories_scope ON memories(project, status, layer);
    CREATE INDEX memories_fingerprint ON memories(fingerprint);
    CREATE INDEX memories_created ON memories(created);
    CREATE INDEX memories_session ON memories(source_session) WHERE source_session IS NOT NULL;
    CREATE VIRTUAL TABLE memories_fts USING fts5(
        title, content, tags, project,
        content='memories', content_rowid='rowid', tokenize='{TOKENIZER}'
    );
    -- bulk = 1 while a full rebuild loads rows: the triggers stand aside and the FTS index is
    -- rebuilt in one pass at the end.
    CREATE TABLE counts (docs INTEGER NOT NULL, bulk INTEGER NOT NULL);
    INSERT INTO counts VALUES (0, 0);
    CREATE TRIGGER memories_ai AFTER INSERT ON memories
    WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(rowid, title, content, tags, project)
        VALUES (new.rowid, new.title, new.content, new.tags, new.project);
        UPDATE counts SET docs = docs + 1;
    END;
    CREATE TRIGGER memories_ad AFTER DELETE ON memories
    WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags, project)
        VALUES ('delete', old.rowid, old.title, old.content, old.tags, old.project);
        UPDATE counts SET docs = docs - 1;
    END;
    CREATE TRIGGER memories_au AFTER UPDATE OF title, content, tags, project ON memories
    WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags, project)
        VALUES ('delete', old.rowid, old.title, old.content, old.tags, old.project);
        INSERT INTO memories_fts(rowid, title, content, tags, project)
        VALUES (new.rowid, new.title, new.content, new.tags, new.project);
    END;
    -- What search filters on, in rows small enough that joining thousands of FTS matches
    -- to them stays in cache (the memories rows carry whole contents).
    CREATE TABLE scope (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        project TEXT NOT NULL,
        status TEXT NOT NULL,
        layer INTEGER NOT NULL
    );
    CREATE TRIGGER scope_ai AFTER INSERT ON memories BEGIN
        INSERT INTO scope VALUES (new.rowid, new.id, new.project, new.status, new.layer);
    END;
    CREATE TRIGGER scope_ad AFTER DELETE ON memories BEGIN
        DELETE FROM scope WHERE rowid = old.rowid;
    END;
    CREATE TRIGGER scope_au AFTER UPDATE ON memories BEGIN
        UPDATE scope SET id = new.id, project = new.project, status = new.status,
            layer = new.layer WHERE rowid = old.rowid;
    END;
    CREATE VIRTUAL TABLE memories_vocab USING fts5vocab(memories_fts, 'row');
    CREATE TABLE terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE edges (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        type TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (src, dst, type)
    ) WITHOUT ROWID;
    CREATE INDEX edges_dst ON edges(dst);
    CREATE TABLE broken (
        file TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        mtime_ns INTEGER NOT NULL,
        size INTEGER NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: quarantined vault files (memem.storage.quarantine). Not memories: search, the slice and the
    # hooks read `memories` only, so nothing here is ever recalled.
    """
    CREATE TABLE quarantine (
        file TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        reason TEXT NOT NULL,
        hash TEXT NOT NULL,
        mtime_ns INTEGER NOT NULL,
        size INTEGER NOT NULL
    );
    CREATE INDEX quarantine_id ON quarantine(id);
    """,
)

MEMORY_COLUMNS: Final = (
    "id, file, hash, mtime_ns, size, title, content, tags, project, layer, importance, status, "
    "source_type, source_session, created, updated, valid_to, related, contradicts, "
    "schema_version, extra, fingerprint, terms"
)


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


class Match(Value):
    """A search result before presentation: the row, its score and its query coverage."""

    __slots__ = ("coverage", "row", "score")

    row: Final[Row]
    score: Final[float]
    coverage: Final[float]

    def __init__(self, row: Row, score: float, coverage: float) -> None:
        self.row = row
        self.score = score
        self.coverage = coverage


def _json_default(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _ids(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()


def row_to_memory(r: sqlite3.Row) -> Memory:
    return Memory.trusted(
        id=r["id"],
        title=r["title"],
        content=r["content"],
        project=r["project"],
        tags=tuple(r["tags"].split()),
        layer=r["layer"],
        importance=r["importance"],
        status=r["status"],
        source_type=r["source_type"],
        source_session=r["source_session"],
        created=to_datetime(r["created"]),
        updated=to_datetime(r["updated"]),
        valid_to=to_datetime(r["valid_to"]) if r["valid_to"] else None,
        related=_ids(r["related"]),
        contradicts=_ids(r["contradicts"]),
        schema_version=r["schema_version"],
        extra=json.loads(r["extra"]) if r["extra"] != "{}" else {},
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


class _Connection(sqlite3.Connection):
    scratch_ready = False


class Index:
    """Handle on the index database; hands out one connection per thread."""

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.path = os.fspath(path)
        # How long a statement waits for another process's lock before SQLITE_BUSY: a hook
        # must give up well inside its own time limit.
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        # Where a database that could not be opened was moved (see `recover`), with why.
        self.recovered: list[tuple[str, str]] = []

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect_checked()
            except sqlite3.DatabaseError as exc:
                if not unusable(exc):
                    raise
                self.recover(str(exc))
                conn = self._connect_checked()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _connect_checked(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
        except sqlite3.OperationalError as exc:
            if "already exists" not in str(exc):
                raise
            # A migration met a table of the same name with another shape: someone else's db.
            raise _ForeignSchema(f"not a memem index: {exc}") from None
        try:
            _probe(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def verify(self) -> str | None:
        """Run SQLite's quick_check (it reads every page); when the database is damaged, move
        it aside and start an empty one (`recover`). Returns the problem found, or None."""
        try:
            conn = self.connection()
            result = str(conn.execute("PRAGMA quick_check").fetchone()[0])
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            if not unusable(exc):
                raise
            result = str(exc)
        if result == "ok":
            return None
        self.recover(result)
        self.connection()
        return result

    def recover(self, reason: str) -> str:
        """Move a database that cannot be used (not a database, damaged, a foreign schema)
        aside to `<name>.corrupt-<UTC stamp>` with its -wal and -shm, so that the next
        connection starts an empty one for the caller to rebuild from the vault. Never for a
        busy or locked database (`unusable` tells them apart)."""
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = f"{self.path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.replace(self.path + suffix, aside + suffix)
        self.recovered.append((aside, reason))
        return aside

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,
            factory=_Connection,
            # Each thread uses only its own connection; `close` is the one cross-thread call.
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        os.chmod(self.path, 0o600)
        _migrate(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: committed on success, rolled back on any exception."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


# SQLite primary result codes that mean "this file is not a usable index" rather than "try
# again later": SQLITE_CORRUPT, SQLITE_NOTADB. Busy and locked databases are never among them.
_UNUSABLE_CODES: Final = frozenset({11, 26})
_SCHEMA_TABLES: Final = ("memories", "memories_fts", "scope", "terms", "edges", "broken", "counts")


class _ForeignSchema(sqlite3.DatabaseError):
    """The file is a database, but not one with memem's tables."""


def unusable(exc: sqlite3.Error) -> bool:
    """True when `exc` says the database file itself is damaged or not an index, so that only
    moving it aside helps; False for busy, locked, full or permission errors."""
    if isinstance(exc, _ForeignSchema):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _UNUSABLE_CODES


def _probe(conn: sqlite3.Connection) -> None:
    """Fail with an `unusable` error unless the schema holds every table and column memem
    uses (reads only the schema, so it costs nothing on the hook path)."""
    try:
        for table in _SCHEMA_TABLES:
            conn.execute(f"SELECT * FROM {table} LIMIT 0")
        conn.execute(f"SELECT {MEMORY_COLUMNS} FROM memories LIMIT 0")
    except sqlite3.OperationalError as exc:
        if "no such" not in str(exc):
            raise
        raise _ForeignSchema(f"not a memem index: {exc}") from None


def _migrate(conn: sqlite3.Connection) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""


# -- analysis: the index's own tokenizer, so our terms always equal FTS5's -----------------------


def analyze(conn: sqlite3.Connection, text: str) -> list[str]:
    """The stemmed, folded tokens FTS5 makes of `text`, in order (repeats included)."""
    if not getattr(conn, "scratch_ready", False):
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch USING fts5(x, tokenize='{TOKENIZER}')"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_terms "
            "USING fts5vocab(temp, scratch, 'instance')"
        )
        if isinstance(conn, _Connection):
            conn.scratch_ready = True
    conn.execute("INSERT INTO temp.scratch(rowid, x) VALUES (1, ?)", (text,))
    try:
        return [t for (t,) in conn.execute("SELECT term FROM temp.scratch_terms ORDER BY offset")]
    finally:
        conn.execute("DELETE FROM temp.scratch")


def memory_terms(conn: sqlite3.Connection, memory: Memory) -> set[str]:
    text = "\n".join((memory.title, memory.content, " ".join(memory.tags), memory.project))
    return set(analyze(conn, text))


def doc_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT docs FROM counts").fetchone()[0])


def document_frequencies(conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    wanted = list(set(terms))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(conn.execute(f"SELECT term, df FROM terms WHERE term IN ({marks})", chunk))
    return {t: found.get(t, 0) for t in wanted}


def idf(df: int, docs: int) -> float:
    """Always positive (BM25+ style): a term in every document still weighs a little."""
    return math.log(1.0 + (docs - df + 0.5) / (df + 0.5))


_stopword_stems: frozenset[str] | None = None


def stopword_stems(conn: sqlite3.Connection) -> frozenset[str]:
    """The stopwords as the index stems them ("does" -> "doe"); computed once per process."""
    global _stopword_stems
    if _stopword_stems is None:
        _stopword_stems = frozenset(analyze(conn, " ".join(STOPWORDS)))
    return _stopword_stems


def weights(conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, float]:
    """IDF weight of each term; stopwords weigh nothing (they say nothing about similarity)."""
    docs = doc_count(conn)
    stop = stopword_stems(conn)
    return {
        t: 0.0 if t in stop else idf(df, docs)
        for t, df in document_frequencies(conn, terms).items()
    }


def _adjust_terms(conn: sqlite3.Connection, terms: Iterable[str], delta: int) -> None:
    conn.executemany(
        "INSERT INTO terms(term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + ?",
        [(t, max(delta, 0), delta) for t in terms],
    )
    if delta < 0:
        conn.execute("DELETE FROM terms WHERE df <= 0")


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
        _adjust_terms(conn, terms, +1)
        return
    sets = ", ".join(f"{c.strip()} = ?" for c in MEMORY_COLUMNS.split(","))
    conn.execute(f"UPDATE memories SET {sets} WHERE rowid = ?", (*values, previous["rowid"]))
    old_terms = set(previous["terms"].split())
    _adjust_terms(conn, old_terms - terms, -1)
    _adjust_terms(conn, terms - old_terms, +1)


def load(conn: sqlite3.Connection, entries: Iterable[tuple[Memory, str, str, int, int]]) -> int:
    """Replace every memory row at once: (memory, file, hash, mtime_ns, size) per file.

    For a full rebuild: the triggers stand aside, the FTS index and the term statistics are
    built in one pass each at the end. Edges and broken-file records are cleared."""
    from memem.core.conflict import fingerprint

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
            fingerprint=fingerprint(memory.content),
            terms=(),
        )
        for memory, file, digest, mtime_ns, size in entries
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
    _adjust_terms(conn, r["terms"].split(), -1)
    conn.execute("DELETE FROM edges WHERE src = ? OR dst = ?", (memory_id, memory_id))


def get(conn: sqlite3.Connection, memory_id: str) -> Row | None:
    r = conn.execute(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
    return to_row(r) if r else None


def get_many(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
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


def select(
    conn: sqlite3.Connection,
    where: str = "1",
    params: Sequence[Any] = (),
    *,
    order: str = "created",
) -> list[Row]:
    """Rows matching a WHERE clause built by the caller from constants (values go in params)."""
    sql = f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} ORDER BY {order}"
    return [to_row(r) for r in conn.execute(sql, params)]


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
            _ids(r[7]),
            frozenset(r[8].split()),
        )
        for r in conn.execute(
            "SELECT id, title, content, project, source_session, created, status, contradicts, "
            "terms FROM memories ORDER BY created, id"
        )
    ]


def files(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """file -> (mtime_ns, size) of every indexed file, for reconcile."""
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT file, mtime_ns, size FROM memories")}


def file_record(conn: sqlite3.Connection, file: str) -> tuple[str, str] | None:
    """(id, hash) of the memory indexed from `file`."""
    r = conn.execute("SELECT id, hash FROM memories WHERE file = ?", (file,)).fetchone()
    return (r[0], r[1]) if r else None


def checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the database (after a bulk write it can be as big as the index)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# -- search --------------------------------------------------------------------------------------


def search(
    conn: sqlite3.Connection,
    words: Sequence[str],
    *,
    projects: Sequence[str] | None = None,
    include_deprecated: bool = False,
    max_layer: int = 3,
    limit: int = 10,
    candidates: int = 40,
    min_coverage: float = 0.0,
    max_match_terms: int | None = None,
    exclude: Sequence[str] = (),
    unknown_weight: float = 1.0,
    floor_coverage: float = 0.0,
    floor_terms: float = 0.0,
    by_session: bool = False,
) -> list[Match]:
    """Rank memories for a bag of query words: an OR of terms scored by BM25, re-weighted by
    coverage (the share of the query's IDF mass a memory contains). Memories below
    `min_coverage` are dropped. The relevance floor: nothing at all unless the best candidate
    covers `floor_coverage` of the query and `floor_terms` of its words' worth (coverage times
    the number of distinct words: one shared word is chance; a one-word query needs its word).
    `by_session` ranks with each memory's source session (see SESSION_CONTEXT).
    `max_match_terms` keeps only the rarest words in MATCH (for long texts used as queries:
    finding a memory's neighbours)."""
    if not words:
        return []
    stems = _stems_of(conn, words)
    docs = doc_count(conn)
    dfs = document_frequencies(conn, stems.values())
    # Coverage weighs a word by its IDF plus one: a rare word counts most, a common one the query
    # names (a person, the project) still counts a little. A word the vault has never seen
    # weighs `unknown_weight` times its rarest word: it may be filler ("production") or the
    # heart of an off-topic prompt ("weather").
    unknown = unknown_weight * (idf(1, docs) + 1.0)
    weights = {s: idf(dfs[s], docs) + 1.0 if dfs[s] else unknown for s in set(stems.values())}
    total = sum(weights.values())
    known = sorted((w for w, s in stems.items() if dfs[s] > 0), key=lambda w: dfs[stems[w]])
    if not known or total <= 0:
        return []
    chosen: list[str] = []
    budget = 0
    for word in known:
        df = dfs[stems[word]]
        # Past the rarest word, a word in over a quarter of the memories adds little to BM25
        # (its IDF is small) but costs a posting per memory: it only counts for coverage.
        if chosen and (budget + df > POSTINGS_BUDGET or df > docs // 4):
            continue
        chosen.append(word)
        budget += df
        if max_match_terms and len(chosen) >= max_match_terms:
            break
    where = ["memories_fts MATCH ?"]
    params: list[Any] = [" OR ".join(quote_fts(w) for w in chosen)]
    if not include_deprecated:
        where.append("s.status = 'active'")
    if max_layer < 3:
        where.append("s.layer <= ?")
        params.append(max_layer)
    if projects:
        where.append(f"s.project IN ({','.join('?' * len(projects))})")
        params.extend(projects)
    if exclude:
        where.append(f"s.id NOT IN ({','.join('?' * len(exclude))})")
        params.extend(exclude)
    # Rank with only rowids in the sorter; read the few winners' rows afterwards.
    # bm25() with explicit weights is cheaper than the configured `rank` column.
    sql = (
        f"SELECT s.rowid, bm25(memories_fts, {BM25_ARGS}) AS score FROM memories_fts "
        "JOIN scope s ON s.rowid = memories_fts.rowid "
        f"WHERE {' AND '.join(where)} ORDER BY score LIMIT ?"
    )
    params.append(max(candidates, limit))
    ranks = dict(conn.execute(sql, params).fetchall())
    if not ranks:
        return []
    marks = ",".join("?" * len(ranks))
    rows = conn.execute(
        f"SELECT rowid, {MEMORY_COLUMNS} FROM memories WHERE rowid IN ({marks})", list(ranks)
    ).fetchall()

    def covered(terms: Iterable[str]) -> float:
        present = set(terms)
        return sum(w for s, w in weights.items() if s in present) / total

    if not rows:
        return []  # deleted (or the index rebuilt) between the two queries
    coverage = {r["rowid"]: covered(r["terms"].split()) for r in rows}
    best = max(coverage.values())
    if best < floor_coverage or best * len(weights) < min(floor_terms, len(weights)):
        return []
    shares = _with_context(conn, rows, coverage, covered) if by_session else coverage
    scores = {
        rowid: -float(ranks[rowid]) * share**COVERAGE_POWER for rowid, share in shares.items()
    }
    if by_session:
        scores = _with_peers(rows, scores)
    scored = sorted(
        ((scores[r["rowid"]], coverage[r["rowid"]], r) for r in rows),
        key=lambda item: item[0],
        reverse=True,
    )
    scored = [item for item in scored if item[1] >= min_coverage]
    if by_session:
        scored = _spread(scored)
    return [Match(to_row(r), score, share) for score, share, r in scored[:limit]]


def _with_context(
    conn: sqlite3.Connection,
    rows: Sequence[sqlite3.Row],
    coverage: dict[int, float],
    covered: Callable[[Iterable[str]], float],
) -> dict[int, float]:
    """Coverage crediting SESSION_CONTEXT of what the memory before each in its session adds."""
    sessioned = [r["rowid"] for r in rows if r["source_session"]]
    if not sessioned:
        return coverage
    marks = ",".join("?" * len(sessioned))
    # The active memory saved just before in the same source session: by created time, ties
    # (one mining pass saves a session at once) in index order, i.e. save order (file order
    # after a rebuild).
    before = {
        rowid: terms
        for rowid, terms in conn.execute(
            "SELECT m.rowid, (SELECT p.terms FROM memories p "
            "WHERE p.source_session = m.source_session AND p.status = 'active' "
            "AND (p.created, p.rowid) < (m.created, m.rowid) "
            "ORDER BY p.created DESC, p.rowid DESC LIMIT 1) "
            f"FROM memories m WHERE m.rowid IN ({marks})",
            sessioned,
        )
        if terms
    }
    shares = dict(coverage)
    for r in rows:
        rowid = r["rowid"]
        if rowid in before:
            joint = covered([*r["terms"].split(), *before[rowid].split()])
            shares[rowid] += SESSION_CONTEXT * (joint - shares[rowid])
    return shares


def _with_peers(rows: Sequence[sqlite3.Row], scores: dict[int, float]) -> dict[int, float]:
    """Each score plus SESSION_BONUS of the SESSION_PEERS best other scores of its session."""
    best: dict[str, list[float]] = {}
    for r in rows:
        if r["source_session"]:
            best.setdefault(r["source_session"], []).append(scores[r["rowid"]])
    for ranked in best.values():
        ranked.sort(reverse=True)
    boosted = dict(scores)
    for r in rows:
        if r["source_session"]:
            own = scores[r["rowid"]]
            peers = best[r["source_session"]][: SESSION_PEERS + 1]
            if own in peers:
                peers.remove(own)
            boosted[r["rowid"]] = own + SESSION_BONUS * sum(peers[:SESSION_PEERS])
    return boosted


def _spread(
    scored: list[tuple[float, float, sqlite3.Row]],
) -> list[tuple[float, float, sqlite3.Row]]:
    """Scale the k-th result of each source session by SESSION_SPREAD**k and re-sort."""
    seen: dict[str, int] = {}
    spread: list[tuple[float, float, sqlite3.Row]] = []
    for score, share, r in scored:
        session = r["source_session"]
        k = seen.get(session, 0) if session else 0
        if session:
            seen[session] = k + 1
        spread.append((score * SESSION_SPREAD**k, share, r))
    spread.sort(key=lambda item: item[0], reverse=True)
    return spread


def _stems_of(conn: sqlite3.Connection, words: Sequence[str]) -> dict[str, str]:
    """word -> its FTS5 stem. One tokenizer pass when it yields one token per word."""
    stems = analyze(conn, " ".join(words))
    if len(stems) == len(words):
        return dict(zip(words, stems, strict=True))
    result: dict[str, str] = {}
    for word in words:
        tokens = analyze(conn, word)
        if tokens:
            result[word] = tokens[0]
    return result


# -- transactions and counts -----------------------------------------------------------------------


def begin(conn: sqlite3.Connection) -> None:
    """Start a write transaction now (not at the first write): a save decides on what it read."""
    conn.execute("BEGIN IMMEDIATE")


def commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def rollback(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")


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


def term_frequencies(conn: sqlite3.Connection) -> dict[str, int]:
    """Every indexed term's document frequency."""
    return dict(conn.execute("SELECT term, df FROM terms").fetchall())


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


# -- saving ----------------------------------------------------------------------------------------


def similar(conn: sqlite3.Connection, memory: Memory, limit: int = 20) -> list[Row]:
    """Indexed memories (not `memory` itself) that share the most weight with `memory`: what a
    save compares a draft with (duplicates, contradictions) and links it to."""
    from memem.core.text import query_terms

    query = query_terms(f"{memory.title}\n{memory.content}", limit=400)
    matches = search(
        conn, query, limit=limit, candidates=limit * 2, max_match_terms=12, exclude=(memory.id,)
    )
    return [m.row for m in matches]


def weights_with(
    conn: sqlite3.Connection, terms: frozenset[str], rows: Sequence[Row]
) -> dict[str, float]:
    """The IDF weight of every term of `terms` and of the `rows` (a draft and its candidates)."""
    return weights(conn, set(terms).union(*(r.terms for r in rows)))


def anchors(conn: sqlite3.Connection, project: str) -> list[Row]:
    """A project's active L0 memories: the ones its L0 cap counts."""
    return select(conn, "project = ? AND layer = 0 AND status = 'active'", (project,))


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


def files_of(conn: sqlite3.Connection, memory_ids: Iterable[str]) -> dict[str, str]:
    """The file of each of `memory_ids` that is indexed (the stems of a file's wikilinks)."""
    wanted = list(dict.fromkeys(memory_ids))
    found: dict[str, str] = {}
    for at in range(0, len(wanted), 500):  # under SQLite's bound-parameter limit
        chunk = wanted[at : at + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(conn.execute(f"SELECT id, file FROM memories WHERE id IN ({marks})", chunk))
    return found
