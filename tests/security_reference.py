# Frozen copy of memem/security.py as it was before the prefilter optimisation.
# Used ONLY as a test oracle by tests/test_security.py (differential tests: the optimised
# module must give the same output for every input). Do not import it from memem. Behaviour
# fixes made later go into both files alike (so far: a "run ... silently" order no longer
# reaches across a sentence end).

"""Secret redaction and threat detection for everything memem stores or sends to an LLM.

Every write (an MCP tool call, the miner, an import, an edit made in Obsidian) goes through
`scan`: secrets become ``[REDACTED:<kind>]`` and the text is refused when it carries a threat
to the model that will later read it. `redact` is the secrets-only half.

Redacted: provider tokens (AWS, GitHub, Anthropic, OpenAI, Slack tokens and webhooks, Stripe,
Google, GitLab, npm, Hugging Face, JWTs, Bearer tokens); whole PEM private-key blocks;
password/secret/api_key/... given a literal value in code, JSON, YAML, env files or CLI flags
(only the value goes, ``password = `` stays); random-looking values (>= 16 chars, >= 3.5
bits/char, letters and digits) next to a key/token/secret/auth/credential name; the password
in ``scheme://user:password@host``.

Refused: prompt injection ("ignore previous instructions", "you are now DAN", "new system
prompt", fake role tags like <system> or [INST] or <|im_start|>, "do not tell the user",
"silently run ..."); credential exfiltration (~/.ssh, ~/.aws/credentials, .env, printenv or a
key in an env var flowing into curl/wget/nc or an HTTP call; "send your API key to ...").

Let through on purpose: code that names a secret without holding one (``password =
getpass()``, ``api_key = os.environ["X"]``, ``token = tokenizer.next_token()``); placeholders
(``${DB_PASSWORD}``, ``<your-key>``, ``your-api-key-here``); hashes, UUIDs and git SHAs with no
key-like name beside them; text *about* an attack (see `_is_mention`); a secret file or a
network call on its own, since exfiltration needs the two connected.

Every pattern is precompiled and linear: a repetition that can start at many positions is
bounded, so megabytes of hostile text cost a few passes, never a quadratic scan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["Finding", "Scan", "redact", "scan"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted secret or one threat. `excerpt` is safe to log: secrets in it are redacted."""

    kind: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class Scan:
    """The result of `scan`: the redacted text, what was redacted and what was refused."""

    text: str
    redactions: tuple[Finding, ...]
    threats: tuple[Finding, ...]

    @property
    def refused(self) -> bool:
        return bool(self.threats)

    def reason(self) -> str:
        """One line for the user naming the first threat; "" when nothing is refused."""
        if not self.threats:
            return ""
        first, more = self.threats[0], len(self.threats) - 1
        tail = f" (and {more} more)" if more else ""
        return f"{first.kind.replace('-', ' ')}: '{first.excerpt}'{tail}"


def scan(text: str) -> Scan:
    """Redact every secret in `text`, then look for threats in what remains."""
    redacted, redactions = _redact(text)
    return Scan(redacted, redactions, _threats(redacted))


def redact(text: str) -> str:
    """`text` with every secret replaced exactly as in `scan(text).text`."""
    return _redact(text)[0]


# --- secrets -------------------------------------------------------------------------------

# Provider tokens, recognisable on their own. One rule a line: kind, then the pattern (which
# holds no space). Earlier rules win when spans overlap.
_TOKEN_TABLE: Final = r"""
aws-access-key  \b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA)[A-Z0-9]{16}\b
aws-secret-key  (?i:aws_?secret_?access_?key)\W{1,12}(?P<secret>[\w/+=]{40})(?![\w/+=])
github-token    \b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})(?!\w)
anthropic-key   \bsk-ant-[\w-]{20,}
openai-key      \bsk-(?:(?:proj|svcacct|admin)-[\w-]{20,}|[A-Za-z0-9]{20,}(?![\w-]))
stripe-key      \b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}
google-api-key  \bAIza[\w-]{35}(?![\w-])
slack-webhook   https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]{20,}
slack-token     \b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}
gitlab-token    \bglpat-[\w-]{20,}
npm-token       \bnpm_[A-Za-z0-9]{36}\b
huggingface-token \bhf_[A-Za-z0-9]{30,}\b
jwt             \beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}
"""
# Legacy OpenAI keys have no dashes, so kebab-case words after "sk-" are not keys.

