"""Duplicates and contradictions between a new memory and existing ones. Pure, no model call.

Order matters: a contradiction is checked before a near-duplicate, because "The API uses
MySQL" and "The API uses Postgres, not MySQL" share most of their words yet state different
facts. The newer memory then supersedes the older one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from memem.core.graph import similarity
from memem.core.text import STOPWORDS, words

NEAR_DUPLICATE: Final = 0.8
SAME_SUBJECT: Final = 0.3
SAME_TEMPLATE: Final = 0.75

_TARGET: Final = r"([a-z0-9][\w.+#-]*)"
_NEGATIONS: Final = tuple(
    re.compile(p + _TARGET, re.IGNORECASE)
    for p in (
        r"\bnot\s+(?:use\s+|using\s+|uses\s+|on\s+)?",
        r"\bno longer\s+(?:use\s+|uses\s+|using\s+|on\s+)?",
        r"\b(?:don't|do not|never|stop|stopped)\s+(?:use|using)\s+",
        r"\binstead of\s+(?:using\s+)?",
        r"\brather than\s+",
        r"\breplac(?:ed|es|ing)\s+",
        r"\b(?:switched|migrated|moved|changed)\s+(?:away\s+)?from\s+",
        r"\b(?:dropped|removed|abandoned)\s+",
    )
)
_POLARITY: Final = frozenset(
    [
        "always",
        "never",
        "not",
        "don't",
        "dont",
        "do",
        "must",
        "should",
        "shouldn't",
        "mustn't",
        "no",
        "avoid",
    ]
)
_NEGATIVE: Final = frozenset(
    ["never", "not", "don't", "dont", "shouldn't", "mustn't", "no", "avoid"]
)
_VALUE: Final = re.compile(r"^(?:v?\d[\d.]*[a-z]*|\d+[a-z]{1,3})$")


def fingerprint(content: str) -> str:
    """Same words in the same order (case, accents, punctuation and spacing aside)."""
    return hashlib.sha1(" ".join(words(content)).encode()).hexdigest()


def is_near_duplicate(a: frozenset[str], b: frozenset[str], weights: Mapping[str, float]) -> bool:
    return similarity(a, b, weights) >= NEAR_DUPLICATE


def _negated(text: str) -> set[str]:
    found: set[str] = set()
    for pattern in _NEGATIONS:
        for match in pattern.finditer(text):
            target = match.group(1).lower().rstrip(".")
            if target not in STOPWORDS and len(target) > 1:
                found.add(target)
    return found


@dataclass(frozen=True, slots=True)
class Claim:
    """What contradiction checks read off a text, computed once per text."""

    words: frozenset[str]
    negated: frozenset[str]
    values: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Claim:
        found = frozenset(words(text))
        return cls(found, frozenset(_negated(text)), frozenset(w for w in found if _VALUE.match(w)))


def contradiction(
    new: Claim,
    old: Claim,
    new_terms: frozenset[str],
    old_terms: frozenset[str],
    weights: Mapping[str, float],
) -> str | None:
    """Why the `new` text contradicts the `old` one (so the newer supersedes it), or None."""
    # "Postgres, not MySQL" against "uses MySQL": the new text negates what the old asserts.
    denied = (new.negated & old.words) - old.negated
    if denied and similarity(new_terms, old_terms, weights) >= SAME_SUBJECT:
        return f"the newer memory rules out {', '.join(sorted(denied))}"

    # "always X" against "never X": the same statement with opposite polarity.
    core_new, core_old = new.words - _POLARITY, old.words - _POLARITY
    if core_new and core_old:
        overlap = len(core_new & core_old) / len(core_new | core_old)
        if overlap >= SAME_TEMPLATE and bool(_NEGATIVE & new.words) != bool(_NEGATIVE & old.words):
            return "the same statement with the opposite polarity"

    # "port 8080" against "port 9090": the same sentence with another value. Several changed
    # values are more likely two different things (note 1, note 2) than an update.
    was, now = old.values - new.values, new.values - old.values
    plain_new, plain_old = new.words - new.values, old.words - old.values
    if len(was) == 1 and len(now) == 1 and plain_new and plain_old:
        overlap = len(plain_new & plain_old) / len(plain_new | plain_old)
        if overlap >= SAME_TEMPLATE:
            return f"the value changed from {min(was)} to {min(now)}"
    return None
