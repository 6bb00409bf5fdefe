"""The graph side index: typed, scored edges between memories. Pure.

Edges come from index candidates (memories sharing rare terms with the new one), never from a
scan of the vault. Each memory keeps at most `MAX_EDGES`; `supersedes` and `contradicts` are
never pruned (they carry history). Symmetric types are stored once, newer -> older.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Final, Literal, Protocol, TypeAlias

from memem.core.memory import Memory

EdgeType: TypeAlias = Literal[
    "same_topic",
    "supports",
    "depends_on",
    "supersedes",
    "contradicts",
    "same_session",
    "same_project",
]


class Node(Protocol):
    """What linking needs of a memory (a `Memory`, or the index's lighter `Brief`)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def source_session(self) -> str | None: ...
    @property
    def created(self) -> datetime: ...


EDGE_TYPES: Final[tuple[EdgeType, ...]] = (
    "same_topic",
    "supports",
    "depends_on",
    "supersedes",
    "contradicts",
    "same_session",
    "same_project",
)
PERMANENT: Final[frozenset[EdgeType]] = frozenset({"supersedes", "contradicts"})
SYMMETRIC: Final[frozenset[EdgeType]] = frozenset({"same_topic", "same_session", "same_project"})
# What a memory's `contradicts` list declares: it supersedes what it contradicts.
_DECLARED: Final[tuple[EdgeType, ...]] = ("supersedes", "contradicts")
MAX_EDGES: Final = 12
NEW_EDGES: Final = 8
TOPIC_THRESHOLD: Final = 0.18
PROJECT_THRESHOLD: Final = 0.06
SAME_PROJECT_EDGES: Final = 2
SAME_SESSION_EDGES: Final = 3
KEY_TERMS: Final = 12  # rebuild: enough rare terms to find what a save's search finds

_DEPENDS: Final = re.compile(
    r"\b(?:depends? on|requires?|relies on|built on|needs|prerequisite)\b", re.IGNORECASE
)
_SUPPORTS: Final = re.compile(
    r"\b(?:because|since|so that|the reason|which is why|this is why|rationale|due to)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    # An `EdgeType`; `str` while the index reads edges back as plain tuples (Edge(*row)).
    type: str
    score: float

    def key(self) -> tuple[str, str, str]:
        return (self.src, self.dst, self.type)

    def other(self, memory_id: str) -> str:
        return self.dst if self.src == memory_id else self.src


def mass(terms: Iterable[str], weights: Mapping[str, float]) -> float:
    """The total weight of a term set."""
    return sum(map(weights.get, terms, repeat(0.0)))


def similarity(
    a: frozenset[str],
    b: frozenset[str],
    weights: Mapping[str, float],
    mass_a: float | None = None,
    mass_b: float | None = None,
) -> float:
    """IDF-weighted Jaccard of two term sets, in [0, 1]. Pass the sets' masses when known: the
    union's weight is then derived, and only the (small) intersection is summed."""
    shared = mass(a & b, weights)
    total = (mass(a, weights) if mass_a is None else mass_a) + (
        mass(b, weights) if mass_b is None else mass_b
    )
    union = total - shared
    return shared / union if union > 0 else 0.0


def key_rank(weights: Mapping[str, float], dfs: Mapping[str, int]) -> dict[str, int]:
    """The terms that can be key terms (in two memories or more, with a weight), each with its
    place among them: rarest first, ties by name."""
    shared = [t for t, df in dfs.items() if df >= 2 and weights.get(t, 0.0) > 0]
    shared.sort(key=lambda t: (-weights[t], t))
    return {t: place for place, t in enumerate(shared)}


def key_terms(terms: Iterable[str], rank: Mapping[str, int]) -> list[str]:
    """The rarest terms a memory shares with at least one other (`rank` is `key_rank`'s):
    where its neighbours are."""
    return sorted(filter(rank.__contains__, terms), key=rank.__getitem__)[:KEY_TERMS]


def propose(
    new: Node,
    new_terms: frozenset[str],
    candidates: Sequence[tuple[Node, frozenset[str]]],
    weights: Mapping[str, float],
    masses: Mapping[str, float] | None = None,
) -> list[Edge]:
    """Edges from `new` to the best of `candidates` (at most `NEW_EDGES`). `masses` may hold
    precomputed term-set masses by memory id."""
    masses = masses or {}
    new_mass = masses.get(new.id)
    if new_mass is None:
        new_mass = mass(new_terms, weights)
    cues: list[bool] = []  # (depends, supports), read off the text only when needed

    def cue() -> tuple[bool, bool]:
        if not cues:
            cues.extend((bool(_DEPENDS.search(new.content)), bool(_SUPPORTS.search(new.content))))
        return cues[0], cues[1]

    topical: list[Edge] = []
    project: list[Edge] = []
    session: list[Edge] = []
    for other, terms in candidates:
        if other.id == new.id:
            continue
        score = round(similarity(new_terms, terms, weights, new_mass, masses.get(other.id)), 4)
        if new.source_session and other.source_session == new.source_session:
            session.append(Edge(new.id, other.id, "same_session", max(score, 0.3)))
        if score >= TOPIC_THRESHOLD:
            depends, supports = cue()
            kind: EdgeType = "depends_on" if depends else "supports" if supports else "same_topic"
            if kind == "depends_on" and not _title_mentioned(other.title, new.content):
                kind = "supports" if supports else "same_topic"
            topical.append(Edge(new.id, other.id, kind, score))
        elif other.project == new.project and score >= PROJECT_THRESHOLD:
            project.append(Edge(new.id, other.id, "same_project", score))
    chosen = sorted(topical, key=lambda e: -e.score)[:NEW_EDGES]
    chosen += sorted(session, key=lambda e: -e.score)[:SAME_SESSION_EDGES]
    if not any(e.type != "same_session" for e in chosen):
        chosen += sorted(project, key=lambda e: -e.score)[:SAME_PROJECT_EDGES]
    return chosen[:NEW_EDGES]


def declared(memory_id: str, contradicts: Iterable[str]) -> list[Edge]:
    """Edges a memory's own file declares: what it contradicts (and so supersedes)."""
    return [Edge(memory_id, other, kind, 1.0) for other in contradicts for kind in _DECLARED]


def _title_mentioned(title: str, text: str) -> bool:
    words = [w for w in re.findall(r"\w{4,}", title.lower())]
    lowered = text.lower()
    return bool(words) and sum(w in lowered for w in words) >= max(1, len(words) // 2)


def oriented(edge: Edge, src: Node, dst: Node) -> Edge:
    """Symmetric edges point from the newer memory to the older, so each pair is stored once."""
    if edge.type in SYMMETRIC and (src.created, src.id) < (dst.created, dst.id):
        return Edge(edge.dst, edge.src, edge.type, edge.score)
    return edge


def cap(edges: Sequence[Edge], limit: int = MAX_EDGES) -> list[Edge]:
    """Keep the strongest edges such that no memory has more than `limit` (permanent edges are
    always kept)."""
    degree: Counter[str] = Counter()
    kept: list[Edge] = []
    for e in sorted(edges, key=lambda e: (e.type not in PERMANENT, -e.score)):
        if e.type in PERMANENT or (degree[e.src] < limit and degree[e.dst] < limit):
            kept.append(e)
            degree[e.src] += 1
            degree[e.dst] += 1
    return kept


def excess(edges: Sequence[Edge], memory_id: str, limit: int = MAX_EDGES) -> list[Edge]:
    """The weakest prunable edges of one memory beyond `limit`."""
    prunable = sorted((e for e in edges if e.type not in PERMANENT), key=lambda e: e.score)
    over = len(edges) - limit
    return prunable[: max(over, 0)]


@dataclass(frozen=True, slots=True)
class Audit:
    orphans: tuple[str, ...]
    dead_links: tuple[tuple[str, str], ...]
    hubs: tuple[tuple[str, int], ...]
    stale_edges: tuple[Edge, ...]
    edge_counts: Mapping[str, int] = field(default_factory=dict)


def audit(memories: Sequence[Memory], edges: Sequence[Edge], hub_degree: int = MAX_EDGES) -> Audit:
    """Orphans (active, no edges), dead links (`related` ids that do not exist), hubs (degree at
    or above `hub_degree`) and stale edges (to a missing or deprecated memory)."""
    by_id = {m.id: m for m in memories}
    degree: Counter[str] = Counter()
    stale: list[Edge] = []
    for e in edges:
        degree[e.src] += 1
        degree[e.dst] += 1
        ends = (by_id.get(e.src), by_id.get(e.dst))
        if None in ends or (
            e.type not in PERMANENT and any(m is not None and not m.active for m in ends)
        ):
            stale.append(e)
    orphans = tuple(m.id for m in memories if m.active and degree[m.id] == 0)
    dead = tuple(
        (m.id, r) for m in memories for r in (*m.related, *m.contradicts) if r not in by_id
    )
    hubs = tuple((i, d) for i, d in degree.most_common() if d >= hub_degree and i in by_id)
    counts = Counter(e.type for e in edges)
    return Audit(orphans, dead, hubs[:20], tuple(stale), dict(counts))
