"""What a rule is: a pattern, the gate that lets it run, and the check its matches must pass.

Speed: most text holds no secret and no threat, so each rule carries its gate, a cheap test for
something every match must contain (a literal such as ``ghp_``, or a short pattern), and runs
only when the gate passes. A gate may pass when its rule then finds nothing, never the reverse
(tests/test_security.py checks this over the corpora and random text). Case-insensitive rules
are gated on `fold` of the text. The gate combinators below build them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from memem.core.normalize import skeleton_map

# Python's re, under IGNORECASE, matches the dotless i (U+0131) and the dotted capital I
# (U+0130) as "i" and the long s (U+017F) as "s"; str.lower() keeps those apart and turns
# U+0130 into two characters.
_FOLD_FIRST: Final = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def fold(text: str) -> str:
    """`text` lower-cased for the gates of case-insensitive rules.

    Folding maps one character to one, keeps every character's \\w and \\s class, and maps a
    character to an ASCII x exactly when ``(?i)x`` matches it (the tests check every code
    point). So a pattern written in lower case from ASCII literals, ASCII classes, \\w, \\s and
    \\b matches the folded text, case-sensitively, exactly where its (?i) form matches `text`.
    """
    return text.lower() if text.isascii() else text.translate(_FOLD_FIRST).lower()


Gate = Callable[[str, str], bool]
Accept = Callable[[re.Match[str]], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    """A secret pattern, the check its matches must pass, and its gate.

    `gate(text, folded)` is False only when `pattern` cannot match `text`. `kind` "" means a
    password- or secret-assignment, chosen from the name. A `secret` group is the part
    redacted, else the whole match.
    """

    kind: str
    pattern: re.Pattern[str]
    gate: Gate
    accept: Accept
    # A provider-token rule, run only when `tokens.may_match` finds one of their literals.
    grouped: bool = False


def contains(*words: str, folded: bool = False) -> Gate:
    """A gate passing when one of `words` is in the text (or, with `folded`, its fold)."""
    # `map` over `str.__contains__` runs in C: no generator frame per word.
    if len(words) == 1:
        word = words[0]
        return (lambda t, f: word in f) if folded else (lambda t, f: word in t)
    if folded:
        return lambda t, f: any(map(f.__contains__, words))
    return lambda t, f: any(map(t.__contains__, words))


def search(pattern: str) -> Gate:
    """A gate passing when `pattern` (lower case, see `fold`) is found in the folded text."""
    compiled = re.compile(pattern)
    return lambda t, f: compiled.search(f) is not None


def either(*gates: Gate) -> Gate:
    if len(gates) == 2:  # the common case, without a generator
        g1, g2 = gates
        return lambda t, f: g1(t, f) or g2(t, f)
    return lambda t, f: any(g(t, f) for g in gates)


def both(*gates: Gate) -> Gate:
    if len(gates) == 2:
        g1, g2 = gates
        return lambda t, f: g1(t, f) and g2(t, f)
    return lambda t, f: all(g(t, f) for g in gates)


def always(m: re.Match[str]) -> bool:
    return True


# The kinds of threat, one a class of attack.
INJECTION: Final = "prompt-injection"
REMOTE_CODE: Final = "remote-code-execution"
AUTHORITY_CLAIM: Final = "authority-claim"
EXFILTRATION: Final = "credential-exfiltration"


@dataclass(frozen=True, slots=True)
class Threat:
    """A threat pattern and its gate: `gate(text, folded)` is False only when it cannot match."""

    kind: str
    pattern: re.Pattern[str]
    gate: Gate
    # A match that is a bare token ("[INST]", "<|im_start|>") may be named in prose about it.
    token: bool = False
    # A match holding a negation ("..., and never commit `.env`") is advice, not an order.
    advice: bool = False


def threat(
    kind: str, gate: Gate, *branches: str, token: bool = False, advice: bool = False
) -> Threat:
    return Threat(kind, re.compile("|".join(branches), re.I), gate, token, advice)


def line_window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """Up to `width` chars either side of text[start:end], not crossing a newline."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    nl = text.rfind("\n", lo, start)
    lo = nl + 1 if nl >= 0 else lo
    nl = text.find("\n", end, hi)
    return lo, nl if nl >= 0 else hi


# The first look and the second (`undisguise.undisguised`) both need the skeleton of the same
# text.
cached_skeleton: Final = functools.lru_cache(maxsize=4)(skeleton_map)
