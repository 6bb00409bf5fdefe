"""Passwords of connection strings and logins: the password of any
``scheme://user:password@host``, key=value DSNs (libpq, ADO.NET, JDBC, ODBC), .netrc and
.pgpass lines, passwords handed to common CLIs, and a user and a password written together."""

from __future__ import annotations

import re
from typing import Final

from memem.core.security.rules import Rule, both, contains, line_window, search
from memem.core.security.values import CODE_VALUE, LETTER_AND_DIGIT, is_literal, literal

# The password runs to the last "@" before the host, so "p@ss" in "u:p@ss@host" goes whole.
_URL_PASSWORD: Final = (
    r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"[\]]{0,64}:(?P<secret>[^\s'\"/]{1,128}?)@"
    r"(?=[\w.\[\]:-]{1,253}(?:[/?#\s'\",;)]|$))"
)
# "log in with admin / secret": a user and a password either side of a slash.
_USER_SLASH: Final = (
    r"(?i)\b(?:admin|root|user(?:name)?|login|sa|postgres|ubuntu|pi)[ \t]+/[ \t]+"
    r"(?P<secret>[^\s\"'`]{5,127}[^\s\"'`.,;:!?)\]])"
)
# Passwords handed to common CLIs: mysql -pX, redis-cli -a X, curl -u user:X, sshpass -p X,
# openssl -passout pass:X.
_CLI_PASSWORDS: Final = (
    (
        "mysql",
        r"\b(?:mysql|mysqldump|mariadb|mysqladmin)\b[^\n]{0,120}?[ \t]-p(?P<secret>[^\s'\"-][^\s'\"]{2,127})",
    ),
    ("redis-cli", r"\bredis-cli\b[^\n]{0,120}?[ \t]-a[ \t]+['\"]?(?P<secret>[^\s'\"]{3,128})"),
    (
        "curl",
        r"\bcurl\b[^\n]{0,200}?[ \t](?:-u|--user)[ \t]+['\"]?[^\s:'\"]{1,64}:(?P<secret>[^\s'\"]{3,128})",
    ),
    ("sshpass", r"\bsshpass[ \t]+-p[ \t]*['\"]?(?P<secret>[^\s'\"]{3,128})"),
    ("pass:", r"(?<![\w-])pass:(?P<secret>[^\s'\"]{3,128})"),
    (
        "ldap",
        r"\bldap(?:search|modify|add|delete|passwd|whoami|compare|modrdn|exop)\b[^\n]{0,200}?[ \t]-w"
        r"[ \t]+['\"]?(?P<secret>[^\s'\"-][^\s'\"]{2,127})",
    ),
    # keytool and jarsigner: -storepass X, -srcstorepass X, -keypass X ("-storepass:env V" is not)
    (
        "pass",
        r"(?i)(?<![\w-])-(?:src|dest|new)?(?:store|key)pass[ \t]+['\"]?(?P<secret>[^\s'\"-][^\s'\"]{2,127})",
    ),
)
# "login: admin, pass X", "user deploy / pass X", "username ops and password X"
_USER_PASS: Final = (
    r"(?i)\b(?:login|user(?:name)?|usr|account)(?:[ \t]{0,5}[:=])?[ \t]{1,5}[^\s,;/]{1,64}[ \t]{0,5}"
    r"(?:[,;/]|and)?[ \t]{0,5}(?:pass(?:word)?|pwd|pw)(?:[ \t]{0,5}[:=])?[ \t]{1,5}['\"]?"
    r"(?P<secret>[^\s'\"`]{2,126}"
    r"[^\s'\"`.,;:!?)\]])"
)
# .netrc: "machine host login user password secret", on one line or several.
_NETRC: Final = (
    r"(?i)\b(?:machine[ \t]+\S{1,253}|default)(?:\s+(?:login|account|port)[ \t]+\S{1,256}){0,3}"
    r"\s+password[ \t]+(?P<secret>\S{1,256})"
)
# .pgpass: host:port:database:user:password, the port a number or "*".
_PGPASS: Final = (
    r"(?<![^\s`'\"(])[\w.*-]{1,253}:(?:\d{1,5}|\*):[^:\s]{1,63}:[^:\s]{1,63}:"
    r"(?P<secret>[^\s`'\"]{1,255}[^\s`'\".,;)])(?=[.,;)]?(?:[\s`'\"]|$))"
)
# key=value DSNs (libpq, ADO.NET, JDBC, ODBC): "host=db user=u password=p", "Server=x;Pwd=p;".
_DSN: Final = (
    r"(?i)(?<![\w-])(?P<name>password|passwd|pwd)[ \t]*=[ \t]*"
    r"(?P<secret>\"[^\"\r\n]{1,256}\"|'[^'\r\n]{1,256}'|\{[^}\r\n]{1,256}\}|[^\s;'\"]{1,256})"
)
_DSN_CONTEXT: Final = re.compile(
    r"(?i)(?:host|server|data[ \t]+source|address|user(?:[ \t]*id)?|uid|username|dbname|database"
    r"|initial[ \t]+catalog|port|sslmode)[ \t]*="
)


def _dsn_value(m: re.Match[str]) -> bool:
    value = m["secret"].strip("\"'{}")
    if not value or not is_literal(value) or CODE_VALUE.search(m["secret"]):
        return False
    lo, hi = line_window(m.string, m.start(), m.end(), 300)
    context = _DSN_CONTEXT.search(m.string, lo, hi) is not None
    return context or LETTER_AND_DIGIT.match(value) is not None


URL_PASSWORD: Final = Rule(
    "connection-string-password", re.compile(_URL_PASSWORD), contains("://"), literal
)
NETRC: Final = Rule(
    "password-assignment", re.compile(_NETRC), contains("password", folded=True), literal
)
CLI_PASSWORDS: Final = tuple(
    Rule("password-assignment", re.compile(pattern), contains(word, folded=True), literal)
    for word, pattern in _CLI_PASSWORDS
)
USER_PASS: Final = Rule(
    "password-assignment",
    re.compile(_USER_PASS),
    both(
        contains("login", "user", "usr", "account", folded=True),
        contains("pass", "pw", folded=True),
    ),
    literal,
)
USER_SLASH: Final = Rule(
    "password-assignment",
    re.compile(_USER_SLASH),
    contains("/", folded=True),
    lambda m: LETTER_AND_DIGIT.match(m["secret"]) is not None and is_literal(m["secret"]),
)
PGPASS: Final = Rule("password-assignment", re.compile(_PGPASS), search(r":(?:\d|\*)"), literal)
DSN: Final = Rule(
    "connection-string-password",
    re.compile(_DSN),
    search(r"(?:passwd|pwd|password)[ \t]*="),
    _dsn_value,
)
