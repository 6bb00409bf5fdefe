"""The miner's own state database, `<state>/miner.sqlite3` (WAL): every query it runs, named.

    sessions    per transcript file: its byte cursor, how many chunks of the current part
                are done, attempts, status, last error, next attempt, memories saved
    meta        the opt-in ("none" | "new" | "history") and when it was given, the circuit
                breaker, the skip rule the sessions were classified with
    exchanges   an FTS5 index of the mined transcripts' exchanges (`transcript_search`)
    tokens      the receipt: tokens sent to and received from a model, per UTC day and
                backend (estimated for the claude CLI, which reports none)

Every text stored (an error quoting a reply, a project name, an exchange) is scrubbed by
`memem.core.security.redact` first. The miner (memem.mining.miner) decides what to write;
this module only reads and writes it. `opted_in` is a read-only probe that creates nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

log = logging.getLogger("memem.storage.miner_state")

BREAKER_FAILURES: Final = 5
BREAKER_SECONDS: Final = 600.0
# What makes a session "skipped" (memem.core.transcript): 2 = run in <state>/miner-cwd, or an old
# marker prompt that Claude Code marked headless.
SKIP_RULE: Final = "2"

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    path TEXT PRIMARY KEY,
    session_id TEXT,
    project TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    cursor INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt REAL NOT NULL DEFAULT 0,
    failed_size INTEGER,
    memories INTEGER NOT NULL DEFAULT 0,
    mined_at REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS exchanges USING fts5(
    user, assistant, session UNINDEXED, project UNINDEXED, date UNINDEXED, part UNINDEXED,
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS tokens (
    day TEXT NOT NULL,
    backend TEXT NOT NULL,
    estimated INTEGER NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0,
    output INTEGER NOT NULL DEFAULT 0,
    cache_write INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, backend, estimated)
);
"""
# The receipt's counters, in the `tokens` table's order.
TOKEN_FIELDS: Final = ("input", "output", "cache_write", "cache_read")

