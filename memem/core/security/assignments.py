"""Secrets given a literal value under a key-like name in code, JSON, YAML, INI, env files,
CLI flags, XML elements and URL queries; and random-looking values beside any key-like name.

Code that names a secret without holding one (``password = getpass()``, ``api_key =
os.environ["X"]``) and placeholders (``${DB_PASSWORD}``, ``<your-key>``) are let through.
"""

from __future__ import annotations

import re
from typing import Final

from memem.core.security.rules import Rule, both, contains, search
from memem.core.security.values import (
    CODE_VALUE,
    LETTER_AND_DIGIT,
    is_literal,
    is_random,
    literal,
)

_DOTTED_WORD: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\s|$)")
_KEYLIKE: Final = re.compile(r"(?:key|token|secret|passw(?:or)?d|pwd|auth|apikey|credential)s?")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_]\w*")


def _unquoted(m: re.Match[str]) -> bool:
    return is_literal(m["secret"]) and not CODE_VALUE.search(m["secret"])


def _yaml_value(m: re.Match[str]) -> bool:
    # `x = name` at the start of a line is Python assigning a variable; env files never put
    # spaces around `=`, so a bare word there is code. After `:` (YAML) it is data.
    variable = m["sep"] == "=" and _IDENTIFIER.fullmatch(m["secret"]) is not None
    attribute = _DOTTED_WORD.match(m["secret"]) is not None  # `settings.SECRET_KEY  # note`
    return _unquoted(m) and not variable and not attribute


def _flag_value(m: re.Match[str]) -> bool:
    value = m["secret"]
    # "the --password option" is prose, `--secret id=x,src=f` a file reference.
    wordy = value.isalpha() and len(value) < 12
    keyish = "=" not in value.rstrip("=")  # base64 padding, not `id=x,src=f`
    return is_literal(value) and not value.startswith("-") and keyish and not wordy


def _keylike_random(m: re.Match[str]) -> bool:
    parts = set(_NOT_ALNUM.split(_CAMEL.sub("_", m["name"]).lower()))
    named = {p for p in parts if _KEYLIKE.fullmatch(p)}
    value = m["secret"]
    if "public" in parts:  # a WireGuard or age public key is meant to be shared
        return False
    # A bare "key" also names cache keys and feature flags: only a mixed-case value counts.
    mixed = value.lower() != value and value.upper() != value
    bare_key = named <= {"key", "keys"} and not parts & {
        "api",
        "app",
        "auth",
        "secret",
        "private",
        "access",
        "master",
        "signing",
    }
    return bool(named) and is_literal(value) and is_random(value) and (mixed or not bare_key)


# Names whose literal value is always a secret. The name must end with the keyword, so
# `PASSWORD_MIN_LENGTH = 12` is a setting about passwords, not one.
_NAME: Final = (
    r"(?P<name>[\w.-]{0,40}?(?:pass(?:word|wd|phrase)|(?<![a-z])pass|pwd|secret(?:[_.-]?key)?|api[_.-]?key"
    r"|(?:access|auth|refresh|session)[_.-]?token|client[_.-]?secret|private[_.-]?key))"
)
# "password": "x" / password = 'x' / connect(password="x"): a quoted literal anywhere.
_QUOTED_VALUE: Final = (
    rf"(?i)(?<![\w.-]){_NAME}[\"']?[ \t]*(?::=|=>|[:=])[ \t]*(?P<q>[\"'])"
    r"(?P<secret>[^\"'\r\n]{1,256})(?P=q)"
)
# .env files and shell prefixes: NAME=value at the start of a line, no spaces.
_ENV: Final = rf"(?im)^[ \t]*(?:export[ \t]+)?{_NAME}=(?P<secret>[^\s\"']{{1,512}})(?=\s|$)"
# YAML, INI, properties: the rest of the line after `name:` / `name =`, minus a comment.
_YAML: Final = (
    rf"(?im)^[ \t]*(?:-[ \t]+)?[\"']?{_NAME}[\"']?[ \t]*(?P<sep>[:=])[ \t]+"
    r"(?P<secret>[^\s\"'#][^\r\n]{0,255}?)(?:[ \t]+#[^\r\n]*)?[ \t]*\r?$"
)
# CLI flags: --password xyz, --api-key=xyz, --db-password "x y".
_FLAG: Final = (
    r"(?i)(?<![\w-])--?(?P<name>(?:[a-z]+-){0,2}(?:password|passwd|pass|secret|token|api-?key"
    r"|auth-token|access-token|client-secret|account-key|access-key|secret-key|sas-token"
    r"|authkey|passout|passin))(?:=|[ \t]+)(?P<q>[\"']?)"
    r"(?P<secret>[^\s\"'][^\s\"']{0,255})(?P=q)(?![^\s;|&)])"
)
# A random-looking value beside any key-like name: GH_TOKEN, X-Auth-Token, ?access_token=.
_KEYLIKE_VALUE: Final = (
    r"(?i)(?<![\w.-])(?P<name>[\w.-]{0,40}?(?:key|token|secret|passw(?:or)?d|pwd|credential"
    r"|auth)[\w-]{0,20}?)[\"']?[ \t]*(?::=|=>|[:=])[ \t]*[\"']?"
    r"(?P<secret>[\w+/.~=-]{16,512})(?![\w+/.~=(\[-])"
)
# Maven settings.xml, Tomcat users, .NET config: <password>x</password>, <apiKey>x</apiKey>.
_XML_ELEMENT: Final = (
    r"(?i)<(?P<name>[\w.:-]{0,40}?(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key))>"
    r"(?P<secret>[^<\s][^<\n]{0,255}?)</"
)
# A URL query parameter: "?access_token=...", "&password=...".
_QUERY: Final = (
    r"(?i)[?&](?P<name>[\w-]{0,30}(?:password|passwd|pwd|secret|token|api_?key|apikey|auth"
    r"|signature))=(?P<secret>[^&\s#\"'<>]{4,512})"
)


