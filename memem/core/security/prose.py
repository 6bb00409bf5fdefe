"""Secrets named in prose: "the db password is hunter2!x", "pw: ...", "aws secret is <40
chars>", and the same in the main European languages ("das Passwort ist x")."""

from __future__ import annotations

import re
from typing import Final

from memem.core.security.rules import Rule, contains
from memem.core.security.values import CODE_VALUE, DOTTED, LETTER_AND_DIGIT, is_literal, is_random

# "password" in the main European languages, as the skeleton spells them (no accents, "ł" as
# "l"): German, French, Spanish, Portuguese, Dutch, Polish, Swedish/Norwegian/Danish.
_FOREIGN_PASSWORD: Final = (
    r"passwort|kennwort|mot[ \t]+de[ \t]+passe|contrasena|clave|senha|wachtwoord|haslo"
    r"|losenord|passord|adgangskode|parola[ \t]+d'ordine"
)


# Prose: "password Tr0ub4dor&3xyz", "the db password is hunter2!x", "pw: ...", "aws secret is
# <40 chars>". Trailing punctuation ends the sentence, not the secret.
def _prose(names: str, verbs: str) -> str:
    """A secret named in prose: one of `names`, then the value, or words and one of `verbs`."""
    return (
        rf"(?i)(?<![A-Za-z0-9-])(?P<name>{names})(?![\w-])"
        # "password: x", "password x", "password for the router was x", "password got changed
        # to x". The value right after the name is tried before one further on, so a redaction
        # further on cannot change which one is found (`redact` stays idempotent).
        r"(?:[ \t]*[:=][ \t]*|[ \t]+|(?:[ \t]+[\w.,@()/'-]{1,40}){0,10}?[ \t]*(?:[:=]|[ \t](?:"
        rf"{verbs}))[ \t]+)[\"'`]?"
        r"(?P<secret>(?=[^\s\"'`]{0,254}\d)[^\s\"'`]{3,255}?[^\s\"'`.,;:!?)\]])"
        r"(?=[.,;:!?)\]]*(?:[\s\"'`]|$|&\w{1,30}=))"
    )


_PROSE: Final = _prose(
    r"pass(?:words?|wd|phrase)|pwd|pw|secret(?:[ \t]+(?:access[ \t]+)?key)?|api[ \t_-]?key"
    r"|access[ \t_-]?key|(?:auth|access|api|bot|bearer)?[ \t_-]?token|credentials?"
    r"|(?:hmac|signing|encryption|license|licence|master|private)[ \t_-]?key",
    r"is|was|are|reads|(?:reset|changed|set|updated)[ \t]+to",
)
# The same in other languages: "das Passwort ist x", "le mot de passe est x", "a senha é x".
_PROSE_FOREIGN: Final = _prose(
    _FOREIGN_PASSWORD,
    r"ist|lautet|war|est|etait|es|era|fue|e|is|was|wordt|jest|to|brzmi|ar|er",
)
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_VERSION: Final = re.compile(r"v?\d+(?:\.\d+)+(?:[-+.]\w+)*|\d+(?:\.\d+)*[a-z]{1,3}", re.I)


_PASSWORD_PROSE: Final = re.compile(rf"p(?!rivate)|{_FOREIGN_PASSWORD}", re.I)


def _prose_value(m: re.Match[str]) -> bool:
    value, name = m["secret"], m["name"].lower()
    if not is_literal(value) or CODE_VALUE.search(value) or _VERSION.fullmatch(value):
        return False
    if value.lower().startswith(("http://", "https://", "redacted")) or DOTTED.fullmatch(value):
        return False
    if _PASSWORD_PROSE.match(name):  # letters and digits
        return len(value) >= 6 and LETTER_AND_DIGIT.match(value) is not None
    if _UUID.fullmatch(value):
        return True  # an API key in UUID form (Heroku, many SaaS)
    # A bare "key" names cache keys and flags too: only a mixed-case random value counts.
    mixed = value.lower() != value and value.upper() != value
    return len(value) >= 16 and is_random(value) and (mixed or not name.endswith("key"))


PROSE: Final = Rule(
    "",
    re.compile(_PROSE),
    contains("pass", "pw", "secret", "key", "token", "credential", folded=True),
    _prose_value,
)
PROSE_FOREIGN: Final = Rule(
    "",
    re.compile(_PROSE_FOREIGN),
    contains(
        *("passe", "wort", "woord", "contrase", "clave", "senha", "haslo", "losenord"),
        *("passord", "adgangskode", "parola"),
        folded=True,
    ),
    _prose_value,
)
