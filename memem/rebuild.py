"""Full rebuilds: the index from the vault, and the graph from the index.

A rebuild reads every file once, loads all rows in one transaction (FTS5 and the term
statistics built in one pass each) and recomputes the graph with an in-memory inverted index
over each memory's key terms, so its cost grows with the number of memories, not its square.
"""

from __future__ import annotations

import bisect
import logging
import multiprocessing
import os
import sqlite3
import threading
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from memem import graph, index
from memem.errors import BrokenFile
from memem.graph import Edge
from memem.memory import Memory
from memem.vault import Vault, vet

if TYPE_CHECKING:
    from memem.store import ReconcileReport, Store

log = logging.getLogger("memem.rebuild")

# A key term in more memories than this says little about any pair of them.
MAX_POSTINGS = 64
CANDIDATES = 12


# Below this many files a process pool costs more than it saves.
PARALLEL_FILES = 2_000

Entry = tuple[Memory, str, str, int, int]  # memory, file, hash, mtime_ns, size
Broken = tuple[str, str, int, int]  # file, reason, mtime_ns, size


def _read_files(root: str, names: list[str]) -> tuple[list[Entry], list[Broken]]:
    """Read and vet vault files (runs in worker processes for large vaults)."""
    vault = Vault(Path(root))
    entries: list[Entry] = []
    broken: list[Broken] = []
    for name in names:
        try:
            read = vault.read(name)
            memory = vet(read.memory, name)
        except BrokenFile as exc:
            try:
                st = (vault.memories_dir / name).stat()
            except FileNotFoundError:
                continue  # deleted while the rebuild read the folder
            broken.append((name, exc.reason, st.st_mtime_ns, st.st_size))
            continue
        entries.append((memory, name, read.hash, read.stat.mtime_ns, read.stat.size))
    return entries, broken


def _read_all(vault: Vault, names: list[str]) -> tuple[list[Entry], list[Broken]]:
    workers = min(os.cpu_count() or 1, 4)
    # Forking is safe only from a single-threaded process (a threaded server reads in-process);
    # spawn would re-run the caller's __main__, a trap for scripts using the Python API.
    if len(names) < PARALLEL_FILES or workers < 2 or threading.active_count() > 1:
        return _read_files(str(vault.root), names)
    size = -(-len(names) // workers)
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        parts = list(pool.map(_read_files, [str(vault.root)] * len(chunks), chunks))
    return [e for p in parts for e in p[0]], [b for p in parts for b in p[1]]


def rebuild(store: Store) -> ReconcileReport:
    from memem.store import ReconcileReport

    names = sorted(st.name for st in store.vault.scan())
    read, broken = _read_all(store.vault, names)
    with store.index.write() as conn:
        # Saves commit only between write transactions, so one that landed while the files
        # were read above is on disk now and none can land until this one ends: a second
        # look at the folder, inside the transaction, misses nothing saved.
        read, broken = _catch_up(store.vault, read, broken)
        entries = _unique(read, broken)
        del read
        added = index.load(conn, entries)
        del entries  # the rows are in SQLite now; linking reads lighter ones back
        for name, reason, mtime_ns, size in broken:
            index.set_broken(conn, name, reason, mtime_ns, size)
        rebuild_edges(conn)
    index.checkpoint(store.index.connection())
    for name, reason, _, _ in broken:
        log.warning("skipped a broken vault file", extra={"file": name, "reason": reason})
    return ReconcileReport(added=added, broken=len(broken))


def _catch_up(
    vault: Vault, read: list[Entry], broken: list[Broken]
) -> tuple[list[Entry], list[Broken]]:
    """`read` and `broken` brought in line with the folder as it is now: files that appeared
    or changed since they were read are read again, files that are gone are dropped."""
    now = {st.name: (st.mtime_ns, st.size) for st in vault.scan()}
    seen = {e[1]: (e[3], e[4]) for e in read}
    seen.update({b[0]: (b[2], b[3]) for b in broken})
    stale = {name for name, stamp in now.items() if seen.get(name) != stamp}
    if not stale and len(seen) == len(now):
        return read, broken
    fresh, fresh_broken = _read_files(str(vault.root), sorted(stale))
    keep = [e for e in read if e[1] in now and e[1] not in stale]
    keep_broken = [b for b in broken if b[0] in now and b[0] not in stale]
    return keep + fresh, keep_broken + fresh_broken


def _unique(read: list[Entry], broken: list[Broken]) -> list[Entry]:
    """Entries with distinct ids, in file-name order; a second file with an id already seen
    is recorded in `broken`."""
    entries: list[Entry] = []
    owner: dict[str, str] = {}
    for entry in sorted(read, key=lambda e: e[1]):
        memory, name = entry[0], entry[1]
        if memory.id in owner:
            reason = f"duplicate id {memory.id} (also in {owner[memory.id]})"
            broken.append((name, reason, entry[3], entry[4]))
            continue
        owner[memory.id] = name
        entries.append(entry)
    return entries


def rebuild_edges(conn: sqlite3.Connection) -> dict[str, int]:
    """Recompute every edge; returns the count per type.

    Candidates for each memory are the memories sharing its key terms (its rarest terms
    shared with anyone). A key term common to many memories contributes only the memories of
    the same project closest in time, so a large vault stays linked without quadratic work.
    """
    nodes = index.briefs(conn)
    dfs = dict(conn.execute("SELECT term, df FROM terms").fetchall())
    docs = index.doc_count(conn)
    stop = index.stopword_stems(conn)
    weights = {t: 0.0 if t in stop else index.idf(df, docs) for t, df in dfs.items()}
    keys = [graph.key_terms(n.terms, weights, dfs) for n in nodes]
    postings: dict[str, list[int]] = defaultdict(list)
    local: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (node, ks) in enumerate(zip(nodes, keys, strict=True)):
        if node.active:
            for k in ks:
                postings[k].append(i)
                local[(k, node.project)].append(i)
    masses = {n.id: graph.mass(n.terms, weights) for n in nodes}
    proposed: dict[tuple[str, str, str], Edge] = {}
    for i, node in enumerate(nodes):
        for edge in graph.declared(node.id, node.contradicts):
            proposed[edge.key()] = edge
        if not node.active:
            continue
        # Candidates: the memories sharing the most key terms (counted in C by Counter);
        # propose() then scores each exactly.
        shared: Counter[int] = Counter()
        for k in keys[i]:
            plist = postings[k]
            shared.update(
                plist
                if len(plist) <= MAX_POSTINGS
                else _nearest(local[(k, node.project)], i, MAX_POSTINGS)
            )
        shared.pop(i, None)
        best = {nodes[j].id: nodes[j] for j, _ in shared.most_common(CANDIDATES)}
        candidates = [(n, n.terms) for n in best.values()]
        for edge in graph.propose(node, node.terms, candidates, weights, masses):
            edge = graph.oriented(edge, node, best[edge.dst])
            if proposed.get(edge.key(), edge).score <= edge.score:
                proposed[edge.key()] = edge
    kept = graph.cap(list(proposed.values()))
    conn.execute("DELETE FROM edges")
    index.add_edges(conn, ((e.src, e.dst, e.type, e.score) for e in kept))
    return dict(Counter(e.type for e in kept))


def _nearest(positions: list[int], i: int, count: int) -> list[int]:
    """Up to `count` of the sorted `positions` closest to `i` (nodes are ordered by time)."""
    at = bisect.bisect_left(positions, i)
    lo = max(0, at - count // 2)
    return positions[lo : lo + count]
