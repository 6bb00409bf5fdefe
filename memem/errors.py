"""memem's one exception tree.

    MememError                  anything memem raises on purpose
    ├── ConfigError             a bad setting or an unusable state dir / vault
    ├── InvalidInput            a bad argument: an empty query, an unknown layer, a bad id
    │   ├── SecurityError       content refused by the security scan (prompt injection, exfiltration)
    │   └── TooLarge            content or a file over a size limit; never silently truncated
    ├── NotFound                no memory with that id (or an ambiguous short id)
    ├── BrokenFile              a vault file that cannot be parsed; it is skipped, never rewritten
    │   └── Quarantined         a vault file whose content the security scan refuses
    ├── SyncError               a sync channel cannot be set up or git failed (one-line reason,
    │                           URLs without credentials)
    └── ExtractionError         a mining backend failed on one chunk of a transcript
        ├── TransientError      worth retrying later: 429, 500, 529, a timeout, a reset
        │   └── MalformedReply  a reply outside the contract (HTML, cut-off or wrong JSON)
        └── PermanentError      not worth retrying: a reply outside the contract, a 4xx,
                                anything unknown

Front-ends translate at their edge: the CLI prints one line and exits non-zero, the MCP server
returns a tool error, hooks exit 0 silently and log, the daemon logs and carries on.
"""

from __future__ import annotations


class MememError(Exception):
    """Base class of every error memem raises on purpose."""


class ConfigError(MememError):
    """A setting, the state dir or the vault is unusable."""


class InvalidInput(MememError):
    """An argument is malformed or out of range."""


class SecurityError(InvalidInput):
    """Content refused by the security scan; the message says why."""


class TooLarge(InvalidInput):
    """Content or a file exceeds a size limit."""


class NotFound(MememError):
    """No memory matches the id, or a short id matches more than one."""


class BrokenFile(MememError):
    """A vault file cannot be parsed. It is reported, never deleted or rewritten."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Quarantined(BrokenFile):
    """A vault file (an edit, an import) whose content the security scan refuses: kept out of
    the index and of recall, the file untouched, until the user releases it."""

    def __init__(self, path: str, reason: str, memory_id: str) -> None:
        super().__init__(path, reason)
        self.memory_id = memory_id


class SyncError(MememError):
    """Sync over git failed or cannot start: the remote does not answer, a URL carries a
    password, git is missing. The message is one line and never holds credentials."""


class ExtractionError(MememError):
    """A mining backend failed on one chunk of a transcript."""


class TransientError(ExtractionError):
    """Worth retrying later. `retry_after` is the server's hint in seconds, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ExtractionError):
    """Not worth retrying: the same input would fail the same way."""


class MalformedReply(TransientError):
    """A model reply that is not what was asked for: an HTML page, cut-off JSON, the wrong
    shape, nothing. Usually a glitch that the same request survives next time; the miner
    bounds the attempts before it dead-letters the session."""
