"""What a memory's record of use is worth: the ranking's utility factor and retention's rules.

Pure: `memem.storage.utility` counts, per memory, the injections decided (used or not), the
verdicts given (`memem feedback`, the MCP `memory_feedback`) and when it was last used; these
functions turn a `Record` into a bounded multiplier for the one ranking (`factor`) and into
retention's answer (`retention`).

The factor is a Bayesian use rate: PRIOR_RATE over PSEUDO imagined injections, plus what was
seen. A new memory sits at the prior, factor 1.0 (it surfaces as if it had no record); one
injected many times and never used sinks towards LOW; one used often rises towards HIGH. The
bounds keep relevance first: a match scoring HIGH / LOW (~1.6x) the other's still wins.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final

VERDICTS: Final = ("helpful", "unhelpful", "wrong", "outdated")

# The factor's bounds, the prior use rate of a memory with no record and its weight in
# imagined injections, and how steeply the rate moves the factor away from 1.0.
LOW: Final = 0.7
HIGH: Final = 1.1
PRIOR_RATE: Final = 0.6
PSEUDO: Final = 4.0
SLOPE: Final = 0.5
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
    helpful and unhelpful verdicts, and the last use (ISO time, "" when never)."""

    __slots__ = ("helpful", "injected", "last_used", "unhelpful", "used")

    injected: Final[int]
    used: Final[int]
    helpful: Final[int]
    unhelpful: Final[int]
    last_used: Final[str]

    def __init__(
        self,
        injected: int = 0,
        used: int = 0,
        helpful: int = 0,
        unhelpful: int = 0,
        last_used: str = "",
    ) -> None:
        self.injected = injected
        self.used = used
        self.helpful = helpful
        self.unhelpful = unhelpful
        self.last_used = last_used


def rate(record: Record) -> float:
    """The estimated share of injections that get used (PRIOR_RATE with no record)."""
    used = record.used + VERDICT_WEIGHT * record.helpful
    seen = record.injected + VERDICT_WEIGHT * (record.helpful + record.unhelpful)
    return (used + PRIOR_RATE * PSEUDO) / (seen + PSEUDO)


def factor(record: Record) -> float:
    """The ranking's multiplier for a memory with this record, in [LOW, HIGH]; 1.0 for none."""
    return min(HIGH, max(LOW, 1.0 + SLOPE * (rate(record) - PRIOR_RATE)))


def cut(score: float, utility: float) -> bool:
    """Whether the slice drops an item of relative relevance `score` and this factor."""
    return score < SLICE_CUT and utility < SLICE_CUT_FACTOR


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
