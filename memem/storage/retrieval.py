"""Search's side of the index: the candidates of a query (an FTS5 OR of its rarest words,
ranked by BM25, in scope) and what ranking by session needs (the memory before each in its
session). The scoring is `memem.core.ranking`'s; this module only fetches.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

from memem.core import ranking
from memem.core.text import query_terms, quote_fts
from memem.storage import index, terms

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Final

    from memem.core.memory import Memory
    from memem.core.ranking import Scored
    from memem.storage.index import Row

# bm25 column weights: title, content, tags, project, situations (the questions a memory
# answers: nearly as telling as its title).
WEIGHTS: Final = (4.0, 1.0, 2.0, 0.5, 3.0)
BM25_ARGS: Final = ", ".join(map(str, WEIGHTS))
# A long text as a query (`similar`): only its rarest words go into MATCH, which bounds the
# postings scored; a dozen rare words find a memory's near-duplicates.
SIMILAR_TERMS: Final = 12


def search(
    conn: sqlite3.Connection,
    words: Sequence[str],
    *,
    projects: Sequence[str] | None = None,
    include_deprecated: bool = False,
    max_layer: int = 3,
    limit: int = 10,
    min_coverage: float = ranking.MIN_COVERAGE,
    floor_coverage: float = ranking.FLOOR_COVERAGE,
    floor_terms: float = ranking.FLOOR_TERMS,
    unknown_weight: float = ranking.UNKNOWN_WEIGHT,
    dense: Mapping[str, float] | None = None,
    dense_floor: float = 1.0,
    dense_weight: float = ranking.DENSE_WEIGHT,
    utility: Callable[[Sequence[str]], Mapping[str, float]] | None = None,
    include_archived: bool = False,
) -> list[Scored]:
    """Memories for a bag of query words, best first, ranked with their source sessions
    (`memem.core.ranking.rank`); nothing at all unless the best candidate clears the relevance
    floor (`floor_coverage`, `floor_terms`), or, with `dense` (the cosines of the memories
    closest in meaning, by id, all in scope), the floor on meaning: `dense_floor`
    (`memem.core.ranking.dense_floor`), weighed `dense_weight` in the hybrid score. The scope: `projects`
    (None: every one), the layers up to `max_layer`, deprecated memories with
    `include_deprecated`, archived ones (lexical matches only) with `include_archived`.
    `utility`: the candidates' ids -> their ranking factors (`memem.storage.utility`)."""
    found = _candidates(
        conn,
        words,
        projects=projects,
        include_deprecated=include_deprecated,
        include_archived=include_archived,
        max_layer=max_layer,
        candidates=max(ranking.CANDIDATES, limit),
        unknown_weight=unknown_weight,
    )
    weights, rows, bm25 = found or ({}, [], {})
    best = max((ranking.coverage(weights, r.terms) for r in rows), default=0.0)
    lexical = bool(rows) and ranking.passes_floor(best, len(weights), floor_coverage, floor_terms)
    if dense is not None:
        best_cosine = max(dense.values(), default=0.0)
        if not (lexical or ranking.passes_dense_floor(best_cosine, dense_floor, len(set(words)))):
            return []
        have = {r.memory.id for r in rows}
        more = index.get_many(conn, [i for i in dense if i not in have])
        rows = rows + [
            r
            for r in more.values()
            if r.memory.layer <= max_layer
            and (include_deprecated or r.memory.active)
            and (projects is None or r.memory.project in projects)
        ]
    elif not lexical:
        return []
    if not rows:
        return []
    before = index.before_in_session(conn, [r.memory.id for r in rows if r.memory.source_session])
    return ranking.rank(
        rows,
        bm25,
        weights,
        before=before,
        limit=limit,
        min_coverage=min_coverage,
        dense=dense,
        lexical_floor=lexical,
        weight=dense_weight,
        utility=utility([r.memory.id for r in rows]) if utility is not None else None,
    )


def similar(
    conn: sqlite3.Connection, words: Sequence[str], *, limit: int, exclude: Sequence[str] = ()
) -> list[Row]:
    """The active memories, in any project, sharing the most weight with a long text (a
    memory's own words: its duplicates, contradictions and graph neighbours). Only its
    SIMILAR_TERMS rarest words go into MATCH; no floor, no session ranking."""
    found = _candidates(
        conn,
        words,
        candidates=limit * 2,
        max_match_terms=SIMILAR_TERMS,
        exclude=exclude,
    )
    if found is None:
        return []
    weights, rows, bm25 = found
    by_id = {r.memory.id: r for r in rows}
    return [by_id[s.memory.id] for s in ranking.rank(rows, bm25, weights, limit=limit)]


def like(conn: sqlite3.Connection, memory: Memory, *, limit: int = 20) -> list[Row]:
    """The memories most like `memory` (not itself): what a save compares a draft with
    (duplicates, contradictions) and links it to."""
    words = query_terms(f"{memory.title}\n{memory.content}", limit=400)
    return similar(conn, words, limit=limit, exclude=(memory.id,))


def _candidates(
    conn: sqlite3.Connection,
    words: Sequence[str],
    *,
    projects: Sequence[str] | None = None,
    include_deprecated: bool = False,
    include_archived: bool = False,
    max_layer: int = 3,
    candidates: int,
    max_match_terms: int | None = None,
    exclude: Sequence[str] = (),
    unknown_weight: float = 1.0,
) -> tuple[dict[str, float], list[Row], dict[str, float]] | None:
    """(query weights, candidate rows, their BM25 ranks by id), or None when nothing matches."""
    if not words:
        return None
    stems = _stems_of(conn, words)
    docs = terms.doc_count(conn)
    dfs = terms.document_frequencies(conn, stems.values())
    weights = ranking.query_weights(stems.values(), dfs, docs, unknown_weight)
    chosen = ranking.match_words(stems, dfs, docs, max_terms=max_match_terms)
    if not chosen or sum(weights.values()) <= 0:
        return None
    where = ["memories_fts MATCH ?"]
    params: list[Any] = [" OR ".join(quote_fts(w) for w in chosen)]
    if include_archived and not include_deprecated:
        where.append("s.status IN ('active', 'archived')")
    elif not include_deprecated:
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
    params.append(candidates)
    ranks = dict(conn.execute(sql, params).fetchall())
    if not ranks:
        return None
    marks = ",".join("?" * len(ranks))
    found = conn.execute(
        f"SELECT rowid, {index.MEMORY_COLUMNS} FROM memories WHERE rowid IN ({marks})", list(ranks)
    ).fetchall()
    if not found:
        return None  # deleted (or the index rebuilt) between the two queries
    rows = [index.to_row(r) for r in found]
    bm25 = {row.memory.id: float(ranks[r["rowid"]]) for row, r in zip(rows, found, strict=True)}
    return weights, rows, bm25


def _stems_of(conn: sqlite3.Connection, words: Sequence[str]) -> dict[str, str]:
    """word -> its FTS5 stem. One tokenizer pass when it yields one token per word."""
    stems = terms.analyze(conn, " ".join(words))
    if len(stems) == len(words):
        return dict(zip(words, stems, strict=True))
    result: dict[str, str] = {}
    for word in words:
        tokens = terms.analyze(conn, word)
        if tokens:
            result[word] = tokens[0]
    return result
