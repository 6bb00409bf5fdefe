"""The utility store: per memory, each injection decided used or not, the verdicts given and
the restores, in `<state>/utility.sqlite3` (WAL, busy timeout, 0600). It lives in the state
dir, never in the memory files: it is local history, not knowledge, and does not sync.

    Use(memory_id, at, used)  <- the usage detector (`memem.service.usage`), one per injected
                                 item; deduplicated on (memory_id, at)
    record_feedback(...)      <- `memem feedback`, MCP `memory_feedback`, `memem restore`
    factors(ids)              -> the ranking's multipliers (`memem.core.utility.factor`)
    records(ids)              -> `memem.core.utility.Record`s for retention

A restore starts a memory's record afresh: uses and verdicts before it are ignored. The
records are kept up to date by triggers (table `totals`), so reading them costs one row per
memory however long its history. Without a
utility file `factors` answers {} and creates nothing: the hook pays one `os.path.exists`.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

from memem.core.utility import VERDICTS, Record, factor, weak, weak_rate, weight
from memem.core.value import Value
from memem.errors import ConfigError, InvalidInput
from memem.storage.database import unusable
from memem.storage.ledger import iso, parse_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from os import PathLike
    from typing import Final, Self

FILE: Final = "utility.sqlite3"
BUSY_TIMEOUT_MS: Final = 10_000
CHUNK: Final = 500
NOTE_CHARS: Final = 2000
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS uses (
    memory_id TEXT NOT NULL,
    at TEXT NOT NULL,
    used INTEGER NOT NULL,
    weight REAL NOT NULL DEFAULT 1.0,
    weak INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (memory_id, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verdicts (
    memory_id TEXT NOT NULL,
    at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_memory ON verdicts(memory_id, at);
-- Each memory's record since its last restore, kept by the triggers: what the hook reads
-- (one row per id, whatever the history's length).
CREATE TABLE IF NOT EXISTS totals (
    memory_id TEXT PRIMARY KEY,
    injected INTEGER NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0,
    last_used TEXT NOT NULL DEFAULT '',
    helpful INTEGER NOT NULL DEFAULT 0,
    unhelpful INTEGER NOT NULL DEFAULT 0,
    restored TEXT NOT NULL DEFAULT '',
    evidence REAL NOT NULL DEFAULT 0,
    weak_injected INTEGER NOT NULL DEFAULT 0,
    weak_used INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS uses_ai AFTER INSERT ON uses BEGIN
    INSERT OR IGNORE INTO totals (memory_id) VALUES (new.memory_id);
    UPDATE totals SET injected = injected + 1, used = used + new.used,
        evidence = evidence + new.weight, weak_injected = weak_injected + new.weak,
        weak_used = weak_used + (new.weak AND new.used),
        last_used = CASE WHEN new.used AND new.at > last_used THEN new.at ELSE last_used END
    WHERE memory_id = new.memory_id AND new.at > restored;
END;
CREATE TRIGGER IF NOT EXISTS verdicts_ai AFTER INSERT ON verdicts BEGIN
    INSERT OR IGNORE INTO totals (memory_id) VALUES (new.memory_id);
    UPDATE totals SET injected = 0, used = 0, last_used = '', helpful = 0, unhelpful = 0,
        evidence = 0, weak_injected = 0, weak_used = 0, restored = new.at
    WHERE memory_id = new.memory_id AND new.verdict = 'restore' AND new.at > restored;
    UPDATE totals SET helpful = helpful + (new.verdict = 'helpful'),
        unhelpful = unhelpful + (new.verdict = 'unhelpful')
    WHERE memory_id = new.memory_id AND new.at > restored;
END;
"""
# A restore is a verdict row too: what came before it no longer counts.
RESTORE: Final = "restore"
# A helpful verdict repeated within this long is not counted again (a model steered by a
# planted memory could otherwise praise it on every call); sinking needs no such guard.
REPEATABLE: Final = ("helpful",)
REPEAT_SECONDS: Final = 86_400.0


class Use(Value):
    """One injected memory decided: `at` is the injection's ISO time, `used` the decision,
    `score` the memory's relevance in that slice (relative to the best, 0-1; it weighs the
    evidence: `memem.core.utility.weight`)."""

    __slots__ = ("at", "memory_id", "score", "used")

    memory_id: Final[str]
    at: Final[str]
    used: Final[bool]
    score: Final[float]

    def __init__(self, memory_id: str, at: str, used: bool, score: float = 1.0) -> None:
        self.memory_id = memory_id
        self.at = at
        self.used = bool(used)
        self.score = float(score)


