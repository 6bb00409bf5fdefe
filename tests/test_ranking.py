"""The pure ranking (memem.core.ranking): weights, coverage, the floor, ranking by session."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from memem.core import ranking
from memem.core.memory import Memory
from memem.core.ranking import Scored

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


class Found:
    """A candidate as the storage layer hands it over: a memory and its terms."""

    def __init__(self, id: str, terms: str, session: str | None = None) -> None:
        self.memory = Memory(id=id, title=id, content=terms, created=WHEN, updated=WHEN)
        if session:
            self.memory = self.memory.evolve(source_session=session)
        self.terms = frozenset(terms.split())


@pytest.mark.parametrize(
    ("df", "docs"),
    [(1, 10), (5, 10), (10, 10), (1, 100_000), (100_000, 100_000), (0, 1)],
)
def test_idf_is_always_positive_and_falls_as_a_term_gets_commoner(df: int, docs: int) -> None:
    assert ranking.idf(df, docs) > 0
    if df < docs:
        assert ranking.idf(df, docs) > ranking.idf(df + 1, docs)


def test_a_word_weighs_its_idf_plus_one_and_an_unseen_word_a_multiple_of_the_rarest() -> None:
    weights = ranking.query_weights(["rare", "common", "unseen"], {"rare": 1, "common": 9}, 10, 2.0)
    assert weights["rare"] == pytest.approx(ranking.idf(1, 10) + 1)
    assert weights["common"] == pytest.approx(ranking.idf(9, 10) + 1)
    assert weights["unseen"] == pytest.approx(2 * weights["rare"])
    assert weights["rare"] > weights["common"] > 1.0


def test_repeated_stems_weigh_once() -> None:
    weights = ranking.query_weights(["deploy", "deploy"], {"deploy": 2}, 10, 1.0)
    assert list(weights) == ["deploy"]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ("", 0.0),
        ("a", 0.5),
        ("a b", 0.75),
        ("a b c", 1.0),
        ("a c x y", 0.75),
        ("x y z", 0.0),
    ],
)
def test_coverage_is_the_share_of_the_query_weight_a_memory_holds(
    terms: str, expected: float
) -> None:
    weights = {"a": 2.0, "b": 1.0, "c": 1.0}
    assert ranking.coverage(weights, terms.split()) == pytest.approx(expected)


def test_an_empty_query_covers_nothing() -> None:
    assert ranking.coverage({}, ["a"]) == 0.0


@pytest.mark.parametrize(
    ("best", "distinct", "passes"),
    [
        (1.0, 1, True),  # a one-word query needs its word
        (0.99, 1, False),  # ... all of it
        (0.69, 2, False),  # two words: 70%
        (0.70, 2, True),
        (0.34, 4, False),  # four words: 35%
        (0.35, 4, True),
        (0.20, 7, True),  # seven or more: 20%
        (0.19, 10, False),  # never below FLOOR_COVERAGE
        (0.0, 3, False),
    ],
)
def test_the_floor_wants_a_share_and_more_than_one_word_of_the_query(
    best: float, distinct: int, passes: bool
) -> None:
    assert ranking.passes_floor(best, distinct) is passes


@pytest.mark.parametrize(
    ("dfs", "max_terms", "budget", "chosen"),
    [
        ({"a": 1, "b": 2, "c": 3}, None, 8_000, ["a", "b", "c"]),  # rarest first
        ({"a": 1, "b": 2, "c": 3}, 2, 8_000, ["a", "b"]),
        ({"a": 5, "b": 0, "c": 1}, None, 8_000, ["c", "a"]),  # unseen words never MATCH
        ({"a": 12, "b": 20, "c": 10}, None, 25, ["c", "a"]),  # past the postings budget
        ({"a": 30, "b": 40}, None, 8_000, ["a"]),  # in over a quarter: only the rarest stays
        ({"a": 0}, None, 8_000, []),
    ],
)
def test_match_words_keeps_the_rarest_within_the_budget(
    dfs: dict[str, int], max_terms: int | None, budget: int, chosen: list[str]
) -> None:
    stems = {w: w for w in dfs}
    assert ranking.match_words(stems, dfs, 100, max_terms=max_terms, budget=budget) == chosen


def test_context_credits_half_of_what_the_memory_before_adds() -> None:
    shares = {"reply": 0.4, "alone": 0.5}
    credited = ranking.with_context(shares, {"reply": 0.8})
    assert credited["reply"] == pytest.approx(0.4 + ranking.SESSION_CONTEXT * 0.4)
    assert credited["alone"] == 0.5


@pytest.mark.parametrize(
    ("scores", "sessions", "expected"),
    [
        # no session: unchanged
        ({"a": 1.0, "b": 2.0}, {}, {"a": 1.0, "b": 2.0}),
        # two of one session: each gains 0.15 x the other
        ({"a": 1.0, "b": 2.0}, {"a": "s", "b": "s"}, {"a": 1.3, "b": 2.15}),
        # peers capped at the 3 best others
        (
            {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0, "e": 1.0},
            dict.fromkeys("abcde", "s"),
            {"a": 4.0 + 0.15 * 6.0, "e": 1.0 + 0.15 * 9.0},
        ),
        # other sessions do not count
        ({"a": 1.0, "b": 2.0}, {"a": "s", "b": "t"}, {"a": 1.0, "b": 2.0}),
    ],
)
def test_a_memory_gains_a_share_of_its_best_session_peers(
    scores: dict[str, float], sessions: dict[str, str], expected: dict[str, float]
) -> None:
    boosted = ranking.with_peers(scores, sessions)
    for memory_id, score in expected.items():
        assert boosted[memory_id] == pytest.approx(score)


def test_the_kth_result_of_one_session_is_scaled_so_the_first_results_span_sessions() -> None:
    ranked = [(10.0, "s1"), (9.0, "s2"), (8.0, "s3"), (7.5, "t1")]
    sessions = {"s1": "s", "s2": "s", "s3": "s", "t1": "t"}
    spread = ranking.spread(ranked, sessions)
    assert [i for _, i in spread] == ["s1", "t1", "s2", "s3"]
    assert dict((i, s) for s, i in spread)["s3"] == pytest.approx(8.0 * ranking.SESSION_SPREAD**2)


def test_spread_leaves_memories_without_a_session_alone() -> None:
    ranked = [(3.0, "a"), (2.0, "b"), (1.0, "c")]
    assert ranking.spread(ranked, {}) == ranked


WEIGHTS = {"deploy": 2.0, "fly": 2.0, "main": 1.0}


def test_rank_orders_by_bm25_times_coverage_cubed() -> None:
    full = Found("full", "deploy fly main")
    half = Found("half", "deploy")
    # half has the better BM25 rank (more negative), full covers the whole query.
    scored = ranking.rank([half, full], {"half": -4.0, "full": -1.0}, WEIGHTS)
    assert [s.memory.id for s in scored] == ["full", "half"]
    assert scored[0].score == pytest.approx(1.0)
    assert scored[1].score == pytest.approx(4.0 * 0.4**ranking.COVERAGE_POWER)
    assert scored[1].coverage == pytest.approx(0.4)
    assert {s.source for s in scored} == {"search"}


def test_rank_drops_memories_below_min_coverage_and_keeps_limit() -> None:
    found = [Found(f"m{n}", "deploy fly main" if n % 2 else "main") for n in range(10)]
    bm25 = {f.memory.id: -1.0 for f in found}
    scored = ranking.rank(found, bm25, WEIGHTS, min_coverage=0.5, limit=3)
    assert len(scored) == 3
    assert all(s.coverage == 1.0 for s in scored)


def test_a_reply_ranks_with_the_question_before_it_in_its_session() -> None:
    reply = Found("reply", "main", session="s")
    other = Found("other", "fly", session="t")
    bm25 = {"reply": -1.0, "other": -1.0}
    plain = ranking.rank([reply, other], bm25, WEIGHTS)
    assert plain[0].memory.id == "other"  # fly outweighs main
    by_session = ranking.rank(
        [reply, other], bm25, WEIGHTS, before={"reply": frozenset({"deploy", "fly"})}
    )
    assert by_session[0].memory.id == "reply"
    # Coverage reported is the memory's own, not the credited one.
    assert by_session[0].coverage == pytest.approx(0.2)


def test_without_before_there_are_no_peers_nor_spread() -> None:
    a, b = Found("a", "deploy fly", "s"), Found("b", "deploy fly", "s")
    bm25 = {"a": -2.0, "b": -1.0}
    plain = ranking.rank([a, b], bm25, WEIGHTS)
    session = ranking.rank([a, b], bm25, WEIGHTS, before={})
    share = 0.8**ranking.COVERAGE_POWER
    assert [s.score for s in plain] == pytest.approx([2.0 * share, 1.0 * share])
    assert session[0].score == pytest.approx(2.0 * share + 0.15 * share)
    assert session[1].score == pytest.approx((share + 0.15 * 2.0 * share) * 0.7)


def test_equal_scores_keep_the_storage_order() -> None:
    found = [Found(i, "deploy") for i in ("c", "a", "b")]
    scored = ranking.rank(found, dict.fromkeys("abc", -1.0), WEIGHTS)
    assert [s.memory.id for s in scored] == ["c", "a", "b"]


def test_scored_is_an_immutable_value() -> None:
    memory = Found("a", "deploy").memory
    s = Scored(memory, 0.5, "graph")
    assert s.coverage == 0.0 and s.source == "graph"
    assert s.evolve(score=1.0) == Scored(memory, 1.0, "graph")
    with pytest.raises(AttributeError):
        s.score = 2.0  # type: ignore[misc]
    assert not math.isnan(s.score)
