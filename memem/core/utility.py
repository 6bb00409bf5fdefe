"""What a memory's record of use is worth: the ranking's utility factor and retention's rules.

Pure: `memem.storage.utility` counts, per memory, the injections decided (used or not), the
verdicts given (`memem feedback`, the MCP `memory_feedback`) and when it was last used; these
functions turn a `Record` into a bounded multiplier for the one ranking (`factor`) and into
retention's answer (`retention`).

The factor is a Bayesian use rate: PRIOR_RATE over PSEUDO imagined injections, plus what was
seen. A new memory sits at the prior, factor 1.0 (it surfaces as if it had no record); one
injected many times and never used sinks towards LOW; one used often rises towards HIGH. The
bounds keep relevance first: a match scoring HIGH / LOW (~1.6x) the other's still wins.

Evidence is weighed by relevance (`weight`): a use counts whole; an unused injection counts as
much as the memory matched that prompt, so noise that tops the slice and is never used sinks
while a memory injected weakly for other needs (and used for its own) does not. The slice
leaves out a weak match (by relevance alone, `relevance`) whose memory is seldom used overall
(SLICE_CUT_FACTOR) or seldom used when weakly matched (`weak_rate`, WEAK_CUT). The constants
were tuned on benchmarks/bench_learning.py (its world was fixed before any tuning).

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Final

VERDICTS: Final = ("helpful", "unhelpful", "wrong", "outdated")

# The factor's bounds, the prior use rate of a memory with no record and its weight in
# imagined injections, and how steeply the rate moves the factor away from 1.0.
LOW: Final = 0.7
HIGH: Final = 1.1
PRIOR_RATE: Final = 0.6
PSEUDO: Final = 4.0
SLOPE: Final = 1.0
# An unused injection weighs at least this much, however weak its match (`weight`).
MIN_WEIGHT: Final = 0.1
# A weak match (relevance below SLICE_CUT) of a memory that, weakly matched, is used in less
# than WEAK_CUT of its injections is left out of the slice: WEAK_PRIOR over PSEUDO imagined
# weak injections, plus what was seen (`weak_rate`). Measured per memory because a memory
# used for its own need and injected weakly for others' has a good record overall and a poor
# one as a weak match; that is where the characters of an unused slice go.
WEAK_PRIOR: Final = 0.2
WEAK_CUT: Final = 0.1
# A verdict counts as this many injections: helpful ones all used, unhelpful ones all unused.
VERDICT_WEIGHT: Final = 2.0
# The slice drops an item whose factor is below SLICE_CUT_FACTOR when its relevance (its
# score relative to the best hit) is below SLICE_CUT: a weak match that is never used.
SLICE_CUT: Final = 0.5
SLICE_CUT_FACTOR: Final = 0.85

# Retention: archived when injected at least MIN_INJECTIONS times and used at most once in
# USE_RATIO of them, or judged unhelpful UNHELPFUL_TIMES times and never used. Immune: L0
# anchors, memories saved by hand, used in the last RECENT_DAYS, an immune tag, a helpful verdict.
MIN_INJECTIONS: Final = 10
USE_RATIO: Final = 20
UNHELPFUL_TIMES: Final = 2
RECENT_DAYS: Final = 30


class Record(Value):
    """One memory's record since its last restore: injections decided, how many used, the
    helpful and unhelpful verdicts, and the last use (ISO time, "" when never). `evidence`:
    the injections weighed by what each says (`weight`); `injected` when not given."""

    __slots__ = (
        "evidence",
        "helpful",
        "injected",
        "last_used",
        "unhelpful",
        "used",
        "weak_injected",
        "weak_used",
    )

    injected: Final[int]
    used: Final[int]
    helpful: Final[int]
    unhelpful: Final[int]
    last_used: Final[str]
    evidence: Final[float]
    weak_injected: Final[int]
    weak_used: Final[int]

    def __init__(
        self,
        injected: int = 0,
        used: int = 0,
        helpful: int = 0,
        unhelpful: int = 0,
        last_used: str = "",
        evidence: float | None = None,
        weak_injected: int = 0,
        weak_used: int = 0,
    ) -> None:
        self.injected = injected
        self.used = used
        self.helpful = helpful
        self.unhelpful = unhelpful
        self.last_used = last_used
        self.evidence = float(injected if evidence is None else evidence)
        self.weak_injected = weak_injected
        self.weak_used = weak_used


def weight(used: bool, score: float) -> float:
    """What one decided injection weighs in a memory's record. A use counts whole; an unused
    injection counts as much as the memory matched the prompt (its relevance in the slice,
    relative to the best, 0-1): a strong match left unused says the memory does not help, a
    weak one merely that it was not this prompt's (a memory injected weakly for other needs
    and used for its own must not sink like noise that tops the slice and is never used)."""
    return 1.0 if used else min(1.0, max(MIN_WEIGHT, score))


def rate(record: Record) -> float:
    """The estimated share of injections that get used (PRIOR_RATE with no record)."""
    used = record.used + VERDICT_WEIGHT * record.helpful
    seen = record.evidence + VERDICT_WEIGHT * (record.helpful + record.unhelpful)
    return (used + PRIOR_RATE * PSEUDO) / (seen + PSEUDO)


def factor(record: Record) -> float:
    """The ranking's multiplier for a memory with this record, in [LOW, HIGH]; 1.0 for none."""
    return min(HIGH, max(LOW, 1.0 + SLOPE * (rate(record) - PRIOR_RATE)))