_ROW: Final = (
    "SELECT path, session_id, project, size, mtime, cursor, chunks_done, status, attempts, "
    "last_error, next_attempt, memories, mined_at FROM sessions"
)
# The columns `update` may set: the names go into the SQL text, so only these.
_UPDATABLE: Final = frozenset(
    {
        "session_id",
        "project",
        "cursor",
        "chunks_done",
        "status",
        "attempts",
        "last_error",
        "next_attempt",
        "memories",
        "mined_at",
    }
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One transcript file as the miner knows it."""

    path: str
    session_id: str | None
    project: str | None
    size: int
    mtime: float
    cursor: int
    chunks_done: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt: float
    memories: int
    mined_at: float | None


def opted_in(path: Path) -> bool:
    """Whether the user opted in to mining, read without creating or migrating anything."""
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'opt_in'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return bool(row) and row[0] != "none"


class MinerState:
    """The miner's SQLite state. A connection per thread; WAL and a busy timeout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            rule = conn.execute("SELECT value FROM meta WHERE key = 'skip_rule'").fetchone()
            if rule is None or rule[0] != SKIP_RULE:
                # Versions before SKIP_RULE skipped any session whose prompt contained the
                # marker, typed by a user too, forever: look at every skipped session again
                # (memem's own are skipped again without a model call; dedup absorbs a part
                # that had been mined before the skip).
                conn.execute(
                    "UPDATE sessions SET status = 'pending', cursor = 0, chunks_done = 0 "
                    "WHERE status = 'skipped'"
                )
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('skip_rule', ?)", (SKIP_RULE,)
                )
            conn.execute("COMMIT")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, kept open: closing the last one checkpoints the WAL,
        which would cost milliseconds on every state update."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA busy_timeout = 10000")
            self._local.conn = conn
        yield conn

    # -- opt-in and breaker ----------------------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def put(self, key: str, value: str) -> None:
        with self.connect() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def opt_in(self) -> str:
        """ "none", "new" (sessions written after opting in) or "history" (every session)."""
        return self.get("opt_in", "none")

    def set_opt_in(self, mode: str, now: float) -> None:
        self.put("opt_in", mode)
        self.put("opted_in_at", repr(now))

    def breaker_open(self, now: float) -> bool:
        return float(self.get("breaker_until", "0") or 0) > now

    def note_result(self, ok: bool, now: float) -> None:
        """Consecutive failures across sessions trip the breaker: mining pauses a while."""
        if ok:
            self.put("consecutive_failures", "0")
            return
        failures = int(self.get("consecutive_failures", "0") or 0) + 1
        self.put("consecutive_failures", str(failures))
        if failures >= BREAKER_FAILURES:
            self.put("breaker_until", repr(now + BREAKER_SECONDS))
            self.put("consecutive_failures", "0")
            log.warning(
                "mining paused: too many failures in a row", extra={"for_s": BREAKER_SECONDS}
            )

    # -- sessions --------------------------------------------------------------------------------

    def discover(self, files: Iterable[tuple[str, int, float]]) -> int:
        """Record transcript files (path, size, mtime). A changed file goes back to pending,
        a dead one too (its content changed, so it may mine now). Returns how many changed."""
        changed = 0
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            known = {
                r[0]: (r[1], r[2]) for r in conn.execute("SELECT path, size, status FROM sessions")
            }
            for path, size, mtime in files:
                if path not in known:
                    conn.execute(
                        "INSERT INTO sessions(path, size, mtime) VALUES (?, ?, ?)",
                        (path, size, mtime),
                    )
                    changed += 1
                elif known[path][0] != size:
                    conn.execute(
                        "UPDATE sessions SET size = ?, mtime = ?, status = CASE WHEN status IN "
                        "('mined', 'dead', 'failed') THEN 'pending' ELSE status END, "
                        "attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END, "
                        "next_attempt = CASE WHEN status = 'dead' THEN 0 ELSE next_attempt END "
                        "WHERE path = ?",
                        (size, mtime, path),
                    )
                    changed += 1
            conn.execute("COMMIT")
        return changed

    def row(self, path: str) -> SessionRow | None:
        with self.connect() as conn:
            r = conn.execute(f"{_ROW} WHERE path = ?", (path,)).fetchone()
        return SessionRow(*r) if r else None

    def _rows(self, where: str, params: tuple[Any, ...] = ()) -> list[SessionRow]:
        with self.connect() as conn:
            return [
                SessionRow(*r) for r in conn.execute(f"{_ROW} WHERE {where} ORDER BY mtime", params)
            ]

    def rows(self) -> list[SessionRow]:
        """Every known session, oldest first."""
        return self._rows("1")

    def unmined(self) -> list[SessionRow]:
        """Sessions with bytes not mined yet (memem's own skipped ones aside), whatever their
        backoff: what `memem mine --all` mines."""
        return self._rows("size > cursor AND status != 'skipped'")

    def failing(self) -> list[SessionRow]:
        """Failed and dead sessions that recorded an error, oldest first."""
        return self._rows("last_error IS NOT NULL AND status IN ('failed', 'dead')")

    def dead(self) -> list[SessionRow]:
        return self._rows("status = 'dead'")

    def last_mined(self) -> SessionRow | None:
        """The session mined most recently."""
        with self.connect() as conn:
            r = conn.execute(
                f"{_ROW} WHERE mined_at IS NOT NULL ORDER BY mined_at DESC LIMIT 1"
            ).fetchone()
        return SessionRow(*r) if r else None

    def due(self, now: float, settle: float) -> list[SessionRow]:
        """Sessions to mine now: opted in, settled (no write for `settle` seconds), with
        unmined bytes, not backing off (a dead session's backoff is long, not endless)."""
        mode = self.opt_in
        if mode == "none":
            return []
        since = float(self.get("opted_in_at", "0") or 0) if mode == "new" else 0.0
        return self._rows(
            "status IN ('pending', 'failed', 'dead') AND size > cursor AND mtime <= ? "
            "AND mtime >= ? "
            "AND next_attempt <= ?",
            (now - settle, since, now),
        )

    def update(self, path: str, **fields: Any) -> None:
        """Set fields of a session's row; every text (an error quoting a reply, a project
        name) is scrubbed by `security.redact` first."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not a session field: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [scrub(v) for v in fields.values()]
        with self.connect() as conn:
            conn.execute(f"UPDATE sessions SET {sets} WHERE path = ?", (*values, path))

    def reset_failed(self) -> int:
        with self.connect() as conn:
            return conn.execute(
                "UPDATE sessions SET status = 'pending', attempts = 0, next_attempt = 0 "
                "WHERE status IN ('failed', 'dead')"
            ).rowcount

    def counts(self) -> dict[str, int]:
        with self.connect() as conn:
            return dict(
                conn.execute("SELECT status, count(*) FROM sessions GROUP BY status").fetchall()
            )

    # -- the token receipt -----------------------------------------------------------------------

    def record_tokens(self, backend: str, used: Mapping[str, Any], now: float) -> None:
        """Add one model call's tokens (`TOKEN_FIELDS`, `estimated`) to today's receipt."""
        with self.connect() as conn:
            _add_tokens(conn, utc_day(now), backend, used)

    def tokens_today(self, now: float) -> int:
        """Every token mining used on this UTC day (in, out and cache), what the cap counts."""
        day = utc_day(now)
        with self.connect() as conn:
            return int(_totals(conn, day, day)["total"])

    # -- the transcript index --------------------------------------------------------------------

    def index_exchanges(
        self, session: str, project: str, part: int, exchanges: Iterable[tuple[str, str, str]]
    ) -> None:
        """(Re)index one part's exchanges (user, assistant, date), scrubbed by
        `security.redact`; idempotent per part."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM exchanges WHERE session = ? AND part = ?", (session, part))
            conn.executemany(
                "INSERT INTO exchanges(user, assistant, session, project, date, part) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (scrub(u), scrub(a), scrub(session), scrub(project), d, part)
                    for u, a, d in exchanges
                ],
            )
            conn.execute("COMMIT")

    def search(self, query: str, limit: int = 10) -> list[dict[str, str]]:
        from memem.core.text import query_terms, quote_fts

        terms = query_terms(query)
        if not terms:
            return []
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT session, project, date, snippet(exchanges, 0, '[', ']', '…', 16), "
                "snippet(exchanges, 1, '[', ']', '…', 24) FROM exchanges WHERE exchanges MATCH ? "
                "ORDER BY bm25(exchanges) LIMIT ?",
                (" OR ".join(quote_fts(t) for t in terms), limit),
            ).fetchall()
        return [
            {"session": s, "project": p, "date": d, "user": u, "assistant": a}
            for s, p, d, u, a in rows
        ]