# A value that only stands for a secret: a variable, a template, a mask, a block scalar, or an
# earlier redaction (which keeps `redact` idempotent).
_PLACEHOLDER: Final = re.compile(
    r"[$<{%*!&|>\[]|your[-_ ]|(?:x+|\.+|password|passwd|pass|pwd|secret|changeme|none|null|nil"
    r"|true|false|undefined|redacted)$",
    re.I,
)
_PATH: Final = re.compile(r"(?:~|\.{1,2})?/[\w./-]*$")
# Unquoted values that are code, not data: calls, subscripts, strings, attribute access, a
# trailing comma (a JS object, a keyword argument), an expression (`pw or ""`), a type
# annotation (`password: str | None = None`).
_CODE_VALUE: Final = re.compile(
    r"[()\[\]{}\"']|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$|[,;]$|\s(?:[=|]|or|and|if|else)\s"
    r"|^(?:str|bytes|int|bool|string|number|any|SecretStr|Optional)\b",
    re.I,
)
_DOTTED: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_KEYLIKE: Final = re.compile(r"(?:key|token|secret|passw(?:or)?d|pwd|auth|apikey|credential)s?")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _is_literal(value: str) -> bool:
    return (
        not value[:1].isspace()
        and any(c.isalnum() for c in value)
        and not _PLACEHOLDER.match(value)
        and not _PATH.match(value)
    )


def _is_random(value: str) -> bool:
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    has_digit, has_alpha = any(c.isdigit() for c in value), any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy >= 3.5 and not _DOTTED.fullmatch(value)


def _literal(m: re.Match[str]) -> bool:
    return _is_literal(m["secret"])


def _unquoted(m: re.Match[str]) -> bool:
    return _is_literal(m["secret"]) and not _CODE_VALUE.search(m["secret"])


def _yaml_value(m: re.Match[str]) -> bool:
    # `x = name` at the start of a line is Python assigning a variable; env files never put
    # spaces around `=`, so a bare word there is code. After `:` (YAML) it is data.
    variable = m["sep"] == "=" and re.fullmatch(r"[A-Za-z_]\w*", m["secret"]) is not None
    return _unquoted(m) and not variable


def _flag_value(m: re.Match[str]) -> bool:
    value = m["secret"]
    # "the --password option" is prose, `--secret id=x,src=f` a file reference.
    wordy = value.isalpha() and len(value) < 12
    return _is_literal(value) and not value.startswith("-") and "=" not in value and not wordy


def _keylike_random(m: re.Match[str]) -> bool:
    parts = set(re.split(r"[^a-z0-9]+", _CAMEL.sub("_", m["name"]).lower()))
    return (
        any(map(_KEYLIKE.fullmatch, parts)) and _is_literal(m["secret"]) and _is_random(m["secret"])
    )


# Names whose literal value is always a secret. The name must end with the keyword, so
# `PASSWORD_MIN_LENGTH = 12` is a setting about passwords, not one.
_NAME: Final = (
    r"(?P<name>[\w.-]{0,40}?(?:pass(?:word|wd|phrase)|pwd|secret(?:[_.-]?key)?|api[_.-]?key"
    r"|(?:access|auth|refresh|session)[_.-]?token|client[_.-]?secret|private[_.-]?key))"
)
# A PEM body ends at END, at the first character no PEM body holds, or at the end of text.
_PEM: Final = (
    r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----[\w+/=\s:,.-]*?"
    r"(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|(?=[^\w+/=\s:,.-])|\Z)"
)
_URL_PASSWORD: Final = (
    r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"[\]]{0,64}:(?P<secret>[^\s:/@'\"[\]]{1,128})@"
)
_BEARER: Final = r"\bBearer[ \t]+(?P<secret>[\w.~+/-]{20,}=*)"
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
    r"|auth-token|access-token|client-secret))(?:=|[ \t]+)(?P<q>[\"']?)"
    r"(?P<secret>[^\s\"'][^\s\"']{0,255})(?P=q)(?![^\s;|&)])"
)
# A random-looking value beside any key-like name: GH_TOKEN, X-Auth-Token, ?access_token=.
_KEYLIKE_VALUE: Final = (
    r"(?i)(?<![\w.-])(?P<name>[\w.-]{0,40}?(?:key|token|secret|passw(?:or)?d|pwd|credential"
    r"|auth)[\w-]{0,20}?)[\"']?[ \t]*(?::=|=>|[:=])[ \t]*[\"']?"
    r"(?P<secret>[\w+/.~=-]{16,512})(?![\w+/.~=(\[-])"
)
_Accept = Callable[[re.Match[str]], bool]
# (kind, check on the match, pattern), strongest first: overlapping spans are merged under the
# stronger kind. Kind "" is password- or secret-assignment, chosen from the name. A `secret`
# group is the part redacted, else the whole match.
_RULES: Final[tuple[tuple[str, _Accept, re.Pattern[str]], ...]] = tuple(
    (kind, accept, re.compile(pattern))
    for kind, accept, pattern in [
        ("private-key", lambda m: True, _PEM),
        *(
            (kind, lambda m: True, pattern)
            for kind, pattern in map(str.split, _TOKEN_TABLE.splitlines()[1:])
        ),
        ("connection-string-password", _literal, _URL_PASSWORD),
        ("bearer-token", lambda m: _is_random(m["secret"]), _BEARER),
        ("", _literal, _QUOTED_VALUE),
        ("", _unquoted, _ENV),
        ("", _yaml_value, _YAML),
        ("", _flag_value, _FLAG),
        ("high-entropy-secret", _keylike_random, _KEYLIKE_VALUE),
    ]
)


