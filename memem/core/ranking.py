"""Ranking memories for a query: one scoring for every reader (the slice, `memem search`, the
MCP tools). Pure: the storage layer fetches the candidates (FTS5 matches with their BM25
ranks, each one's terms, the terms of the memory before it in its source session) and these
functions weigh, score, floor and order them.

    query words -> weights (IDF + 1 each; a word the vault never saw: UNKNOWN_WEIGHT x the
    rarest) -> match_words (the rarest, within POSTINGS_BUDGET) -> [storage: BM25 candidates]
    -> coverage -> floor (FLOOR_COVERAGE, FLOOR_TERMS) -> [storage: session context]
    -> score = BM25 x coverage**COVERAGE_POWER, + peers, spread -> Scored, best first

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import math

from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Final, Protocol

    from memem.core.memory import Memory

    class Candidate(Protocol):
        """What the storage layer hands over per match: a memory and its analysed terms."""

        @property
        def memory(self) -> Memory: ...
        @property
        def terms(self) -> frozenset[str]: ...


# Upper bound on the postings a query may make FTS5 score; rarer terms are always kept, the most
# common ones are dropped from MATCH past it (they still count for coverage).
POSTINGS_BUDGET: Final = 8_000
# Candidates fetched by BM25 before re-ranking: 100 instead of 40 raised the LoCoMo ceiling by
# 0.002 only (benchmarks/README.md), at 2.5x the rows read.
CANDIDATES: Final = 40
# Rank by BM25 x coverage**3: among matches, the one covering more of the query comes first
# (powers 1, 2 and 4 measured no better on LoCoMo).
COVERAGE_POWER: Final = 3
# The relevance floor: nothing at all unless the best candidate covers FLOOR_COVERAGE of the
# query's weight and FLOOR_TERMS of its words' worth (coverage x distinct words: one shared
# word is chance, so two words need 70%, four 35%, seven or more 20%; a one-word query needs
# its word). Tuned on LoCoMo and the off-topic prompts (benchmarks/bench_abstain.py).
FLOOR_COVERAGE: Final = 0.2
FLOOR_TERMS: Final = 1.4
# Past the floor, every memory shown must cover this much of the query (a weak neighbour of a
# strong match is noise).
MIN_COVERAGE: Final = 0.15
# A word the vault has never seen weighs this many times its rarest word: it is the surest sign
# a query is about something else ("weather", "recipe").
UNKNOWN_WEIGHT: Final = 2.0
# Memories saved from one source session answer together. A memory is credited this share of
# the query words that only the memory before it in its session holds (a reply carries the
# question it answered)...
SESSION_CONTEXT: Final = 0.5
# ... gains this share of the summed scores of the SESSION_PEERS best other candidates from its
# session (a session that matches the query in several memories is likelier the one asked
# about; capped, so that many weak matches do not outweigh one strong memory elsewhere:
# all peers 0.664 / 0.882 on LoCoMo, the best one only 0.653 / 0.879) ...
SESSION_BONUS: Final = 0.15
SESSION_PEERS: Final = 3
# ... and the k-th candidate of one session is scaled by SESSION_SPREAD**k (k = 0, 1, ...), so
# that the first results are not all one session.
SESSION_SPREAD: Final = 0.7

# The hybrid ranking (the dense signal: cosines of the query's and the memories' vectors,
# `memem.service.semantic`). Fused by score, not rank (rank fusion pulls the result toward the
# weaker signal: embeddings.md). A cosine at or below COS_NOISE says nothing, from COS_FULL
# up it says everything; the dense share weighs DENSE_WEIGHT, the lexical score the rest, and
# a lexical score that did not pass the lexical floor counts LEXICAL_WEAK as much.
DENSE_WEIGHT: Final = 0.7
# ... less in a vault whose memories are all alike (the background: see COS_FLOOR_BACKGROUND),
# none from BACKGROUND_SPAN past the usual background: there closeness in meaning says little
# (chat turns about one's life all sit close), and LoCoMo's recall fell from 0.66 to 0.48 with
# the full weight.
BACKGROUND_SPAN: Final = 0.2
COS_NOISE: Final = 0.15
COS_FULL: Final = 0.55
LEXICAL_WEAK: Final = 0.5
# The relevance floor on meaning: a query the lexical floor refuses is still answered when its
# closest memory is this close, plus COS_FLOOR_PER_DECADE for each tenfold of memories past ten
# (the more memories, the closer the best chance match of a prompt about nothing), plus
# COS_FLOOR_BACKGROUND x the vault's background past COS_BACKGROUND_USUAL (the mean cosine
# between its memories: notes on distinct topics ~0.1; chat about one's life ~0.3-0.45, where
# any prompt about life lands close to some memory) ...
COS_FLOOR: Final = 0.22
COS_FLOOR_PER_DECADE: Final = 0.03
COS_FLOOR_BACKGROUND: Final = 1.2
COS_BACKGROUND_USUAL: Final = 0.1
# ... when it has at least this many distinct words (the vector of a word or two says little:
# "ledgerdb" sits close to any note about a database) ...
DENSE_MIN_WORDS: Final = 2
# ... and past either floor a memory is shown on its vector alone when it is this close and
# within COS_GAP of the closest (a two-part prompt's second memory).
COS_KEEP: Final = 0.22
COS_GAP: Final = 0.2


class Scored(Value):
    """A memory with a score: a search result, or something that may enter the slice.
    `coverage` is the share of the query's weight it holds (0 when not searched for);
    `source` says where it came from: "search", "graph", "anchor", "kept", "playbook",
    "artifact"."""

    __slots__ = ("coverage", "memory", "score", "source")

    memory: Final[Memory]
    score: Final[float]
    coverage: Final[float]
    source: Final[str]

    def __init__(
        self, memory: Memory, score: float, source: str = "search", coverage: float = 0.0
    ) -> None:
        self.memory = memory
        self.score = score
        self.source = source
        self.coverage = coverage


def idf(df: int, docs: int) -> float:
    """Always positive (BM25+ style): a term in every document still weighs a little."""
    return math.log(1.0 + (docs - df + 0.5) / (df + 0.5))


def query_weights(
    stems: Iterable[str], dfs: Mapping[str, int], docs: int, unknown_weight: float
) -> dict[str, float]:
    """Each query stem's weight for coverage: its IDF plus one (a rare word counts most, a
    common one the query names, a person or the project, still counts a little); a stem the
    vault has never seen weighs `unknown_weight` times the rarest possible word."""
    unknown = unknown_weight * (idf(1, docs) + 1.0)
    return {s: idf(dfs[s], docs) + 1.0 if dfs.get(s) else unknown for s in set(stems)}


def match_words(
    stems: Mapping[str, str],
    dfs: Mapping[str, int],
    docs: int,
    *,
    max_terms: int | None = None,
    budget: int = POSTINGS_BUDGET,
) -> list[str]:
    """The query words worth a MATCH (word -> stem in `stems`), rarest first: a word the vault
    has seen, within `budget` postings, at most `max_terms` (the rarest always)."""
    known = sorted((w for w, s in stems.items() if dfs.get(s, 0) > 0), key=lambda w: dfs[stems[w]])
    chosen: list[str] = []
    used = 0
    for word in known:
        df = dfs[stems[word]]
        # Past the rarest word, a word in over a quarter of the memories adds little to BM25
        # (its IDF is small) but costs a posting per memory: it only counts for coverage.
        if chosen and (used + df > budget or df > docs // 4):
            continue
        chosen.append(word)
        used += df
        if max_terms and len(chosen) >= max_terms:
            break
    return chosen


def coverage(weights: Mapping[str, float], terms: Iterable[str]) -> float:
    """The share of the query's weight that `terms` hold."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    present = set(terms)
    return sum(w for s, w in weights.items() if s in present) / total


