"""What a scan finds: one `Finding` a redacted secret or a threat, and the `Scan` result."""

from __future__ import annotations

from dataclasses import dataclass


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