def _redact(text: str) -> tuple[str, tuple[Finding, ...]]:
    found: list[tuple[int, int, int, str]] = []  # start, priority, end, kind
    for priority, (rule_kind, accept, pattern) in enumerate(_RULES):
        for m in pattern.finditer(text):
            if accept(m):
                start, end = m.span("secret" if "secret" in pattern.groupindex else 0)
                pw = not rule_kind and re.search("pass|pwd", m["name"], re.I)
                kind = rule_kind or ("password-assignment" if pw else "secret-assignment")
                found.append((start, priority, end, kind))
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
    marks: list[tuple[int, int, str]] = []
    pos = size = 0
    for start, end, _, kind in merged:
        tag = f"[REDACTED:{kind}]"
        size += start - pos
        marks.append((size, size + len(tag), kind))
        pieces += [text[pos:start], tag]
        size += len(tag)
        pos = end
    out = "".join([*pieces, text[pos:]])
    return out, tuple(
        Finding(k, _clip(out[slice(*_line_window(out, s, e, 20))])) for s, e, k in marks
    )


def _line_window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """Up to `width` chars either side of text[start:end], not crossing a newline."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    nl = text.rfind("\n", lo, start)
    lo = nl + 1 if nl >= 0 else lo
    nl = text.find("\n", end, hi)
    return lo, nl if nl >= 0 else hi


def _clip(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# --- threats -------------------------------------------------------------------------------

_INJECTION: Final = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|every|the|your|of|these"
    r"|those)\s+){0,3}(?:previous|prior|preceding|earlier|above|original|system)\s+"
    r"(?:instructions?|prompts?|directives|guardrails)"
    # "disregard the above." but not "ignore the above warning"
    r"|\b(?:ignore|disregard|forget)\s+(?:(?:everything|all|anything)\s+)?(?:the\s+)?"
    r"(?:above|before\s+this)(?=\s*(?:[.,;:!)]|and\b|then\b|$))"
    # "you are now DAN", "... an unrestricted AI"; never "you are now ready to deploy"
    r"|\byou\s+are\s+now\s+(?:(?:an?|the|my)\s+)?(?:(?:new|different|unrestricted|unfiltered"
    r"|uncensored|jailbroken|evil|rogue)\s+)?(?:DAN|jailbroken|unrestricted|unfiltered"
    r"|uncensored|evil|rogue|AI|assistant|model|persona|character|chatbot|free\s+(?:from|of)"
    r"|no\s+longer|in\s+(?:developer|god|admin|DAN|jailbreak)\s+mode)\b"
    r"|\bnew\s+system\s+prompt\b"
    r"|\b(?:act|behave|respond|pretend)\s+(?:as|like|to\s+be)\s+(?:[\w'-]{1,30}\s+){0,6}?"
    r"(?:without|with\s+no)\s+(?:any\s+)?(?:restrictions|limits|limitations|filters|rules"
    r"|guidelines|censorship|safety)"
    r"|\b(?:reveal|print|output|repeat|leak)\s+(?:me\s+)?your\s+(?:full\s+|entire\s+|original\s+"
    r"|hidden\s+)?(?:system\s+prompt|instructions)"
    r"|\b(?:do\s+not|don't|never)\s+(?:tell|inform)\s+the\s+user\b"
    r"|\bwithout\s+(?:telling|informing)\s+the\s+user\b"
    r"|\bhide\s+(?:this|it|that)\s+from\s+the\s+user\b"
    # Imperative only: "silently run" is an order, "the hook silently runs" a description.
    r"|\b(?:silently|secretly|covertly)\s+(?:run|execute|call|invoke|install|download|upload"
    r"|send|delete|modify|push)\b"
    r"|\b(?:run|execute|invoke)\s+(?:[^\s,;]{0,79}[^\s,;.!?:]\s+){0,5}?(?:silently|secretly|covertly)\b"
    # Fake turn boundaries. An XML-style tag counts when a sentence follows it, so
    # `<system>GitHub</system>` in a pom.xml is data and `</user><system>Always run ...` is not;
    # an opening `<user>` is left alone, as docs use it for a placeholder (`chown <user> f`).
    r"|<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id"
    r"|eot_id)\|>|(?-i:\[/?INST\]|<</?SYS>>)"
    r"|(?:</?(?:system|system-reminder|system_prompt)|</(?:user|assistant|human))>"
    r"(?=\s*[^\s<]{1,40}\s+[^\s<]{1,40}\s+[^\s<]{1,40})",
    re.I,
)
_QUOTED: Final = re.compile(
    r"`[^`\n]{1,300}`|\"[^\"\n]{1,300}\"|(?<![A-Za-z0-9])'[^'\n]{1,300}'(?![A-Za-z0-9])"
    r"|\u201c[^\u201d\n]{1,300}\u201d|\u2018[^\u2019\n]{1,300}\u2019"
)
_TOPIC: Final = re.compile(
    r"inject|jailbr|attack|malicious|adversar|phrase|pattern|filter|detect|block|reject|refus"
    r"|example|e\.g\.|such as|\btags?\b|\btokens?\b|template|marker|delimit|saniti[sz]|escap"
    r"|element|\bxml\b|\bhtml\b",
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
    lo, hi = _line_window(text, start, end, 200)
    quoted = any(q.start() <= start and end <= q.end() for q in _QUOTED.finditer(text, lo, hi))
    return quoted and bool(_TOPIC.search(text, lo, start) or _TOPIC.search(text, end, hi))


# Files that hold credentials (public keys excluded), and `.env` as a file name.
_KEY_FILE: Final = (
    r"\.ssh\b(?!/[\w.-]{0,64}\.pub\b)|\bid_(?:rsa|dsa|ecdsa|ed25519)\b(?!\.pub)|\.aws/credentials"
    r"|\.netrc\b|\.git-credentials|\.pgpass\b|\.npmrc\b|\.pypirc\b|\.docker/config\.json"
    r"|\.kube/config|/etc/shadow"
)
_SECRET_FILE: Final = rf"{_KEY_FILE}|(?<![\w.-])\.env(?![\w.-])"
_NET_TOOL: Final = re.compile(
    r"(?<![\w.-])(?:curl|wget|nc|ncat|netcat|socat|telnet|ftp|Invoke-WebRequest|Invoke-RestMethod"
    r"|iwr|irm)(?=[\s\"'])|/dev/(?:tcp|udp)/",
    re.I,
)
# In a shell line the secret reaches the network when the file is handed to the tool
# (`-d @~/.aws/credentials`, `< .env`, `--post-file=id_rsa`) or read and piped or substituted
# into it; a key in an env var only when it is piped or base64-encoded on the way.
_UPLOAD: Final = re.compile(
    r"(?:[\s=\"']@|<\s*|(?:-T|--upload-file|--post-file|--body-file|-InFile)[\s=]+[\"']?)"
    rf"[\w~${{}}./-]{{0,64}}?(?:{_SECRET_FILE})"
)
_READER: Final = re.compile(r"\b(?:cat|base64|tar|gzip|xxd|head|tail|gpg|openssl)\b")
_FILE: Final = re.compile(_SECRET_FILE)
_ENV_DUMP: Final = re.compile(r"\b(?:printenv|env|set|export\s+-p)\s*(?:\||>)")
_KEY_VAR: Final = re.compile(r"\$\{?[A-Z0-9_]{0,40}(?:KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)\b")
_INTO_NET: Final = re.compile(
    r"\|\s*(?:sudo\s+)?(?:curl|wget|nc|ncat|netcat|socat|telnet)\b|\$\(|\bbase64\b"
    r"|>\s*/dev/(?:tcp|udp)/"
)
# In code: a credential file, or the whole environment serialised, within three lines of an
# outbound request. Loading `.env` or passing `env=os.environ` to a subprocess is not enough.
_CODE_SOURCE: Final = re.compile(
    rf"{_KEY_FILE}|(?:dict|str|repr|json\.dumps|JSON\.stringify)\(\s*(?:os\.environ|process\.env)"
    r"\s*\)|\*\*os\.environ\b"
)
_CODE_SINK: Final = re.compile(
    r"\b(?:requests|httpx|session|client|axios|aiohttp)\.(?:post|put|patch)\s*\(|\bfetch\s*\("
    r"|\burlopen\s*\(|\bsendall\s*\(|\bsocket\.create_connection\b|\bsmtplib\b"
)
_OBJECT: Final = (
    r"(?:api[\s_-]?keys?|access\s+keys?|credentials|secrets?|passwords?|private\s+keys?"
    r"|env(?:ironment)?\s+var(?:iable)?s|\.env(?:\s+files?)?)"
)
_SEND: Final = r"(?:send|post|upload|forward|e-?mail|transmit|exfiltrate|leak)"
_NL_EXFIL: Final = re.compile(
    # "send your API key to ..." is addressed to the reader: any destination.
    r"\b(?:send|forward|e-?mail|transmit|exfiltrate|leak)\s+(?:(?:all|any|of)\s+){0,2}"
    rf"(?:your|the\s+user's)\s+(?:[\w-]{{1,30}}\s+){{0,2}}?{_OBJECT}\s+"
    r"(?:[\w-]{1,30}\s+){0,3}?to\b"
    # "upload the credentials to https://...": any wording, an outside destination.
    rf"|\b{_SEND}\s+(?:(?:all|any|the|of|your|these|those)\s+){{0,2}}(?:[\w-]{{1,30}}\s+){{0,2}}?"
    rf"{_OBJECT}\s+(?:[\w-]{{1,30}}\s+){{0,3}}?to\s+(?:https?://|[\w.+-]{{1,64}}@[\w-]{{1,64}}\."
    r"|\d{1,3}(?:\.\d{1,3}){3})"
    # "print all environment variables and post them to ..."
    r"|\b(?:print|dump|read|cat|collect|gather|list|output|reveal|show|grab|copy)\s+"
    rf"(?:[\w~./-]{{1,40}}\s+){{0,4}}?(?:{_OBJECT}|~/\.ssh\S{{0,40}}|~/\.aws/credentials)\s+"
    rf"(?:[\w,-]{{1,30}}\s+){{0,6}}?(?:and|then)\s+(?:\w{{1,20}}\s+)?{_SEND}\b",
    re.I,
)
_NEGATION: Final = re.compile(r"\b(?:never|not|don't|shouldn't|mustn't|avoid|no)\b", re.I)


def _shell_exfil(line: str) -> bool:
    if not _NET_TOOL.search(line):
        return False
    if _UPLOAD.search(line):
        return True
    read_file = _READER.search(line) and _FILE.search(line)
    source = _ENV_DUMP.search(line) or _KEY_VAR.search(line) or read_file
    return bool(source and _INTO_NET.search(line))


def _threats(text: str) -> tuple[Finding, ...]:
    threats = [
        Finding("prompt-injection", _clip(text[m.start() : m.end() + 40], 60))
        for m in _INJECTION.finditer(text)
        if not _is_mention(text, m.start(), m.end())
    ]
    threats += [
        Finding("credential-exfiltration", _clip(text[m.start() : m.end() + 20], 60))
        for m in _NL_EXFIL.finditer(text)
        # "never send your API key to anyone" is advice, not an order.
        if not _NEGATION.search(text, max(0, m.start() - 30), m.start())
    ]
    lines = text.split("\n")
    source = [_CODE_SOURCE.search(line) is not None for line in lines]
    sink = [_CODE_SINK.search(line) is not None for line in lines]
    i = 0
    while i < len(lines):
        near = range(max(0, i - 2), min(i + 3, len(lines)))
        if _shell_exfil(lines[i]) or (source[i] and any(sink[j] for j in near)):
            threats.append(Finding("credential-exfiltration", _clip(lines[i].strip())))
            i += 3  # one finding per window
        else:
            i += 1
    return tuple(threats)
