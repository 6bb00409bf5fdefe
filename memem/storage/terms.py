"""The index's analysis: its own FTS5 tokenizer (so our terms always equal FTS5's) and the
document frequency of every term (for IDF and coverage).

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

from memem.core.ranking import idf
from memem.core.text import STOPWORDS
from memem.storage.database import TOKENIZER, _Connection, in_chunks

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence

    from memem.core.memory import Memory
    from memem.storage.index import Row


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
        # Made inside a transaction, the tables go with its rollback: only then asked again.
        if isinstance(conn, _Connection) and not conn.in_transaction:
            conn.scratch_ready = True
    conn.execute("INSERT INTO temp.scratch(rowid, x) VALUES (1, ?)", (text,))
    try:
        return [t for (t,) in conn.execute("SELECT term FROM temp.scratch_terms ORDER BY offset")]
    finally:
        conn.execute("DELETE FROM temp.scratch")


def memory_terms(conn: sqlite3.Connection, memory: Memory) -> set[str]:
    """The memory's terms: those of every column of the FTS5 table, as `load` reads them back."""
    text = "\n".join(
        (memory.title, memory.content, " ".join(memory.tags), memory.project, *memory.situations)
    )
    return set(analyze(conn, text))


def doc_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT docs FROM counts").fetchone()[0])


def document_frequencies(conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    wanted = list(set(terms))
    found: dict[str, int] = {}
    for chunk, marks in in_chunks(wanted):
        found.update(conn.execute(f"SELECT term, df FROM terms WHERE term IN ({marks})", chunk))
    return {t: found.get(t, 0) for t in wanted}


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


def weights_with(
    conn: sqlite3.Connection, terms: frozenset[str], rows: Sequence[Row]
) -> dict[str, float]:
    """The IDF weight of every term of `terms` and of the `rows` (a draft and its candidates)."""
    return weights(conn, set(terms).union(*(r.terms for r in rows)))


def adjust_terms(conn: sqlite3.Connection, terms: Iterable[str], delta: int) -> None:
    conn.executemany(
        "INSERT INTO terms(term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + ?",
        [(t, max(delta, 0), delta) for t in terms],
    )
    if delta < 0:
        conn.execute("DELETE FROM terms WHERE df <= 0")


def term_frequencies(conn: sqlite3.Connection) -> dict[str, int]:
    """Every indexed term's document frequency."""
    return dict(conn.execute("SELECT term, df FROM terms").fetchall())
