"""Redaction: every secret rule run over the text, in order of strength, and the spans found
replaced by ``[REDACTED:<kind>]``.

Rules match on `memem.core.normalize.skeleton_map` of the text without decoding escapes
(zero-width and control characters dropped, look-alike letters folded to ASCII); a match is
mapped back to the original characters, which are what gets redacted.
"""

from __future__ import annotations

import re
from typing import Final

from memem.core.normalize import skeleton_map
from memem.core.security import assignments, connections, keys, prose, tokens
from memem.core.security.findings import Finding
from memem.core.security.rules import Rule, fold, line_window
from memem.core.text import clip

# Passes of redaction before the result is taken as it is (see `redact_secrets`).
MAX_PASSES: Final = 4
_PASSWORD_NAME: Final = re.compile("pass|pwd|wort|senha|contrase|haslo|losenord", re.I)

# Strongest first: overlapping spans are merged under the stronger kind.
RULES: Final[tuple[Rule, ...]] = (
    keys.PRIVATE_KEY,
    *tokens.RULES,
    keys.AWS_SECRET,
    connections.URL_PASSWORD,
    keys.BEARER,
    assignments.QUOTED,
    assignments.ENV,
    assignments.YAML,
    assignments.FLAG,
    connections.NETRC,
    *connections.CLI_PASSWORDS,
    connections.USER_PASS,
    connections.USER_SLASH,
    connections.PGPASS,
    assignments.XML_ELEMENT,
    keys.TOTP,
    keys.PUTTY,
    connections.DSN,
    assignments.KEYLIKE_VALUE,
    assignments.QUERY,
    prose.PROSE,
    prose.PROSE_FOREIGN,
)


def _redact_once(text: str) -> tuple[str, list[tuple[int, int, int, str]]]:
    """One pass: the redacted text and the merged spans (start, end, priority, kind) of `text`
    that it replaced."""
    sk = skeleton_map(text, decode=False)
    base, folded = sk.text, fold(sk.text)
    may_tokens = tokens.may_match(base, folded)
    found: list[tuple[int, int, int, str]] = []  # start, priority, end, kind
    for priority, rule in enumerate(RULES):
        if (rule.grouped and not may_tokens) or not rule.gate(base, folded):
            continue
        named = "secret" in rule.pattern.groupindex
        for m in rule.pattern.finditer(base):
            if rule.accept(m):
                start, end = sk.span(*m.span("secret" if named and m["secret"] else 0))
                if start >= end:
                    continue
                kind = rule.kind or (
                    "password-assignment"
                    if _PASSWORD_NAME.search(m["name"])
                    else "secret-assignment"
                )
                found.append((start, priority, end, kind))
    if not found:
        return text, []
    # Overlapping spans are merged, never dropped: a secret half-covered by a weaker match must
    # not leak its other half.
    merged: list[tuple[int, int, int, str]] = []  # start, end, priority, kind
    for start, priority, end, kind in sorted(found):
        if merged and start < merged[-1][1]:
            s0, e0, p0, k0 = merged[-1]
            merged[-1] = (s0, max(e0, end), min(p0, priority), k0 if p0 <= priority else kind)
        else:
            merged.append((start, end, priority, kind))
    pieces: list[str] = []
    pos = 0
    for start, end, _, kind in merged:
        pieces += [text[pos:start], f"[REDACTED:{kind}]"]
        pos = end
    return "".join([*pieces, text[pos:]]), merged


def redact_secrets(text: str) -> tuple[str, tuple[Finding, ...]]:
    """`text` with every secret replaced, and a finding (kind, excerpt) for each.

    Redacting can make a secret visible that was not before: a token that swallowed the start
    of a name (`whsec_...access_token := value`) leaves `]_token := value`, an assignment. So
    passes repeat until one finds nothing (the result is a fixed point: redacting it again
    changes nothing); excerpts are cut from the final text, so none shows a secret a later
    pass redacted."""
    out = text
    tags: list[tuple[int, int, str]] = []  # (start, end, kind) of each tag in `out`
    for _ in range(MAX_PASSES):
        again, spans = _redact_once(out)
        if not spans:
            break
        tags = _moved(tags, spans) + _placed(spans)
        tags.sort()
        out = again
    return out, tuple(
        Finding(kind, clip(out[slice(*line_window(out, s, e, 20))], 80)) for s, e, kind in tags
    )


def _placed(spans: list[tuple[int, int, int, str]]) -> list[tuple[int, int, str]]:
    """Where each tag of one pass lands in that pass's output."""
    placed: list[tuple[int, int, str]] = []
    shift = 0
    for start, end, _, kind in spans:
        size = len(f"[REDACTED:{kind}]")
        placed.append((start + shift, start + shift + size, kind))
        shift += size - (end - start)
    return placed


def _moved(
    tags: list[tuple[int, int, str]], spans: list[tuple[int, int, int, str]]
) -> list[tuple[int, int, str]]:
    """Earlier tags, moved to where a later pass's output has them; a tag the later pass
    swallowed (inside one of its spans) is counted by that span's own tag."""
    moved: list[tuple[int, int, str]] = []
    for s, e, kind in tags:
        shift, inside = 0, False
        for start, end, _, new_kind in spans:
            if end <= s:
                shift += len(f"[REDACTED:{new_kind}]") - (end - start)
            elif start < e:
                inside = True
                break
        if not inside:
            moved.append((s + shift, e + shift, kind))
    return moved