def weak(score: float) -> bool:
    """Whether an item of this relevance in its slice (relative to the best) is a weak match."""
    return score < SLICE_CUT


def weak_rate(record: Record) -> float:
    """The estimated share of a memory's weak-match injections that get used."""
    return (record.weak_used + WEAK_PRIOR * PSEUDO) / (record.weak_injected + PSEUDO)


def relevance(
    scored: Iterable[tuple[str, float]], factors: Mapping[str, float]
) -> dict[str, float]:
    """Each hit's relevance relative to the best, the factors taken out again: whether a match
    is weak is a question of relevance alone (another memory's good record must not make this
    one look weak)."""
    plain = {i: s / factors.get(i, 1.0) for i, s in scored}
    best = max(plain.values(), default=0.0) or 1.0
    return {i: s / best for i, s in plain.items()}


def cut(score: float, utility: float, weak_use: float = 1.0, plain: float | None = None) -> bool:
    """Whether the slice drops an item of relative relevance `score` (the factors in), this
    factor and this `weak_rate`: a weak match of a memory seldom used overall, or a match weak
    by relevance alone (`plain`, `relevance`; `score` when not given) of a memory seldom used
    when weakly matched."""
    plain = score if plain is None else plain
    return (weak(score) and utility < SLICE_CUT_FACTOR) or (weak(plain) and weak_use < WEAK_CUT)


def immunity(
    record: Record,
    *,
    layer: int,
    source_type: str,
    tags: Iterable[str],
    immune_tags: Iterable[str],
    since: str,
) -> str:
    """Why a memory may never be archived ("" when it may). `since`: the ISO time RECENT_DAYS
    ago (a use after it is recent)."""
    if layer == 0:
        return "L0 anchor"
    if source_type == "user":
        return "saved by hand"
    if record.helpful:
        return "judged helpful"
    if record.last_used and record.last_used >= since:
        return "used recently"
    named = {t.lower() for t in immune_tags} & {t.lower() for t in tags}
    if named:
        return f"immune tag {sorted(named)[0]}"
    return ""


def archive_reason(record: Record) -> str:
    """Why retention would archive a memory with this record ("" when it would not)."""
    if record.injected >= MIN_INJECTIONS and record.used * USE_RATIO <= record.injected:
        return f"injected {record.injected} times, used {record.used}"
    if record.unhelpful >= UNHELPFUL_TIMES and record.used == 0:
        return f"judged unhelpful {record.unhelpful} times, never used"
    return ""
