"""Provenance: where a mined memory came from. Pure.

A pointer, never text: the session and the uuids of the transcript entries a memory was
extracted from. Memory files may sync to other machines, so the excerpt itself is read from
the local transcript when someone asks (`memem.service.provenance.source`).

    frontmatter:  provenance: {"session": "5f0c...", "entries": ["a1b2...", "c3d4..."]}

A session and an entry are identifiers (`[A-Za-z0-9_-]{1,64}`, what Claude Code writes: uuids);
a pointer has at most MAX_ENTRIES entries. Anything else is refused by `check` with the reason:
the edge that reads a file (memem.storage.vault) drops it with a log line, and the memory is
read without it.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import json
import re

from memem.core.value import Value
from memem.errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, Final

MAX_ENTRIES: Final = 32
MAX_ID_CHARS: Final = 64
_ID: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_CHARS}}}")
# The one form `render` writes (compact JSON, which YAML reads as a flow mapping): the markdown
# fast path reads it without PyYAML.
_QUOTED_ID: Final = rf'"[A-Za-z0-9_-]{{1,{MAX_ID_CHARS}}}"'
RENDERED: Final = re.compile(
    rf'\{{"session": {_QUOTED_ID}, "entries": \[(?:{_QUOTED_ID}(?:, {_QUOTED_ID})*)?\]\}}'
)


class Provenance(Value):
    """The session a memory was mined from and its source entries (transcript uuids, in
    transcript order, distinct, at most MAX_ENTRIES). Built only from checked values:
    `InvalidInput` otherwise."""

    __slots__ = ("entries", "session")

    session: Final[str]
    entries: Final[tuple[str, ...]]

    def __init__(self, session: str, entries: Iterable[str] = ()) -> None:
        self.session = _identifier(session, "session")
        found: dict[str, None] = {}
        for entry in entries:
            found.setdefault(_identifier(entry, "entry"), None)
        if len(found) > MAX_ENTRIES:
            raise InvalidInput(f"{len(found)} provenance entries (at most {MAX_ENTRIES})")
        self.entries = tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "entries": list(self.entries)}


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"provenance {what} must be 1-{MAX_ID_CHARS} letters, digits, '-' or '_', got {shown}"
        )
    return value


def check(value: object) -> Provenance:
    """The pointer in a frontmatter value (a mapping with `session` and `entries`); raises
    InvalidInput with the reason when it is anything else (text, extra keys, too many
    entries, an entry that is not an identifier)."""
    if not isinstance(value, dict):
        raise InvalidInput(f"provenance must be a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in ("session", "entries"))
    if unknown:
        raise InvalidInput(f"provenance has unknown keys: {', '.join(unknown)[:80]}")
    entries = value.get("entries", [])
    if not isinstance(entries, list):
        raise InvalidInput(f"provenance entries must be a list, got {type(entries).__name__}")
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(f"{len(entries)} provenance entries (at most {MAX_ENTRIES})")
    return Provenance(value.get("session"), entries)  # type: ignore[arg-type]


def lenient(value: object) -> Provenance | None:
    """`check`, or None when the value is not a pointer (the reader logs why: `check`)."""
    if value is None:
        return None
    try:
        return check(value)
    except InvalidInput:
        return None


def render(pointer: Provenance) -> str:
    """The frontmatter value: compact JSON, a YAML flow mapping (`RENDERED`)."""
    return json.dumps(pointer.to_dict())


def from_json(text: str) -> Provenance:
    """A pointer as the index stores it (`render`'s text, checked when the row was written):
    rebuilt without checking again, as `Memory.trusted` rebuilds the rest of the row (the
    hook reads many rows)."""
    data = json.loads(text)
    pointer = object.__new__(Provenance)
    object.__setattr__(pointer, "session", data["session"])
    object.__setattr__(pointer, "entries", tuple(data["entries"]))
    return pointer


def cite(session: str, uuids: Sequence[str], sources: Iterable[int]) -> Provenance | None:
    """The pointer for a memory whose model cited `sources`: 1-based numbers of the entries
    it was shown, `uuids[n - 1]` the uuid of entry n. Numbers out of range and entries
    without a usable uuid are skipped; the first MAX_ENTRIES distinct ones are kept, in
    transcript order. None when nothing usable remains (or the session is not an id)."""
    if not _ID.fullmatch(session):
        return None
    picked: dict[int, str] = {}
    for number in sources:
        if 1 <= number <= len(uuids) and _ID.fullmatch(uuids[number - 1]):
            picked.setdefault(number, uuids[number - 1])
    entries = dict.fromkeys(picked[n] for n in sorted(picked))
    if not entries:
        return None
    return Provenance(session, list(entries)[:MAX_ENTRIES])


def merge(old: Provenance | None, new: Provenance | None) -> Provenance | None:
    """A duplicate found again: the same session's entries are added to the old pointer's (up
    to MAX_ENTRIES, the first kept); another session's pointer leaves the old one as it is."""
    if old is None or new is None:
        return old or new
    if old.session != new.session:
        return old
    entries = dict.fromkeys((*old.entries, *new.entries))
    return Provenance(old.session, list(entries)[:MAX_ENTRIES])
