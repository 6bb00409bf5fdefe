"""Which values are secrets: a literal rather than a placeholder, a path or code; random
enough to be a generated key. Shared by the secret rules."""

from __future__ import annotations

import math
import re
from typing import Final

# A value that only stands for a secret: a variable, a template, a mask, a block scalar, or an
# earlier redaction (which keeps `redact` idempotent).
_PLACEHOLDER: Final = re.compile(
    r"[$<{%*!&|>\[]|your[-_ ]|(?:x+|\.+|password|passwd|pass|pwd|secret|changeme|none|null|nil"
    r"|true|false|undefined|redacted)$"
    # An elided example: "sk-...", "sk-proj-…".
    r"|[\w-]{0,16}(?:\.{3}|\u2026)",
    re.I,
)
_PATH: Final = re.compile(r"(?:~|\.{1,2})?/[\w./-]*$")
# Unquoted values that are code, not data: calls, subscripts, strings, attribute access, a
# trailing comma (a JS object, a keyword argument), an expression (`pw or ""`), a type
# annotation (`password: str | None = None`).
CODE_VALUE: Final = re.compile(
    r"[()\[\]{}\"']|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$|[,;]$|\s(?:[=|]|or|and|if|else)\s"
    r"|^(?:str|bytes|int|bool|string|number|any|SecretStr|Optional)\b",
    re.I,
)
DOTTED: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
LETTER_AND_DIGIT: Final = re.compile(r"(?=[^\d\s]*\d)(?=[^a-zA-Z\s]*[a-zA-Z])")


def is_literal(value: str) -> bool:
    return (
        not value[:1].isspace()
        and any(c.isalnum() for c in value)
        and not _PLACEHOLDER.match(value)
        and not _PATH.match(value)
    )


BARE_KEY_BITS: Final = 4.7


def entropy(value: str) -> float:
    """Shannon entropy of the characters of `value`, in bits per character."""
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def is_random(value: str) -> bool:
    has_digit, has_alpha = any(c.isdigit() for c in value), any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy(value) >= 3.5 and not DOTTED.fullmatch(value)


def literal(m: re.Match[str]) -> bool:
    return is_literal(m["secret"])