def _query_value(m: re.Match[str]) -> bool:
    value = m["secret"]
    return is_literal(value) and (len(value) >= 16 or LETTER_AND_DIGIT.match(value) is not None)


# Gates of the assignment rules. A `_NAME` ends with one of these words, and the rules put an
# optional quote, blanks and `:` or `=` (`:=` and `=>` start with them) after it;
# `_KEYLIKE_VALUE` allows up to 20 more name characters first and needs 16 value ones.
_NAME_END: Final = r"(?:pass(?:word|wd|phrase)?|pwd|secret|key|token)"
_NAMED: Final = contains("key", "token", "pass", "secret", "pwd", folded=True)
_ASSIGNED: Final = both(
    contains("key", "token", "pass", "secret", "pwd", "auth", "credential", folded=True),
    search(
        r"(?:key|token|secret|pass|pwd|credential|auth)[\w-]{0,20}[\"']?"
        r"[ \t]*[:=]"
    ),
)

QUOTED: Final = Rule(
    "",
    re.compile(_QUOTED_VALUE),
    both(_NAMED, _ASSIGNED, search(rf"{_NAME_END}[\"']?[ \t]*[:=][=>]?[ \t]*[\"']")),
    literal,
)
ENV: Final = Rule(
    "", re.compile(_ENV), both(_NAMED, _ASSIGNED, search(rf"{_NAME_END}=")), _unquoted
)
YAML: Final = Rule(
    "",
    re.compile(_YAML),
    both(_NAMED, _ASSIGNED, search(rf"{_NAME_END}[\"']?[ \t]*[:=][ \t]")),
    _yaml_value,
)
FLAG: Final = Rule(
    "",
    re.compile(_FLAG),
    both(
        _NAMED,
        search(
            r"-(?:[a-z]+-){0,2}(?:password|passwd|pass|secret|token|api-?key|auth-token"
            r"|access-token|client-secret|account-key|access-key|secret-key|sas-token"
            r"|authkey|passout|passin)(?:=|[ \t])"
        ),
    ),
    _flag_value,
)
XML_ELEMENT: Final = Rule("", re.compile(_XML_ELEMENT), both(_NAMED, contains("</")), literal)
KEYLIKE_VALUE: Final = Rule(
    "high-entropy-secret",
    re.compile(_KEYLIKE_VALUE),
    both(
        _ASSIGNED,
        search(
            r"(?:key|token|secret|passw(?:or)?d|pwd|credential|auth)[\w-]{0,20}[\"']?[ \t]*"
            r"[:=][=>]?[ \t]*[\"']?[\w+/.~=-]{16}"
        ),
    ),
    _keylike_random,
)
QUERY: Final = Rule(
    "",
    re.compile(_QUERY),
    both(
        contains("=", folded=True),
        search(
            r"[?&][\w-]{0,30}(?:password|passwd|pwd|secret|token|api_?key|apikey|auth|signature)="
        ),
    ),
    _query_value,
)
