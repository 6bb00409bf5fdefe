"""Generated keys found by their shape or their neighbourhood: PEM and PuTTY private keys,
TOTP seeds, bearer tokens, and AWS secret keys near "aws" or as random as a generated key."""

from __future__ import annotations

import re
from typing import Final

from memem.core.security.rules import Rule, always, contains, search
from memem.core.security.values import BARE_KEY_BITS, entropy, is_literal, is_random

# A PEM body ends at END (it may be JSON-escaped, "\\n" for its line ends, as in a GCP
# service-account file), at the first character no PEM body holds, or at the end of text.
_PEM: Final = (
    r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----[\w+/=\s:,.\\-]*?"
    r"(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|(?=[^\w+/=\s:,.\\-])|\Z)"
)
_BEARER: Final = r"\bBearer[ \t]+(?P<secret>[\w.~+/-]{20,}=*)"
# An AWS secret key in prose: 40 characters of mixed-case base64 near "aws" or an access key id.
_AWS_SECRET_NEAR: Final = r"(?<![\w/+=])(?P<secret>[A-Za-z0-9/+]{40})(?![\w/+=])"
_TAG: Final = re.compile(r"\[REDACTED:[\w-]{0,40}\]")
_AWS_CONTEXT: Final = re.compile(r"(?i)aws|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|secret")


def _aws_secret_near(m: re.Match[str]) -> bool:
    value = m["secret"]
    mixed = value.lower() != value and value.upper() != value
    if not (mixed and is_random(value)):
        return False
    # Without context, only a value as random as a generated key (~5 bits a character; base64
    # of prose stays near 4.3, a git SHA is one case) is taken for one: a 40-character key
    # pasted into a sentence ("we rotated key Qm3v...") must not reach a file name.
    if entropy(value) >= BARE_KEY_BITS:
        return True
    # The context is looked for last: on a long line it is a long search, and a text of many
    # candidates (a base64 dump) must not pay it for each.
    # Context is the same line or the two before it, not a count of characters, so that
    # redacting a long key earlier on the line cannot bring the context into reach.
    lo = m.start()
    for _ in range(3):
        lo = max(0, m.string.rfind("\n", max(0, m.start() - 2000), lo))
    # An earlier redaction's tag ("[REDACTED:secret-assignment]") is no context.
    return _AWS_CONTEXT.search(_TAG.sub("", m.string[lo : m.start()])) is not None


# A TOTP / 2FA seed: base32 (16-64 characters, or in groups of four) near the word for it.
_TOTP: Final = (
    r"(?i:totp|2fa|mfa|otp|seed|authenticator|two-factor)[^\n]{0,60}?(?<![A-Za-z0-9])"
    r"(?P<secret>[A-Z2-7]{16,64}|[A-Z2-7]{4}(?:[ ][A-Z2-7]{4}){3,15})=*(?![A-Za-z0-9])"
)
# A PuTTY .ppk file: the private part is the base64 block after "Private-Lines: N", then its MAC.
_PUTTY: Final = (
    r"Private-Lines:[ \t]*\d{1,4}[ \t]*\r?\n(?:[A-Za-z0-9+/=]{1,128}[ \t]*\r?\n){0,256}"
    r"[A-Za-z0-9+/=]{0,128}(?:Private-MAC:[ \t]*[0-9a-fA-F]{0,128})?"
)


PRIVATE_KEY: Final = Rule("private-key", re.compile(_PEM), contains("-----BEGIN"), always)
AWS_SECRET: Final = Rule(
    "aws-secret-key",
    re.compile(_AWS_SECRET_NEAR),
    search(r"[a-z0-9/+]{40}"),
    _aws_secret_near,
)
BEARER: Final = Rule(
    "bearer-token", re.compile(_BEARER), contains("Bearer"), lambda m: is_random(m["secret"])
)
TOTP: Final = Rule(
    "totp-seed",
    re.compile(_TOTP),
    contains("totp", "2fa", "mfa", "otp", "seed", "authenticator", "two-factor", folded=True),
    lambda m: len(set(m["secret"])) > 5 and is_literal(m["secret"]),
)
PUTTY: Final = Rule("private-key", re.compile(_PUTTY), contains("Private-Lines:"), always)
