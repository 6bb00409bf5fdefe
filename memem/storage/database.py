"""The index database: derived from the vault, rebuildable at any time.

Owns the connection (WAL, busy timeout, one per thread: mcp runs sync tool handlers on worker
threads), the schema and its numbered migrations in `PRAGMA user_version`, verify and recover
(a damaged file is moved aside), and the transactions: `Index.write()` (an IMMEDIATE
transaction), `begin`/`commit`/`rollback` for a save that spans file writes.

Tables: `memories` (every field of every memory file plus its analysed terms), an FTS5 table
over title, content, tags, project and situations (porter stemming, diacritics folded),
`terms` (document frequency per stemmed term, for IDF), `edges` (the graph side index),
`broken` (vault files that could not be parsed), `quarantine`. The rows are read and written by
`memem.storage.index`, the search by `memem.storage.retrieval`.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Final

# What callers annotate a connection with (the service never imports sqlite3).
Connection = sqlite3.Connection

TOKENIZER: Final = "porter unicode61 remove_diacritics 2"
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
    # 3: situations (the questions a memory answers, one a line), searched like the title.
    # An FTS5 table takes no new column: it is made again with one and rebuilt from the rows.
    f"""
    ALTER TABLE memories ADD COLUMN situations TEXT NOT NULL DEFAULT '';
    DROP TRIGGER memories_ai;
    DROP TRIGGER memories_ad;
    DROP TRIGGER memories_au;
    DROP TABLE memories_vocab;
    DROP TABLE memories_fts;
    CREATE VIRTUAL TABLE memories_fts USING fts5(
        title, content, tags, project, situations,
        content='memories', content_rowid='rowid', tokenize='{TOKENIZER}'
    );
    CREATE VIRTUAL TABLE memories_vocab USING fts5vocab(memories_fts, 'row');
    CREATE TRIGGER memories_ai AFTER INSERT ON memories
    WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(rowid, title, content, tags, project, situations)
        VALUES (new.rowid, new.title, new.content, new.tags, new.project, new.situations);
        UPDATE counts SET docs = docs + 1;
    END;
    CREATE TRIGGER memories_ad AFTER DELETE ON memories
    WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags, project, situations)
        VALUES ('delete', old.rowid, old.title, old.content, old.tags, old.project,
            old.situations);
        UPDATE counts SET docs = docs - 1;
    END;
    CREATE TRIGGER memories_au AFTER UPDATE OF title, content, tags, project, situations
    ON memories WHEN (SELECT bulk FROM counts) = 0 BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags, project, situations)
        VALUES ('delete', old.rowid, old.title, old.content, old.tags, old.project,
            old.situations);
        INSERT INTO memories_fts(rowid, title, content, tags, project, situations)
        VALUES (new.rowid, new.title, new.content, new.tags, new.project, new.situations);
    END;
    INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
    -- A file an older build indexed kept `situations` among its unknown keys: its row is
    -- indexed again at the next reconcile (neither stat nor hash match), with them in place.
    UPDATE memories SET mtime_ns = -1, hash = '' WHERE extra LIKE '%"situations"%';
    """,
    # 4: the git branch a memory was learned on, and whether it is private (never synced).
    """
    ALTER TABLE memories ADD COLUMN branch TEXT;
    ALTER TABLE memories ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    -- As in 3: a file an older build indexed kept them among its unknown keys.
    UPDATE memories SET mtime_ns = -1, hash = ''
    WHERE extra LIKE '%"branch"%' OR extra LIKE '%"private"%';
    """,
    # 5: where a mined memory came from (memem.core.provenance: a pointer, JSON), or NULL.
    """
    ALTER TABLE memories ADD COLUMN provenance TEXT;
    -- As in 3: a file an older build indexed kept it among its unknown keys.
    UPDATE memories SET mtime_ns = -1, hash = '' WHERE extra LIKE '%"provenance"%';
    """,
)

MEMORY_COLUMNS: Final = (
    "id, file, hash, mtime_ns, size, title, content, tags, project, layer, importance, status, "
    "source_type, source_session, created, updated, valid_to, related, contradicts, "
    "schema_version, extra, fingerprint, terms, situations, branch, private, provenance"
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
            if not any(sign in str(exc) for sign in _FOREIGN_SIGNS):
                raise
            # A migration met a table of the same name with another shape, or missed one
            # every memem index has: someone else's db.
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
# Old SQLite builds allow 999 bound parameters: an IN list goes in chunks well below that.
IN_CHUNK: Final = 500


def in_chunks(values: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """`values` in chunks small enough for one `IN (...)`, each with its placeholders."""
    for start in range(0, len(values), IN_CHUNK):
        chunk = list(values[start : start + IN_CHUNK])
        yield chunk, ",".join("?" * len(chunk))


# What a database failure raises, for the front-ends' error handling (they import no sqlite3).
SQLiteError: Final = sqlite3.Error

_UNUSABLE_CODES: Final = frozenset({11, 26})
# What a migration run on another application's database fails with.
_FOREIGN_SIGNS: Final = ("already exists", "no such table", "no such trigger", "no such column")
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


# -- transactions -----------------------------------------------------------------------------


def begin(conn: sqlite3.Connection) -> None:
    """Start a write transaction now (not at the first write): a save decides on what it read."""
    conn.execute("BEGIN IMMEDIATE")


def commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def rollback(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")


def checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the database (after a bulk write it can be as big as the index)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