class Utility:
    """A connection to the utility store; one per unit of work (not shared across threads)."""

    __slots__ = ("_conn", "_schema", "path")

    def __init__(self, path: str, conn: sqlite3.Connection | None) -> None:
        self.path = path
        self._conn = conn
        self._schema = False

    @classmethod
    def open(cls, state_dir: str | PathLike[str]) -> Self:
        """The store in `state_dir`. The file is created by the first write; until then a
        missing file reads as empty (and `factors` as {})."""
        path = os.path.join(os.fspath(state_dir), FILE)
        conn = None
        if os.path.exists(path):
            # A damaged file reads as empty (a write then raises sqlite3.DatabaseError).
            with contextlib.suppress(sqlite3.DatabaseError):
                conn = _connect(path)
        return cls(path, conn)

    def record_uses(self, uses: Iterable[Use]) -> int:
        """Add decided injections; one already recorded (same memory, same time) is skipped.
        Returns the rows added."""
        rows = [
            (u.memory_id, u.at, int(u.used), weight(u.used, u.score), int(weak(u.score)))
            for u in uses
        ]
        if not rows:
            return 0
        with self._transaction() as conn:
            # rowcount: the rows this statement added (the triggers' are not counted).
            added = conn.executemany("INSERT OR IGNORE INTO uses VALUES (?, ?, ?, ?, ?)", rows)
            return max(0, added.rowcount)

    def record_feedback(
        self, memory_id: str, verdict: str, note: str = "", *, at: str | None = None
    ) -> bool:
        """Record a verdict (helpful, unhelpful, wrong, outdated) or a restore on a memory.
        A helpful verdict the memory already got in the last REPEAT_SECONDS (since its last
        restore) is not counted again: a model told by a memory to praise it on every call
        moves its record once a day at most. False when not counted."""
        if verdict not in VERDICTS and verdict != RESTORE:
            raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        at = at or iso(time.time())
        with self._transaction() as conn:
            if (
                verdict in REPEATABLE
                and conn.execute(
                    "SELECT 1 FROM verdicts WHERE memory_id = ? AND verdict = ? AND at > ? "
                    "AND at > COALESCE((SELECT restored FROM totals WHERE memory_id = ?), '') "
                    "LIMIT 1",
                    (memory_id, verdict, iso(parse_time(at) - REPEAT_SECONDS), memory_id),
                ).fetchone()
            ):
                return False
            conn.execute(
                "INSERT INTO verdicts VALUES (?, ?, ?, ?)",
                (memory_id, at, verdict, note[:NOTE_CHARS]),
            )
        return True

    def records(self, ids: Sequence[str] | None = None) -> dict[str, Record]:
        """Each memory's record since its last restore, by id (`ids` None: every memory with
        one). A memory without a record is absent."""
        if self._conn is None:
            return {}
        found: dict[str, Record] = {}
        for chunk in _chunks(ids):
            where, params = _scope("memory_id", chunk)
            rows = self._conn.execute(
                "SELECT memory_id, injected, used, helpful, unhelpful, last_used, evidence, "
                "weak_injected, weak_used "
                "FROM totals "
                f"WHERE {where} AND injected + helpful + unhelpful > 0",
                params,
            ).fetchall()
            for memory_id, injected, used, helpful, unhelpful, last, *rest in rows:
                found[memory_id] = Record(injected, used, helpful, unhelpful, last, *rest)
        return found

    def factors(self, ids: Sequence[str]) -> dict[str, float]:
        """The ranking's multiplier per id (1.0 for a memory with no record); {} when there is
        no utility store at all."""
        return self.learned(ids)[0]

    def learned(self, ids: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
        """From one read of the records: `factors`, and `memem.core.utility.weak_rate` per id
        with a record (the slice's weak cut). ({}, {}) without a (readable) store."""
        if self._conn is None or not ids:
            return {}, {}
        try:
            records = self.records(ids)
        except sqlite3.DatabaseError:  # damaged or half-made: rank as if there were no history
            return {}, {}
        factors = {i: factor(records[i]) if i in records else 1.0 for i in ids}
        return factors, {i: weak_rate(r) for i, r in records.items()}

    def verdicts(self, memory_id: str) -> list[tuple[str, str, str]]:
        """(at, verdict, note) of every verdict and restore on a memory, oldest first."""
        if self._conn is None:
            return []
        rows = self._conn.execute(
            "SELECT at, verdict, note FROM verdicts WHERE memory_id = ? ORDER BY at",
            (memory_id,),
        ).fetchall()
        return [(str(a), str(v), str(n)) for a, v, n in rows]

    @property
    def damaged(self) -> bool:
        """Whether the file exists but could not be opened as a database (read as empty)."""
        return self._conn is None and os.path.exists(self.path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A damaged file is a ConfigError that names it: the record
        of use is the user's history, not derived data, so it is never dropped, and its
        damage is never taken for the index's (which the CLI would move aside)."""
        try:
            conn = self._writable()
            with conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            if not unusable(exc):
                raise
            raise ConfigError(
                f"the record of use {self.path} is damaged ({exc}): move it aside to start "
                "it afresh"
            ) from exc

    def _writable(self) -> sqlite3.Connection:
        if self._conn is None:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
            os.close(os.open(self.path, flags, 0o600))
            self._conn = _connect(self.path)
        if not self._schema:
            self._conn.execute("PRAGMA journal_mode = WAL")  # persistent, in the file
            self._conn.executescript(SCHEMA)
            self._schema = True
        return self._conn


def _connect(path: str) -> sqlite3.Connection:
    # The default isolation: `with conn:` is one transaction, committed or rolled back.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _chunks(ids: Sequence[str] | None) -> list[Sequence[str] | None]:
    if ids is None:
        return [None]
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _scope(column: str, ids: Sequence[str] | None) -> tuple[str, list[str]]:
    if ids is None:
        return f"{column} IS NOT NULL", []
    return f"{column} IN ({','.join('?' * len(ids))})", list(ids)
