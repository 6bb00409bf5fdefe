"""The graph of a whole index computed at once (`rebuild_edges`): what a rebuild and
`memem graph rebuild` store, the same graph saving the memories one by one would have built.

Each memory's candidates come from an in-memory inverted index over its key terms, so the
cost grows with the number of memories, not its square; the proposals (the CPU-bound part)
are computed for chunks of memories in worker processes (`memem.service.workers`).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Final

from memem.core import graph
from memem.core.graph import Edge
from memem.service import workers
from memem.storage import index
from memem.storage.index import Brief
from memem.storage.unit import Connection

# A key term in more memories than this says little about any pair of them.
MAX_POSTINGS: Final = 64
# Candidates per memory: the older ones sharing the most key terms,
# and the latest memories of its project sharing at least PROJECT_MIN of their weight.
CANDIDATES: Final = 12
PROJECT_CANDIDATES: Final = 6
PROJECT_MIN: Final = graph.PROJECT_THRESHOLD  # below it, propose() would not link them anyway
# Below this many memories forking workers costs more than it saves.
PARALLEL_MEMORIES: Final = 2_000
CHUNK: Final = 500

Progress = Callable[[str, int, int], None]
Pick = Callable[[list[int], int, int], list[int]]


class _Graph:
    """The index's memories as linking sees them, and the inverted index over their key
    terms."""

    def __init__(self, nodes: list[Brief], weights: dict[str, float], dfs: dict[str, int]):
        self.nodes = nodes
        self.weights = weights
        rank = graph.key_rank(weights, dfs)
        self.keys = [graph.key_terms(n.terms, rank) for n in nodes]
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.local: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_project: dict[str, list[int]] = defaultdict(list)
        for i, (node, ks) in enumerate(zip(nodes, self.keys, strict=True)):
            if node.active:
                for k in ks:
                    self.postings[k].append(i)
                    self.local[(k, node.project)].append(i)
                self.by_project[node.project].append(i)
        self.masses = {n.id: graph.mass(n.terms, weights) for n in nodes}

    def candidates(self, i: int, pick: Pick) -> list[int]:
        node = self.nodes[i]
        nodes, masses, weights = self.nodes, self.masses, self.weights
        shared: Counter[int] = Counter()
        for k in self.keys[i]:
            plist = self.postings[k]
            if len(plist) > MAX_POSTINGS:
                plist = self.local[(k, node.project)]
            shared.update(pick(plist, i, MAX_POSTINGS))
        shared.pop(i, None)
        found = [j for j, _ in shared.most_common(CANDIDATES)]
        mine = masses[node.id]
        known = set(found)
        found += [
            j
            for j in pick(self.by_project[node.project], i, PROJECT_CANDIDATES)
            if j != i
            and j not in known
            and graph.similarity(node.terms, nodes[j].terms, weights, mine, masses[nodes[j].id])
            >= PROJECT_MIN
        ]
        return found

    def proposals(self, i: int, pick: Pick) -> list[Edge]:
        node = self.nodes[i]
        best = {self.nodes[j].id: self.nodes[j] for j in self.candidates(i, pick)}
        edges = graph.propose(
            node, node.terms, [(n, n.terms) for n in best.values()], self.weights, self.masses
        )
        return [graph.oriented(edge, node, best[edge.dst]) for edge in edges]


def _older_proposals(g: _Graph, span: range) -> list[list[Edge]]:
    """The proposals to older memories of the active memories in `span` (a worker's chunk)."""
    return [g.proposals(i, _older) if g.nodes[i].active else [] for i in span]


def rebuild_edges(conn: Connection, progress: Progress | None = None) -> dict[str, int]:
    """Recompute every edge; returns the count per type. `progress("linking", done, total)`
    is called as chunks of memories are linked.

    The graph built save by save is the reference: each memory, as it was saved, proposed
    edges to the older memories a search found for it, and nothing newer. So here each
    memory proposes edges to older memories only (else each pair would compete for two
    memories' proposals and half the edges would be lost), and its candidates are found the
    way a search finds them: the older memories sharing most of its key terms (its rarest
    terms shared with anyone; a key term common to many memories contributes only the
    memories of the same project closest in time, so the work stays linear), plus the latest
    memories of its project that share some weight with it (what search finds through
    commoner words: the same-project links). A memory whose every proposal lost out to
    stronger ones (its degree capped elsewhere) gets one more look at its neighbours on both
    sides in time, as the newer memories that linked to it when they were saved did.
    """
    nodes = index.briefs(conn)
    dfs = index.term_frequencies(conn)
    docs = index.doc_count(conn)
    stop = index.stopword_stems(conn)
    weights = {t: 0.0 if t in stop else index.idf(df, docs) for t, df in dfs.items()}
    g = _Graph(nodes, weights, dfs)
    spans = [range(lo, min(lo + CHUNK, len(nodes))) for lo in range(0, len(nodes), CHUNK)]
    forks = workers.count(len(nodes), PARALLEL_MEMORIES)
    proposed: dict[tuple[str, str, str], Edge] = {}
    for span, found in zip(spans, workers.fan_out(_older_proposals, g, spans, forks), strict=True):
        for i, edges in zip(span, found, strict=True):
            if nodes[i].contradicts:
                for edge in graph.declared(nodes[i].id, nodes[i].contradicts):
                    proposed[edge.key()] = edge
            for edge in edges:
                if proposed.get(edge.key(), edge).score <= edge.score:
                    proposed[edge.key()] = edge
        if progress:
            progress("linking", span.stop, len(nodes))
    kept = graph.cap(list(proposed.values()))
    degree: Counter[str] = Counter()
    for e in kept:
        degree[e.src] += 1
        degree[e.dst] += 1
    for i, node in enumerate(nodes):
        if not node.active or degree[node.id]:
            continue
        for edge in g.proposals(i, _around):
            if degree[edge.other(node.id)] < graph.MAX_EDGES:
                kept.append(edge)
                degree[edge.src] += 1
                degree[edge.dst] += 1
                break
    index.remove_all_edges(conn)
    # In key order: the edges table is a B-tree on (src, dst, type), filled in one pass.
    index.add_edges(conn, sorted((e.src, e.dst, e.type, e.score) for e in kept))
    return dict(Counter(e.type for e in kept))


def _older(positions: list[int], i: int, count: int) -> list[int]:
    """The last `count` of the sorted `positions` before `i` (nodes are ordered by time)."""
    at = bisect.bisect_left(positions, i)
    return positions[max(0, at - count) : at]


def _around(positions: list[int], i: int, count: int) -> list[int]:
    """Up to `count` of the sorted `positions` closest to `i`, before and after it."""
    at = bisect.bisect_left(positions, i)
    lo = max(0, at - count // 2)
    return positions[lo : lo + count + 1]
