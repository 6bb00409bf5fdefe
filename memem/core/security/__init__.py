"""Secret redaction and threat detection for everything memem stores or sends to an LLM.

Every write (an MCP tool call, the miner, an import, an edit made in Obsidian) goes through
`scan`: secrets become ``[REDACTED:<kind>]`` and the text is refused when it carries a threat
to the model that will later read it. `redact` is the secrets-only half.

The package, by responsibility:

- secrets (`redaction` runs them, strongest first): `tokens` (provider tokens), `keys`
  (generated keys: PEM and PuTTY blocks, TOTP seeds, bearer tokens, bare AWS secrets),
  `assignments` (a literal value under a key-like name in code and config), `connections`
  (connection strings, DSNs, .netrc/.pgpass, CLI passwords), `prose` (secrets named in
  sentences); `values` says which values are secrets at all;
- threats (`threats` runs them): `injection`, `remote_code`, `authority`, `exfiltration`,
  `foreign` (the same classes in other European languages), and `undisguise`, the second look
  at a text whose disguises a skeleton keeps;
- `rules`: what a rule is, its gate (the cheap test that lets it run), the gate combinators;
  `findings`: the `Finding` and `Scan` values.

Every pattern is precompiled and linear: a repetition that can start at many positions is
bounded, so megabytes of hostile text cost a few passes, never a quadratic scan.
"""

from __future__ import annotations

from memem.core.security.findings import Finding, Scan
from memem.core.security.redaction import redact_secrets
from memem.core.security.threats import find_threats

__all__ = ["Finding", "Scan", "redact", "scan"]


def scan(text: str) -> Scan:
    """Redact every secret in `text`, then look for threats in what remains."""
    redacted, redactions = redact_secrets(text)
    return Scan(redacted, redactions, find_threats(redacted))


def redact(text: str) -> str:
    """`text` with every secret replaced exactly as in `scan(text).text`."""
    return redact_secrets(text)[0]