def passes_floor(
    best: float,
    distinct: int,
    floor_coverage: float = FLOOR_COVERAGE,
    floor_terms: float = FLOOR_TERMS,
) -> bool:
    """True when the best candidate's coverage clears the relevance floor for a query of
    `distinct` weighted words (a one-word query needs only its word)."""
    return best >= floor_coverage and best * distinct >= min(floor_terms, distinct)


def with_context(
    shares: Mapping[str, float], joint: Mapping[str, float], share: float = SESSION_CONTEXT
) -> dict[str, float]:
    """Coverage crediting `share` of what the memory before each in its session adds: `joint`
    is the coverage of a memory's terms together with its predecessor's (by memory id)."""
    return {i: own + share * (joint[i] - own) if i in joint else own for i, own in shares.items()}


def with_peers(
    scores: Mapping[str, float],
    sessions: Mapping[str, str | None],
    *,
    bonus: float = SESSION_BONUS,
    peers: int = SESSION_PEERS,
) -> dict[str, float]:
    """Each score plus `bonus` x the `peers` best other scores of its source session."""
    by_session: dict[str, list[float]] = {}
    for i, score in scores.items():
        session = sessions.get(i)
        if session:
            by_session.setdefault(session, []).append(score)
    for ranked in by_session.values():
        ranked.sort(reverse=True)
    boosted = dict(scores)
    for i, own in scores.items():
        session = sessions.get(i)
        if session:
            best = by_session[session][: peers + 1]
            if own in best:
                best.remove(own)
            boosted[i] = own + bonus * sum(best[:peers])
    return boosted


def spread(
    ranked: Sequence[tuple[float, str]],
    sessions: Mapping[str, str | None],
    factor: float = SESSION_SPREAD,
) -> list[tuple[float, str]]:
    """(score, id) best first -> the k-th of each source session scaled by factor**k, re-sorted
    (stable: equal scores keep their order)."""
    seen: dict[str, int] = {}
    out: list[tuple[float, str]] = []
    for score, i in ranked:
        session = sessions.get(i)
        k = seen.get(session, 0) if session else 0
        if session:
            seen[session] = k + 1
        out.append((score * factor**k, i))
    out.sort(key=lambda item: item[0], reverse=True)
    return out


