"""Retrieval quality on LoCoMo: does the slice's search find the turns that answer a question?

    PYTHONPATH=. python -m benchmarks.bench_locomo [--ingest add|files] [--title words|speaker]

Each of the 10 conversations goes into its own fresh Store, one memory per dialogue turn
(`benchmarks.locomo.ingest`; cached under /tmp/bench-memem-cache per memem version). Every
question of categories 1-4 is then asked of:

- memem, floor on: `memem.service.recall.searched` (the slice's own search, with its floor);
- memem Store.search: the public search (`memem search`, MCP `memory_search`), limit 10: the
  same ranking and floor over a wider scope (L3 too), so it must agree with the slice's;
- memem, floor off: the same ranking (`memem.storage.retrieval.search`) without the relevance
  floor, limit 10: what the floor costs;
- plain BM25: one FTS5 table per conversation, unicode61 (no stemming), every word of the
  question quoted and joined with OR, ordered by bm25(); and the same words joined with AND.

Metrics: recall_any@5 and NDCG@10 at turn level (a hit is a memory holding an evidence turn)
and at session level (a hit is a memory from a session holding evidence). Session recall_any@5
is cut the way LongMemEval scores a turn ranking (`evaluate_retrieval_turn2session`): at the
first 5 distinct sessions, so several turns of one session take one place; the stricter "an
evidence session among the first 5 results" is shown too. Session NDCG@10 is over the first
10 results (no system returns more), every result from an evidence session counting.
Prints markdown tables on stdout, progress on stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from benchmarks import locomo, stores
from benchmarks.bench_store import REPO, log, source_digest
from memem.core import ranking
from memem.core.text import query_terms
from memem.service import recall
from memem.service.store import Store
from memem.storage import retrieval

SYSTEMS: Final = (
    "memem, floor on",
    "memem Store.search",
    "memem, floor off",
    "plain BM25, OR",
    "plain BM25, AND",
    "porter BM25 + stopwords, OR",
    "porter BM25 + stopwords, AND",
)
TARGETS: Final = {"turn_r5": 0.65, "session_r5": 0.93}


@dataclass
class Scores:
    """Per-question metrics of one system, summed."""

    turn_r5: list[float] = field(default_factory=list)
    turn_ndcg: list[float] = field(default_factory=list)
    session_r5: list[float] = field(default_factory=list)
    session_ndcg: list[float] = field(default_factory=list)
    session_r5_results: list[float] = field(default_factory=list)
    results: list[int] = field(default_factory=list)
    by_category: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    ms: list[float] = field(default_factory=list)

    def add(
        self,
        category: int,
        turn_hits: Sequence[bool],
        turn_relevant: int,
        session_hits: Sequence[bool],
        session_relevant: int,
        sessions: Sequence[int],
        ms: float,
    ) -> None:
        r5 = locomo.recall_any(turn_hits, 5)
        self.turn_r5.append(r5)
        self.turn_ndcg.append(locomo.ndcg(turn_hits, turn_relevant, 10))
        at5 = locomo.distinct_cutoff(sessions, 5)
        self.session_r5.append(locomo.recall_any(session_hits, at5))
        self.session_ndcg.append(locomo.ndcg(session_hits, session_relevant, 10))
        self.session_r5_results.append(locomo.recall_any(session_hits, 5))
        self.results.append(len(turn_hits))
        self.by_category[category].append(r5)
        self.ms.append(ms)


def _runners(
    store: Store, project: str, plain: locomo.PlainBM25, stemmed: locomo.PlainBM25
) -> dict[str, Callable[[str], list[str]]]:
    """question -> ranked ids (memory ids for memem, dia_ids for the baselines), per system."""
    conn = store.index.connection()
    semantic = store.semantic

    def floor_on(q: str) -> list[str]:
        return [m.memory.id for m in recall.searched(conn, q, [project], semantic=semantic)[0]]

    def public(q: str) -> list[str]:
        return [h.id for h in store.search(q, project=project)]

    def floor_off(q: str) -> list[str]:
        found = retrieval.search(
            conn,
            query_terms(q),
            projects=[project],
            max_layer=2,
            limit=10,
            min_coverage=0.0,
            floor_coverage=0.0,
            floor_terms=0.0,
        )
        return [m.memory.id for m in found]

    return {
        "memem, floor on": floor_on,
        "memem Store.search": public,
        "memem, floor off": floor_off,
        "plain BM25, OR": lambda q: plain.search(q, op="OR"),
        "plain BM25, AND": lambda q: plain.search(q, op="AND"),
        "porter BM25 + stopwords, OR": lambda q: stemmed.search(q, op="OR"),
        "porter BM25 + stopwords, AND": lambda q: stemmed.search(q, op="AND"),
    }


def evaluate(
    conversations: Sequence[locomo.Conversation],
    built: dict[str, locomo.Ingested],
    *,
    systems: Sequence[str] = SYSTEMS,
) -> dict[str, Scores]:
    scores = {name: Scores() for name in systems}
    for conv in conversations:
        ingested = built[conv.sample_id]
        sessions_of: dict[str, set[int]] = defaultdict(set)
        for dia_id, memory_id in ingested.memory_of.items():
            sessions_of[memory_id].add(conv.session_of(dia_id))
        store = ingested.open()
        plain = locomo.PlainBM25(conv.turns)
        stemmed = locomo.PlainBM25(conv.turns, stemmed=True)
        runners = _runners(store, conv.sample_id, plain, stemmed)
        try:
            for question in conv.questions:
                wanted = question.sessions
                for name in systems:
                    start = time.perf_counter_ns()
                    ranked = runners[name](question.text)
                    ms = (time.perf_counter_ns() - start) / 1e6
                    if name.startswith("memem"):
                        relevant = {
                            ingested.memory_of[e]
                            for e in question.evidence
                            if e in ingested.memory_of
                        }
                        in_sessions = {m for m, s in sessions_of.items() if s & wanted}
                        turn_hits = [m in relevant for m in ranked]
                        session_hits = [bool(sessions_of[m] & wanted) for m in ranked]
                        sessions = [min(sessions_of[m]) for m in ranked]
                    else:
                        relevant = set(question.evidence)
                        in_sessions = {t.dia_id for t in conv.turns if t.session in wanted}
                        turn_hits = [d in relevant for d in ranked]
                        session_hits = [conv.session_of(d) in wanted for d in ranked]
                        sessions = [conv.session_of(d) for d in ranked]
                    scores[name].add(
                        question.category,
                        turn_hits,
                        len(relevant),
                        session_hits,
                        len(in_sessions),
                        sessions,
                        ms,
                    )
        finally:
            plain.close()
            stemmed.close()
            store.close()
        log(f"{conv.sample_id}: {len(conv.questions)} questions asked")
    return scores


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def table(scores: dict[str, Scores]) -> str:
    lines = [
        "| system | turn R@5 | turn NDCG@10 | session R@5 | session NDCG@10 "
        "| session R@5, first 5 results | answered | mean results | ms/question |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        answered = sum(1 for r in s.results if r) / len(s.results)
        lines.append(
            f"| {name} | {mean(s.turn_r5):.3f} | {mean(s.turn_ndcg):.3f} | {mean(s.session_r5):.3f} "
            f"| {mean(s.session_ndcg):.3f} | {mean(s.session_r5_results):.3f} "
            f"| {answered:.1%} | {mean(s.results):.1f} "
            f"| {statistics.median(s.ms):.2f} |"
        )
    return "\n".join(lines)


def category_table(scores: dict[str, Scores]) -> str:
    cats = sorted(locomo.CATEGORIES)
    any_scores = next(iter(scores.values()))
    head = " | ".join(
        f"{c} {locomo.CATEGORIES[c]} (n={len(any_scores.by_category[c])})" for c in cats
    )
    lines = [f"| turn R@5 by category | {head} |", "|---|" + "---|" * len(cats)]
    for name, s in scores.items():
        cells = " | ".join(f"{mean(s.by_category[c]):.3f}" for c in cats)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_locomo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--ingest", choices=("add", "files"), default="add", help="how turns are saved"
    )
    parser.add_argument(
        "--title", choices=("words", "dated", "speaker"), default="words", help="memory titles"
    )
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    digest = source_digest()
    log(f"memem from {REPO / 'memem'} (sources {digest}), data {locomo.DATA}")
    conversations = locomo.load()
    start = time.perf_counter()
    built = stores.locomo_stores(conversations, mode=args.ingest, title=args.title)
    ingest_s = time.perf_counter() - start
    scores = evaluate(conversations, built)
    total = time.perf_counter() - wall

    questions = sum(len(c.questions) for c in conversations)
    turns = sum(len(c.turns) for c in conversations)
    memories = sum(len(set(b.memory_of.values())) for b in built.values())
    outcomes: dict[str, int] = defaultdict(int)
    hidden: dict[str, int] = defaultdict(int)
    for b in built.values():
        for k, v in b.outcomes.items():
            outcomes[k] += v
        for k, v in b.hidden.items():
            hidden[k] += v
    print(f"## LoCoMo retrieval ({questions:,} questions of categories 1-4, 10 conversations)\n")
    print(table(scores))
    print()
    print(category_table(scores))
    print()
    on = scores["memem, floor on"]
    print(
        f"Targets (floor on): turn R@5 >= {TARGETS['turn_r5']} "
        f"({'met' if mean(on.turn_r5) >= TARGETS['turn_r5'] else 'NOT met'}: {mean(on.turn_r5):.3f}), "
        f"session R@5 >= {TARGETS['session_r5']} "
        f"({'met' if mean(on.session_r5) >= TARGETS['session_r5'] else 'NOT met'}: {mean(on.session_r5):.3f})"
    )
    print()
    skipped_ids = sum(len(c.skipped_ids) for c in conversations)
    skipped_q = sum(c.skipped_questions for c in conversations)
    print(
        f"- skipped: {skipped_ids} evidence ids that name no turn "
        f"({', '.join(sorted({i for c in conversations for i in c.skipped_ids}))}); "
        f"{skipped_q} questions left without evidence"
    )
    print(
        f"- ingest `{args.ingest}`, titles `{args.title}`: {turns:,} turns -> {memories:,} memories "
        f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); turns whose memory "
        f"search cannot return: {dict(hidden) or 'none'}; ingest {ingest_s:.0f} s"
        + (" (cached)" if ingest_s < 5 else "")
    )
    print(
        f"- ranking.FLOOR_COVERAGE {ranking.FLOOR_COVERAGE}, FLOOR_TERMS {ranking.FLOOR_TERMS}, "
        f"SEARCH_LIMIT {recall.SEARCH_LIMIT}; "
        f"retrieval.WEIGHTS {retrieval.WEIGHTS}"
    )
    print(f"- memem sources {digest} ({REPO / 'memem'}); wall time {total:.0f} s; {time.ctime()}")
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
