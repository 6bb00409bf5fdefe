"""The graph: the pure edge rules (proposing, orienting, capping, pruning, auditing), and the
graph `rebuild-index` computes is the graph saving the same memories one by one built."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import synth
from memem.core.graph import (
    EDGE_TYPES,
    KEY_TERMS,
    MAX_EDGES,
    NEW_EDGES,
    PERMANENT,
    SAME_PROJECT_EDGES,
    SYMMETRIC,
    Edge,
    audit,
    cap,
    declared,
    excess,
    key_rank,
    key_terms,
    mass,
    oriented,
    propose,
    similarity,
)
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


# -- the pure graph: proposing, capping, pruning and auditing edges ----------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def mem(
    memory_id: str,
    content: str = "note",
    *,
    title: str = "",
    project: str = "shop",
    session: str | None = None,
    day: int = 0,
    status: str = "active",
    related: tuple[str, ...] = (),
    contradicts: tuple[str, ...] = (),
) -> Memory:
    return Memory(
        id=memory_id,
        title=title or f"note {memory_id}",
        content=content,
        created=T0 + timedelta(days=day),
        updated=T0 + timedelta(days=day),
        project=project,
        source_session=session,
        status=status,
        related=related,
        contradicts=contradicts,
    )


WEIGHTS = {t: 1.0 for t in "abcdefghijklmnopqrstuvwxyz"}


def terms(text: str) -> frozenset[str]:
    return frozenset(text)


def test_similarity_of_a_set_with_itself_is_one_and_with_a_stranger_zero() -> None:
    assert similarity(terms("abc"), terms("abc"), WEIGHTS) == 1.0
    assert similarity(terms("abc"), terms("xyz"), WEIGHTS) == 0.0
    assert similarity(frozenset(), frozenset(), WEIGHTS) == 0.0
    assert similarity(terms("abcd"), terms("cdef"), WEIGHTS) == pytest.approx(2 / 6)


def test_rare_shared_terms_count_more_than_common_ones() -> None:
    weights = {"pnpm": 5.0, "the": 0.1, "uses": 0.1, "npm": 5.0}
    rare = similarity(frozenset({"pnpm", "the"}), frozenset({"pnpm", "uses"}), weights)
    common = similarity(frozenset({"pnpm", "the"}), frozenset({"npm", "the"}), weights)
    assert rare > common


def test_precomputed_masses_give_the_same_similarity() -> None:
    a, b = terms("abcde"), terms("cdefg")
    assert similarity(a, b, WEIGHTS, mass(a, WEIGHTS), mass(b, WEIGHTS)) == similarity(
        a, b, WEIGHTS
    )


def test_a_term_without_a_weight_weighs_nothing() -> None:
    assert mass(["a", "zzz-unknown"], {"a": 2.0}) == 2.0
    assert mass([], WEIGHTS) == 0.0


@given(
    a=st.frozensets(st.sampled_from("abcdefgh")),
    b=st.frozensets(st.sampled_from("abcdefgh")),
    w=st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.01, 10)),
)
def test_similarity_is_symmetric_and_between_zero_and_one(
    a: frozenset[str], b: frozenset[str], w: dict[str, float]
) -> None:
    s = similarity(a, b, w)
    assert 0.0 <= s <= 1.0 + 1e-9
    assert s == pytest.approx(similarity(b, a, w))


def test_key_terms_are_the_rarest_shared_ones() -> None:
    weights = {"solo": 9.0, "rare": 5.0, "mid": 2.0, "common": 0.5, "zero": 0.0}
    dfs = {"solo": 1, "rare": 2, "mid": 10, "common": 90, "zero": 3}
    assert key_terms(["common", "solo", "mid", "rare", "zero"], key_rank(weights, dfs)) == [
        "rare",
        "mid",
        "common",
    ]


def test_key_terms_are_at_most_a_dozen_ties_by_name() -> None:
    many = [f"t{n:02d}" for n in range(30)]
    found = key_terms(many, key_rank(dict.fromkeys(many, 1.0), dict.fromkeys(many, 2)))
    assert found == many[:KEY_TERMS]


def test_propose_links_a_topical_neighbour_as_same_topic() -> None:
    new = mem("n1", "The checkout page renders prices", day=2)
    other = mem("o1", day=1)
    (edge,) = propose(new, terms("abcdef"), [(other, terms("abcdeg"))], WEIGHTS)
    assert (edge.src, edge.dst, edge.type) == ("n1", "o1", "same_topic")
    assert edge.score == round(5 / 7, 4)


def test_propose_never_links_a_memory_to_itself() -> None:
    new = mem("n1")
    assert propose(new, terms("abc"), [(new, terms("abc"))], WEIGHTS) == []


@pytest.mark.parametrize(
    ("content", "other_title", "kind"),
    [
        (
            "The deploy depends on Database migrations running first",
            "Database migrations",
            "depends_on",
        ),
        ("It requires the Redis cache to be warm", "Redis cache warmup", "depends_on"),
        ("It depends on something else entirely", "Database migrations", "same_topic"),
        ("It needs X, because the Database is slow", "Kafka topics", "supports"),
        ("We chose pnpm because npm rewrites the lockfile", "Package manager", "supports"),
        ("Prices are shown with two decimals", "Price display", "same_topic"),
    ],
    ids=[
        "depends",
        "requires",
        "depends-title-absent",
        "depends-falls-to-supports",
        "because",
        "plain",
    ],
)
def test_propose_reads_the_kind_of_link_off_the_new_text(
    content: str, other_title: str, kind: str
) -> None:
    new = mem("n1", content, day=2)
    other = mem("o1", title=other_title, day=1)
    (edge,) = propose(new, terms("abcd"), [(other, terms("abcd"))], WEIGHTS)
    assert edge.type == kind


def test_same_session_memories_are_linked_even_when_unrelated() -> None:
    new = mem("n1", session="s1", day=2)
    other = mem("o1", session="s1", project="elsewhere", day=1)
    (edge,) = propose(new, terms("abc"), [(other, terms("xyz"))], WEIGHTS)
    assert (edge.type, edge.score) == ("same_session", 0.3)


def test_a_same_session_topical_neighbour_gets_both_links() -> None:
    new = mem("n1", session="s1", day=2)
    other = mem("o1", session="s1", day=1)
    found = propose(new, terms("abcd"), [(other, terms("abcd"))], WEIGHTS)
    assert sorted((e.type, e.score) for e in found) == [("same_session", 1.0), ("same_topic", 1.0)]


def test_a_weak_neighbour_in_the_same_project_is_linked_only_when_nothing_better() -> None:
    new = mem("n1", day=5)
    weak = [(mem(f"w{n}", day=n), terms("a" + "klmnopqrstuvwxyz"[n : n + 5])) for n in range(4)]
    lonely = propose(new, terms("abcdefghij"), weak, WEIGHTS)
    assert [e.type for e in lonely] == ["same_project"] * SAME_PROJECT_EDGES
    strong = (mem("s1", day=4), terms("abcdefghij"))
    linked = propose(new, terms("abcdefghij"), [*weak, strong], WEIGHTS)
    assert [e.type for e in linked] == ["same_topic"]


def test_a_weak_neighbour_in_another_project_is_not_linked() -> None:
    new = mem("n1", project="shop")
    other = mem("o1", project="blog")
    assert propose(new, terms("abcdefghij"), [(other, terms("ak"))], WEIGHTS) == []


def test_a_neighbour_below_every_threshold_is_not_linked() -> None:
    new = mem("n1")
    other = mem("o1")
    assert propose(new, terms("abcdefghijklmnopqrst"), [(other, terms("az"))], WEIGHTS) == []


def test_propose_keeps_the_strongest_and_at_most_new_edges() -> None:
    new = mem("n1", day=100)
    base = "abcdefghij"
    candidates = [(mem(f"o{n:02d}", day=n), terms(base[: 10 - n % 5] + "z")) for n in range(20)]
    found = propose(new, terms(base), candidates, WEIGHTS)
    assert len(found) == NEW_EDGES
    assert [e.score for e in found] == sorted((e.score for e in found), reverse=True)
    weakest_kept = min(e.score for e in found)
    every = {o.id: similarity(terms(base), t, WEIGHTS) for o, t in candidates}
    assert sum(1 for s in every.values() if s > weakest_kept + 1e-4) <= NEW_EDGES


def test_propose_with_precomputed_masses_finds_the_same_edges() -> None:
    new = mem("n1", day=9)
    candidates = [(mem(f"o{n}", day=n), terms("abcdefgh"[n:] + "xy")) for n in range(6)]
    masses = {o.id: mass(t, WEIGHTS) for o, t in candidates} | {
        "n1": mass(terms("abcdefgh"), WEIGHTS)
    }
    assert propose(new, terms("abcdefgh"), candidates, WEIGHTS, masses) == propose(
        new, terms("abcdefgh"), candidates, WEIGHTS
    )


def test_declared_contradictions_give_a_supersedes_and_a_contradicts_edge() -> None:
    assert declared("new", ["old1", "old2"]) == [
        Edge("new", "old1", "supersedes", 1.0),
        Edge("new", "old1", "contradicts", 1.0),
        Edge("new", "old2", "supersedes", 1.0),
        Edge("new", "old2", "contradicts", 1.0),
    ]
    assert declared("new", []) == []


def test_an_edge_knows_its_key_and_its_other_end() -> None:
    e = Edge("a", "b", "supports", 0.5)
    assert e.key() == ("a", "b", "supports")
    assert e.other("a") == "b"
    assert e.other("b") == "a"


@pytest.mark.parametrize("kind", sorted(SYMMETRIC))
def test_a_symmetric_edge_points_from_the_newer_memory(kind: str) -> None:
    old, new = mem("old", day=1), mem("new", day=2)
    assert oriented(Edge("old", "new", kind, 0.5), old, new) == Edge("new", "old", kind, 0.5)
    assert oriented(Edge("new", "old", kind, 0.5), new, old) == Edge("new", "old", kind, 0.5)


def test_memories_created_together_are_ordered_by_id() -> None:
    a, b = mem("aaa", day=1), mem("bbb", day=1)
    assert oriented(Edge("aaa", "bbb", "same_topic", 0.5), a, b).src == "bbb"


@pytest.mark.parametrize("kind", ["supports", "depends_on", "supersedes", "contradicts"])
def test_a_directed_edge_keeps_its_direction(kind: str) -> None:
    old, new = mem("old", day=1), mem("new", day=2)
    edge = Edge("old", "new", kind, 0.5)
    assert oriented(edge, old, new) == edge


def star(center: str, count: int, kind: str = "same_topic") -> list[Edge]:
    return [Edge(center, f"m{n:02d}", kind, round(0.2 + n / 100, 4)) for n in range(count)]


def test_cap_keeps_the_strongest_edges_of_a_busy_memory() -> None:
    kept = cap(star("hub", MAX_EDGES + 5))
    assert len(kept) == MAX_EDGES
    assert min(e.score for e in kept) > max(
        e.score for e in star("hub", MAX_EDGES + 5) if e not in kept
    )


def test_cap_never_drops_a_permanent_edge() -> None:
    history = [Edge("hub", f"old{n}", "supersedes", 0.01) for n in range(MAX_EDGES + 3)]
    kept = cap(star("hub", 5) + history)
    assert set(history) <= set(kept)
    assert not [e for e in kept if e.type not in PERMANENT]


def test_cap_leaves_every_memory_within_the_limit() -> None:
    edges = [
        Edge(f"a{i}", f"b{j}", "same_topic", round((i * 7 + j * 3) % 17 / 17, 4))
        for i in range(20)
        for j in range(20)
    ]
    kept = cap(edges, limit=5)
    degree: dict[str, int] = {}
    for e in kept:
        degree[e.src] = degree.get(e.src, 0) + 1
        degree[e.dst] = degree.get(e.dst, 0) + 1
    assert max(degree.values()) <= 5
    assert cap(kept, limit=5) == sorted(kept, key=lambda e: (e.type not in PERMANENT, -e.score))


def test_excess_is_the_weakest_prunable_edges_past_the_limit() -> None:
    edges = star("hub", MAX_EDGES + 3)
    over = excess(edges, "hub")
    assert over == sorted(edges, key=lambda e: e.score)[:3]


def test_excess_within_the_limit_is_nothing() -> None:
    assert excess(star("hub", MAX_EDGES), "hub") == []
    assert excess([], "hub") == []


def test_excess_never_prunes_a_permanent_edge_but_counts_it() -> None:
    """History edges stay, and they take up room: a memory with many of them keeps fewer
    topical ones."""
    history = [Edge("hub", f"old{n}", "contradicts", 0.01) for n in range(4)]
    topical = star("hub", MAX_EDGES)
    over = excess(history + topical, "hub")
    assert not [e for e in over if e.type in PERMANENT]
    assert over == sorted(topical, key=lambda e: e.score)[:4]


def test_excess_when_only_permanent_edges_are_over_the_limit() -> None:
    history = [Edge("hub", f"old{n}", "supersedes", 1.0) for n in range(MAX_EDGES + 2)]
    assert excess(history, "hub") == []


def test_audit_finds_orphans_dead_links_stale_edges_and_counts() -> None:
    alive_a = mem("aaa", related=("bbb", "gone1"))
    alive_b = mem("bbb")
    lonely = mem("ccc", contradicts=("gone2",))
    old = mem("ddd", status="deprecated")
    edges = [
        Edge("aaa", "bbb", "same_topic", 0.5),
        Edge("aaa", "ddd", "same_topic", 0.4),  # to a deprecated memory: stale
        Edge("bbb", "zzz", "supports", 0.3),  # to a memory that is gone: stale
        Edge("bbb", "ddd", "supersedes", 1.0),  # history: kept
    ]
    report = audit([alive_a, alive_b, lonely, old], edges)
    assert report.orphans == ("ccc",)
    assert set(report.dead_links) == {("aaa", "gone1"), ("ccc", "gone2")}
    assert report.stale_edges == (edges[1], edges[2])
    assert report.edge_counts == {"same_topic": 2, "supports": 1, "supersedes": 1}
    assert report.hubs == ()


def test_a_deprecated_memory_without_edges_is_not_an_orphan() -> None:
    assert audit([mem("aaa", status="deprecated")], []).orphans == ()


def test_audit_names_the_hubs_by_degree() -> None:
    memories = [mem("hub"), *(mem(f"m{n:02d}") for n in range(MAX_EDGES + 2))]
    edges = star("hub", MAX_EDGES + 2)
    report = audit(memories, edges)
    assert report.hubs == (("hub", MAX_EDGES + 2),)
    assert audit(memories, edges, hub_degree=MAX_EDGES + 3).hubs == ()


def test_audit_lists_at_most_twenty_hubs_and_not_missing_ones() -> None:
    memories = [mem(f"h{n:02d}") for n in range(25)]
    edges = [Edge(f"h{n:02d}", f"x{k}", "same_topic", 0.5) for n in range(25) for k in range(3)]
    report = audit(memories, edges, hub_degree=3)
    assert len(report.hubs) == 20
    assert all(hub.startswith("h") for hub, _ in report.hubs)


def test_the_kinds_of_edge_are_the_documented_ones() -> None:
    assert set(EDGE_TYPES) >= PERMANENT | SYMMETRIC
    assert not PERMANENT & SYMMETRIC