def dense_share(cosine: float, noise: float = COS_NOISE, full: float = COS_FULL) -> float:
    """The dense signal of one memory in [0, 1]: nothing at or below `noise` (what any two
    texts share), all of it from `full` up."""
    return min(1.0, max(0.0, (cosine - noise) / (full - noise)))


def dense_floor(memories: int, background: float) -> float:
    """The cosine a query's closest memory needs to answer it on meaning alone, in a vault of
    `memories` memories (with a vector) whose memories are `background` alike on average."""
    return (
        COS_FLOOR
        + COS_FLOOR_PER_DECADE * math.log10(max(1.0, memories / 10))
        + COS_FLOOR_BACKGROUND * max(0.0, background - COS_BACKGROUND_USUAL)
    )


def dense_weight(background: float) -> float:
    """The dense signal's weight in the hybrid score, for a vault with this background."""
    excess = max(0.0, background - COS_BACKGROUND_USUAL)
    return DENSE_WEIGHT * max(0.0, 1.0 - excess / BACKGROUND_SPAN)


def passes_dense_floor(best: float, floor: float, distinct: int) -> bool:
    """True when a query of `distinct` words has a memory close enough (cosine `best`) to
    answer on meaning alone (`floor`: `dense_floor`)."""
    return distinct >= DENSE_MIN_WORDS and best >= floor


def rank(
    candidates: Sequence[Candidate],
    bm25: Mapping[str, float],
    weights: Mapping[str, float],
    *,
    before: Mapping[str, frozenset[str]] | None = None,
    limit: int = 10,
    min_coverage: float = 0.0,
    dense: Mapping[str, float] | None = None,
    lexical_floor: bool = True,
    weight: float = DENSE_WEIGHT,
    utility: Mapping[str, float] | None = None,
) -> list[Scored]:
    """Score candidates (BM25 ranks by memory id: FTS5's, lower is better) by BM25 x
    coverage**COVERAGE_POWER. With `before` (the terms of the memory saved just before each,
    by id, in its source session) the ranking is by session: context, peers and spread.

    With `dense` (cosines by memory id) the ranking is hybrid: a memory's score is
    `weight` (`dense_weight`) x its dense share plus the rest x its lexical score relative to
    the best
    (counted LEXICAL_WEAK as much when the lexical floor was not passed: `lexical_floor`),
    and a memory stays when it covers `min_coverage` of the query or its cosine is within
    COS_GAP of the best and at least COS_KEEP. Memories without either are dropped; the best
    `limit` are returned.

    With `utility` (a bounded multiplier by memory id, `memem.core.utility.factor`: what a
    memory's record of being injected, used and judged is worth) each score is scaled by it;
    an id without one keeps its score."""
    shares = {c.memory.id: coverage(weights, c.terms) for c in candidates}
    by_id = {c.memory.id: c for c in candidates}
    context = shares
    if before is not None:
        joint = {
            i: coverage(weights, by_id[i].terms | terms)
            for i, terms in before.items()
            if i in by_id
        }
        context = with_context(shares, joint)
    scores = {
        i: -float(bm25[i]) * share**COVERAGE_POWER if i in bm25 else 0.0
        for i, share in context.items()
    }
    keep = {i for i, share in shares.items() if share >= min_coverage and i in bm25}
    if dense is not None:
        scores, kept = _fused(scores, dense, lexical_floor, weight)
        keep = (keep if lexical_floor else set()) | kept
    sessions = {i: c.memory.source_session for i, c in by_id.items()}
    if before is not None:
        scores = with_peers(scores, sessions)
    if utility:
        scores = {i: score * utility.get(i, 1.0) for i, score in scores.items()}
    ranked = sorted(((scores[i], i) for i in by_id), key=lambda item: item[0], reverse=True)
    ranked = [(s, i) for s, i in ranked if i in keep]
    if before is not None:
        ranked = spread(ranked, sessions)
    return [Scored(by_id[i].memory, score, "search", shares[i]) for score, i in ranked[:limit]]


def _fused(
    lexical: Mapping[str, float], dense: Mapping[str, float], lexical_floor: bool, weight: float
) -> tuple[dict[str, float], set[str]]:
    """Hybrid scores by id, and the ids the dense signal alone keeps. Both signals are taken
    relative to the best candidate's: a cosine's share runs from COS_NOISE (nothing) to the
    best cosine (all), a lexical score's from 0 to the best lexical score."""
    top = max(lexical.values(), default=0.0)
    weak = 1.0 if lexical_floor else LEXICAL_WEAK
    best = max(dense.values(), default=0.0)
    fused = {
        i: weight * dense_share(dense.get(i, 0.0), COS_NOISE, max(best, COS_NOISE + 0.01))
        + (1.0 - weight) * weak * (score / top if top > 0 else 0.0)
        for i, score in lexical.items()
    }
    kept = {i for i, c in dense.items() if c >= COS_KEEP and c >= best - COS_GAP}
    return fused, kept
