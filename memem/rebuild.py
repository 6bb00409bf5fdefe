"""Full rebuilds: the index from the vault, and the graph from the index.

A rebuild reads every file once, loads all rows in one transaction (FTS5 and the term
statistics built in one pass each) and recomputes the graph with an in-memory inverted index
over each memory's key terms, so its cost grows with the number of memories, not its square.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from memem import graph, index
from memem.errors import BrokenFile
from memem.graph import Edge
from memem.memory import Memory

if TYPE_CHECKING:
    from memem.store import ReconcileReport, Store

# A key term in more memories than this says little about any pair of them.
MAX_POSTINGS = 400
CANDIDATES = 20


def rebuild(store: Store) -> ReconcileReport:
    from memem.store import ReconcileReport

    entries: list[tuple[Memory, str, str, int, int]] = []
    broken: list[tuple[str, str, int, int]] = []
    owner: dict[str, str] = {}
    for st in sorted(store.vault.scan(), key=lambda s: s.name):
        try:
            read = store.vault.read(st.name)
            if read.memory.id in owner:
                raise BrokenFile(
                    st.name, f"duplicate id {read.memory.id} (also in {owner[read.memory.id]})"
                )
            memory = store.checked(read.memory, st.name)
        except BrokenFile as exc:
            broken.append((st.name, exc.reason, st.mtime_ns, st.size))
            continue
        owner[memory.id] = st.name
        entries.append((memory, st.name, read.hash, read.stat.mtime_ns, read.stat.size))
    with store.index.write() as conn:
        added = index.load(conn, entries)
        for name, reason, mtime_ns, size in broken:
            index.set_broken(conn, name, reason, mtime_ns, size)
        rebuild_edges(conn)
    return ReconcileReport(added=added, broken=len(broken))


def rebuild_edges(conn: sqlite3.Connection) -> dict[str, int]:
    """Recompute every edge; returns the count per type."""
    rows = index.select(conn)
    dfs = dict(conn.execute("SELECT term, df FROM terms").fetchall())
    docs = index.doc_count(conn)
    weights = {t: index.idf(df, docs) for t, df in dfs.items()}
    keys = [graph.key_terms(r.terms, weights, dfs) for r in rows]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, (row, ks) in enumerate(zip(rows, keys, strict=True)):
        if row.memory.active:
            for k in ks:
                postings[k].append(i)
    by_id = {r.memory.id: r.memory for r in rows}
    proposed: dict[tuple[str, str, str], Edge] = {}
    for i, row in enumerate(rows):
        for edge in graph.declared(row.memory):
            proposed[edge.key()] = edge
        if not row.memory.active:
            continue
        shared: defaultdict[int, float] = defaultdict(float)
        for k in keys[i]:
            plist = postings[k]
            if len(plist) <= MAX_POSTINGS:
                for j in plist:
                    if j != i:
                        shared[j] += weights[k]
        candidates = [
            (rows[j].memory, rows[j].terms)
            for j in sorted(shared, key=shared.__getitem__, reverse=True)[:CANDIDATES]
        ]
        for edge in graph.propose(row.memory, row.terms, candidates, weights):
            edge = graph.oriented(edge, row.memory, by_id[edge.dst])
            if proposed.get(edge.key(), edge).score <= edge.score:
                proposed[edge.key()] = edge
    kept = graph.cap(list(proposed.values()))
    conn.execute("DELETE FROM edges")
    index.add_edges(conn, ((e.src, e.dst, e.type, e.score) for e in kept))
    return dict(Counter(e.type for e in kept))
