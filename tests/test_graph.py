"""The graph: `rebuild-index` computes the graph saving the same memories one by one built;
and the pure core (memem.core.graph) that proposes, orients, caps and audits edges."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import synth
from memem.core import graph
from memem.core.graph import EDGE_TYPES, PERMANENT, SYMMETRIC, Edge
from memem.core.memory import Memory
from memem.service.store import Store

TOLERANCE = 0.15
TOPICAL = ("same_topic", "supports", "depends_on")


def edges(store: Store) -> tuple[Counter[str], set[str]]:
    rows = store.index.connection().execute("SELECT src, dst, type FROM edges").fetchall()
    return Counter(r[2] for r in rows), {end for r in rows for end in r[:2]}


def close(a: int, b: int) -> bool:
    return abs(a - b) <= TOLERANCE * max(a, b)


@pytest.mark.parametrize(
    ("count", "seed", "with_sessions"), [(150, 7, True), (200, 11, True), (150, 3, False)]
)
def test_rebuild_finds_the_graph_saves_built(
    tmp_path: Path, count: int, seed: int, with_sessions: bool
) -> None:
    """A realistic vault (several projects, sessions, a long tail of rare terms), saved one
    memory at a time, then rebuilt from scratch: the edge counts per type agree and no
    memory that was linked ends up an orphan."""
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as store:
        for m in synth.generate(count, seed=seed):
            if with_sessions:
                store.add(
                    m.content,
                    title=m.title,
                    project=m.project,
                    tags=m.tags,
                    created=m.created,
                    source_session=m.source_session,
                )
            else:  # as `memem save` does: no session, created now
                store.add(m.content, project=m.project)
        saved, linked = edges(store)
        store.rebuild_index()
        rebuilt, still_linked = edges(store)
    assert close(sum(saved.values()), sum(rebuilt.values())), (saved, rebuilt)
    for kind in ("same_project", "same_session"):
        if saved[kind] >= 20:
            assert close(saved[kind], rebuilt[kind]), (kind, saved, rebuilt)
    topical = sum(saved[k] for k in TOPICAL), sum(rebuilt[k] for k in TOPICAL)
    assert close(*topical), (saved, rebuilt)
    assert linked <= still_linked


# -- the pure graph core (memem.core.graph) ------------------------------------------------------

T0 = datetime(2026, 11, 21, tzinfo=UTC)


def node(
    memory_id: str,
    content: str,
    *,
    title: str = "A note",
    project: str = "shop",
    session: str | None = None,
    age: int = 0,
    status: str = "active",
    related: tuple[str, ...] = (),
) -> Memory:
    when = T0 - timedelta(days=age)
    return Memory(
        id=memory_id,
        title=title,
        content=content,
        created=when,
        updated=when,
        project=project,
        source_session=session,
        status=status,
        related=related,
    )


def test_every_permanent_and_symmetric_type_is_an_edge_type() -> None:
    assert (PERMANENT | SYMMETRIC).issubset(EDGE_TYPES)
    assert not PERMANENT & SYMMETRIC
    assert len(set(EDGE_TYPES)) == len(EDGE_TYPES)


@pytest.mark.parametrize(
    ("a", "b", "weights", "expected"),
    [
        ("ab", "ab", {"a": 1.0, "b": 1.0}, 1.0),
        ("ab", "cd", {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, 0.0),
        ("ab", "bc", {"a": 1.0, "b": 1.0, "c": 1.0}, 1 / 3),
        # The shared term is rare (heavy): the pair is close.
        ("ab", "bc", {"a": 1.0, "b": 8.0, "c": 1.0}, 0.8),
        ("", "", {}, 0.0),
        # Terms without a weight count for nothing.
        ("ax", "bx", {"a": 1.0, "b": 1.0}, 0.0),
    ],
)
def test_similarity_is_an_idf_weighted_jaccard(
    a: str, b: str, weights: dict[str, float], expected: float
) -> None:
    got = graph.similarity(frozenset(a), frozenset(b), weights)
    assert got == pytest.approx(expected)
    # Known masses give the same answer.
    masses = graph.mass(frozenset(a), weights), graph.mass(frozenset(b), weights)
    assert graph.similarity(frozenset(a), frozenset(b), weights, *masses) == pytest.approx(got)


def test_key_terms_are_the_rarest_shared_terms() -> None:
    weights = {"postgres": 5.0, "pgbouncer": 7.0, "the": 0.1, "solo": 9.0, "zero": 0.0}
    dfs = {"postgres": 3, "pgbouncer": 2, "the": 40, "solo": 1, "zero": 5}
    # "solo" is in no other memory; "zero" weighs nothing.
    assert graph.key_terms(weights, weights, dfs) == ["pgbouncer", "postgres", "the"]


def _propose(new: Memory, *others: Memory) -> list[Edge]:
    def terms(m: Memory) -> frozenset[str]:
        return frozenset(m.content.lower().rstrip(".").split())

    candidates = [(o, terms(o)) for o in others]
    every = terms(new).union(*(t for _, t in candidates))
    return graph.propose(new, terms(new), candidates, dict.fromkeys(every, 1.0))


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("redis cache keys expire after one hour.", "same_topic"),
        ("redis cache keys expire after one hour because memory is small.", "supports"),
        # "depends on" counts only when the other memory's title is named.
        ("redis cache keys expire after one hour; depends on the session store.", "depends_on"),
        ("redis cache keys expire after one hour; depends on nothing else.", "same_topic"),
    ],
)
def test_a_topical_edge_is_typed_from_the_new_text(content: str, kind: str) -> None:
    old = node("aaaa0001", "redis cache keys expire after one day.", title="Session store")
    (edge,) = _propose(node("bbbb0001", content), old)
    assert (edge.src, edge.dst, edge.type) == ("bbbb0001", "aaaa0001", kind)
    assert 0 < edge.score <= 1


def test_memories_of_one_session_are_linked_even_when_unrelated() -> None:
    old = node("aaaa0002", "invoices are numbered per year.", session="s1")
    (edge,) = _propose(node("bbbb0002", "the ci runner uses docker.", session="s1"), old)
    assert edge.type == "same_session" and edge.score >= 0.3


def test_a_weak_link_within_the_project_is_kept_only_without_a_stronger_one() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    weak = node("aaaa0003", "alpha beta one two three four five six seven eight")
    (edge,) = _propose(node("bbbb0003", text), weak)
    assert edge.type == "same_project"
    strong = node("cccc0003", "alpha beta gamma delta epsilon zeta eta theta iota lambda")
    assert [e.type for e in _propose(node("bbbb0003", text), weak, strong)] == ["same_topic"]


def test_other_projects_get_no_weak_link_and_a_memory_none_to_itself() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    elsewhere = node("aaaa0004", "alpha one two three four five six", project="other")
    new = node("bbbb0004", text)
    assert _propose(new, elsewhere, new) == []


def test_declared_contradictions_supersede() -> None:
    assert graph.declared("new1", ["old1"]) == [
        Edge("new1", "old1", "supersedes", 1.0),
        Edge("new1", "old1", "contradicts", 1.0),
    ]


def test_symmetric_edges_point_from_the_newer_memory() -> None:
    older, newer = node("aaaa0005", "x x x", age=3), node("bbbb0005", "y y y")
    edge = Edge(older.id, newer.id, "same_topic", 0.5)
    assert graph.oriented(edge, older, newer) == Edge(newer.id, older.id, "same_topic", 0.5)
    # A directed edge keeps its direction.
    depends = Edge(older.id, newer.id, "depends_on", 0.5)
    assert graph.oriented(depends, older, newer) == depends


def test_cap_keeps_every_permanent_edge_and_then_the_strongest() -> None:
    edges = [Edge("hub", f"n{i}", "same_topic", i / 10) for i in range(6)]
    edges.append(Edge("hub", "old", "supersedes", 0.0))
    kept = graph.cap(edges, limit=3)
    assert Edge("hub", "old", "supersedes", 0.0) in kept
    # The permanent edge counts toward the hub's limit: two topical edges fit beside it.
    topical = sorted(e.score for e in kept if e.type == "same_topic")
    assert topical == [0.4, 0.5]
    # Permanent edges are kept even beyond the limit.
    history = [Edge("hub", f"old{i}", "contradicts", 1.0) for i in range(5)]
    assert graph.cap(history, limit=2) == history


def test_excess_names_the_weakest_prunable_edges_beyond_the_limit() -> None:
    edges = [Edge("m", f"n{i}", "supports", i / 10) for i in range(4)]
    edges.append(Edge("m", "old", "contradicts", 0.0))
    assert graph.excess(edges, "m", limit=3) == edges[:2]
    assert graph.excess(edges, "m", limit=10) == []


def test_audit_finds_orphans_dead_links_hubs_and_stale_edges() -> None:
    a = node("aaaa0006", "a", related=("ffff9999",))
    b = node("bbbb0006", "b")
    c = node("cccc0006", "c", status="deprecated")
    lonely = node("dddd0006", "d")
    edges = [
        Edge(a.id, b.id, "same_topic", 0.5),
        Edge(a.id, c.id, "supports", 0.4),  # to a deprecated memory: stale
        Edge(a.id, c.id, "supersedes", 1.0),  # permanent: kept
        Edge(b.id, "gone0000", "same_topic", 0.3),  # to a missing memory: stale
    ]
    report = graph.audit([a, b, c, lonely], edges, hub_degree=3)
    assert report.orphans == (lonely.id,)
    assert report.dead_links == ((a.id, "ffff9999"),)
    assert report.hubs == ((a.id, 3),)
    assert set(report.stale_edges) == {edges[1], edges[3]}
    assert report.edge_counts == {"same_topic": 2, "supports": 1, "supersedes": 1}