# -- the token receipt -------------------------------------------------------------------------


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def _add_tokens(conn: sqlite3.Connection, day: str, backend: str, used: Mapping[str, Any]) -> None:
    # Bounded: a reported count past SQLite's integers would fail the call's bookkeeping.
    counts = [min(max(int(used.get(f) or 0), 0), 2**40) for f in TOKEN_FIELDS]
    conn.execute(
        "INSERT INTO tokens(day, backend, estimated, calls, input, output, cache_write, "
        "cache_read) VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT(day, backend, estimated) DO "
        "UPDATE SET calls = calls + 1, input = input + excluded.input, "
        "output = output + excluded.output, cache_write = cache_write + excluded.cache_write, "
        "cache_read = cache_read + excluded.cache_read",
        (day, backend, int(bool(used.get("estimated"))), *counts),
    )


def _totals(conn: sqlite3.Connection, since: str, until: str) -> dict[str, Any]:
    """Tokens used on the UTC days `since`..`until` (inclusive): each counter, their `total`,
    the model `calls`, and whether any of it is `estimated`."""
    row = conn.execute(
        "SELECT coalesce(sum(input), 0), coalesce(sum(output), 0), "
        "coalesce(sum(cache_write), 0), coalesce(sum(cache_read), 0), "
        "coalesce(sum(calls), 0), coalesce(max(estimated), 0) "
        "FROM tokens WHERE day BETWEEN ? AND ?",
        (since, until),
    ).fetchone()
    found = dict(zip(TOKEN_FIELDS, row[:4], strict=True))
    return {**found, "total": sum(row[:4]), "calls": row[4], "estimated": bool(row[5])}


def receipt(path: Path, now: float) -> dict[str, dict[str, Any]]:
    """`{"today": ..., "month": ...}` (`_totals`, UTC), read without creating anything: all
    zero when there is no miner database (or no receipt in it yet)."""
    day = utc_day(now)
    empty = {**dict.fromkeys(TOKEN_FIELDS, 0), "total": 0, "calls": 0, "estimated": False}
    if not path.exists():
        return {"today": dict(empty), "month": dict(empty)}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return {"today": _totals(conn, day, day), "month": _totals(conn, day[:8] + "01", day)}
        finally:
            conn.close()
    except sqlite3.Error:  # no `tokens` table yet (an older build's database), or busy
        return {"today": dict(empty), "month": dict(empty)}


def transcript_of(path: Path, session: str) -> str | None:
    """The transcript file the miner read `session` from, read without creating anything;
    None when it never mined that session (or there is no miner database)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute(
                "SELECT path FROM sessions WHERE session_id = ? ORDER BY mtime DESC LIMIT 1",
                (session,),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def scrub(value: Any) -> Any:
    """A text about to be stored, with its secrets replaced; anything else as is."""
    from memem.core.security import redact

    return redact(value) if isinstance(value, str) else value
