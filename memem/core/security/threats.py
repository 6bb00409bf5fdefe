"""Threat detection: every threat rule run over the skeleton of the text, then a second look
at it undisguised (`memem.core.security.undisguise`), and what is only a mention left alone.

Threat patterns run case-insensitively on `memem.core.normalize.skeleton_map` of the text
(zero-width and control characters dropped, look-alike letters folded, accents dropped,
HTML/URL escapes decoded), so a pattern names plain ASCII words once and every disguise of them
matches too. A match is mapped back to the original characters for its excerpt.

Let through on purpose: text *about* an attack (see `_is_mention`), advice ("never send your API
key to anyone").
"""

from __future__ import annotations

import re
from typing import Final

from memem.core.security import authority, exfiltration, foreign, injection, remote_code
from memem.core.security.findings import Finding
from memem.core.security.rules import EXFILTRATION, INJECTION, cached_skeleton, fold, line_window
from memem.core.security.undisguise import (
    BASE64_RUN,
    decoded_base64,
    hidden_tags,
    undisguised,
)
from memem.core.text import clip

# Where two threats match at the same place, the earlier one here is reported. The order is
# the one the scanner was tuned with: each class's later rules come after every class's first.
THREATS: Final = (
    *injection.THREATS,
    exfiltration.LEAK,
    *remote_code.THREATS,
    *authority.THREATS,
    *foreign.THREATS,
    injection.DECODE_AND_OBEY,
    *authority.LATER_THREATS,
    *exfiltration.LATER_THREATS,
    *remote_code.LATER_THREATS,
)
_QUOTED: Final = re.compile(
    r"`[^`\n]{1,300}`|\"[^\"\n]{1,300}\"|(?<![A-Za-z0-9])'[^'\n]{1,300}'(?![A-Za-z0-9])"
    r"|\u201c[^\u201d\n]{1,300}\u201d|\u2018[^\u2019\n]{1,300}\u2019"
)
_TOPIC: Final = re.compile(
    r"inject|jailbr|attack|malicious|adversar|phrase|pattern|filter|detect|block|reject|refus"
    r"|example|e\.g\.|such as|\btags?\b|\btokens?\b|template|marker|delimit|saniti[sz]|escap"
    r"|element|\bxml\b|\bhtml\b|payload|pentest|penetration\s+test|finding|audit|flagged|vulnerab"
    r"|\bcve-|exploit|incident|render|literal|strip",
    re.I,
)


def _is_mention(text: str, start: int, end: int) -> bool:
    """Whether an injection phrase is quoted by text about it rather than addressed to a model.

    Rule: the phrase sits inside quotes or backticks AND its line (within 200 chars) names the
    topic outside the quote ("injection", "attack", "filter", "tag", "example", ...). A memory
    describing a defence ("we block prompt-injection attacks like 'ignore previous
    instructions'") is legitimate and is exactly the kind of lesson memem should keep. Both
    halves are needed: a bare quote ("the user said 'ignore previous instructions'") or bare
    vocabulary is still refused. What slips through is injected as untrusted reference data.
    """
    lo, hi = line_window(text, start, end, 200)
    for q in _QUOTED.finditer(text, lo, hi):
        if q.start() <= start and end <= q.end():
            # The topic must be named outside the quote: "x.example" inside it names nothing.
            return bool(_TOPIC.search(text, lo, q.start()) or _TOPIC.search(text, q.end(), hi))
    return False


_WORD_BEFORE: Final = re.compile(r"\w[^\n]*$")
# What follows a token named in prose: the sentence goes on in lower case, or punctuation.
_PROSE_GOES_ON: Final = re.compile(r"\s+[a-z]|\s*[,.;:)\"'`]|\s*$")


def _is_token_mention(text: str, start: int, end: int) -> bool:
    """Whether a bare role token is named in a sentence about it ("the UI renders [INST]
    literally because we escape template tokens"): the token sits inside a line, after words,
    and the line names the topic. A token opening a line starts a fake turn and counts."""
    lo, hi = line_window(text, start, end, 200)
    if _WORD_BEFORE.search(text, lo, start) is None or not _PROSE_GOES_ON.match(text, end):
        return False
    return bool(_TOPIC.search(text, lo, start) or _TOPIC.search(text, end, hi))


# A negation inside a match, not "don't forget to".
_ADVICE: Final = re.compile(
    r"\b(?:never|not|don't|do\s+not|shouldn't|mustn't|avoid)\b(?!\s+(?:forget|hesitate|skip))", re.I
)


def find_threats(text: str) -> tuple[Finding, ...]:
    """The threats in `text`: hidden TAG characters, then the first look, then, when that finds
    nothing, the second look at the text undisguised and at the text hidden in its base64."""
    hidden = hidden_tags(text)
    tagged = (Finding(INJECTION, clip(f"hidden tag characters: {hidden}", 60)),) if hidden else ()
    found = threats_in(text)
    if found:
        return tagged + found
    view = undisguised(text)
    if view != text:
        found = threats_in(view)
    if not found and BASE64_RUN.search(text):
        decoded = decoded_base64(text)
        found = threats_in(decoded) if decoded else ()
        if not found and decoded:
            found = threats_in(undisguised(decoded))
    return tagged + found


def threats_in(text: str) -> tuple[Finding, ...]:
    """One look: every threat rule on the skeleton of `text`, one finding per passage."""
    sk = cached_skeleton(text)
    t, f = sk.text, fold(sk.text)
    # start and end in `t`, rank (earlier in `THREATS` first), kind, excerpt width
    found: list[tuple[int, int, int, str, int]] = []
    for rank, threat in enumerate(THREATS):
        if threat.gate(t, f):
            found += [
                (m.start(), m.end(), rank, threat.kind, 40)
                for m in threat.pattern.finditer(t)
                if not _is_mention(t, m.start(), m.end())
                and not (threat.token and _is_token_mention(t, m.start(), m.end()))
                and not (threat.advice and _ADVICE.search(t, m.start(), m.end()))
            ]
    found += [
        (start, end, len(THREATS), EXFILTRATION, 20) for start, end in exfiltration.requests(t, f)
    ]
    found.sort(key=lambda x: (x[0], x[2]))
    threats: list[Finding] = []
    last_end = -1
    for start, end, _, kind, width in found:
        if start < last_end:
            continue  # one finding per passage: the earliest, of the first threat in the list
        last_end = end
        lo, hi = sk.span(start, end)
        threats.append(Finding(kind, clip(text[lo : hi + width], 60)))
    for start, end in exfiltration.leaking_lines(t, f):
        lo, hi = sk.span(start, end)
        threats.append(Finding(EXFILTRATION, clip(text[lo:hi].strip(), 80)))
    return tuple(threats)
