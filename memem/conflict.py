"""Duplicates and contradictions between a new memory and existing ones. Pure, no model call.

Order matters: a contradiction is checked before a near-duplicate, because "The API uses
MySQL" and "The API uses Postgres, not MySQL" share most of their words yet state different
facts. The newer memory then supersedes the older one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

from memem.graph import similarity
from memem.text import STOPWORDS, words

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


def contradiction(
    new_text: str,
    old_text: str,
    new_terms: frozenset[str],
    old_terms: frozenset[str],
    weights: Mapping[str, float],
) -> str | None:
    """Why `new_text` contradicts `old_text` (so the newer supersedes it), or None."""
    new_words, old_words = words(new_text), words(old_text)
    old_set = set(old_words)
    subject = similarity(new_terms, old_terms, weights)

    # "Postgres, not MySQL" against "uses MySQL": the new text negates what the old asserts.
    denied = {t for t in _negated(new_text) if t in old_set} - _negated(old_text)
    if denied and subject >= SAME_SUBJECT:
        return f"the newer memory rules out {', '.join(sorted(denied))}"

    # "always X" against "never X": the same statement with opposite polarity.
    core_new = set(new_words) - _POLARITY
    core_old = old_set - _POLARITY
    if core_new and core_old:
        overlap = len(core_new & core_old) / len(core_new | core_old)
        neg_new = bool(_NEGATIVE & set(new_words))
        neg_old = bool(_NEGATIVE & old_set)
        if overlap >= SAME_TEMPLATE and neg_new != neg_old:
            return "the same statement with the opposite polarity"

    # "port 8080" against "port 9090": the same sentence with another value.
    values_new = {w for w in new_words if _VALUE.match(w)}
    values_old = {w for w in old_words if _VALUE.match(w)}
    plain_new = set(new_words) - values_new
    plain_old = old_set - values_old
    was, now = values_old - values_new, values_new - values_old
    # One value replaced by another in an otherwise identical sentence; several changed
    # values are more likely two different things (note 1, note 2) than an update.
    if len(was) == 1 and len(now) == 1 and plain_new and plain_old:
        overlap = len(plain_new & plain_old) / len(plain_new | plain_old)
        if overlap >= SAME_TEMPLATE:
            return f"the value changed from {min(was)} to {min(now)}"
    return None
