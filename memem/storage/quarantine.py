"""Quarantine: vault files whose content the security scan refuses, and the user's releases.

A memory that arrives by a vault edit or an import and carries a threat (prompt injection,
exfiltration) is not indexed as a memory: it is recorded in the index's `quarantine` table
(file, id, reason, content hash), so search, the slice and the hooks never see it, and its
file is left exactly as it is. `memem quarantine release ID` is the user overruling a false
positive after review. A release is remembered here, OUTSIDE the derived index (which
`rebuild-index` recreates), keyed by the memory's id and the file's content hash: an edit
after the release changes the hash, and the new content is scanned again.

The releases file is `<state>/quarantine-releases.json`: `{"<id>": "<sha256 of the file>"}`.

A release is tied to the content the user reviewed, never to whatever the file holds when they
run `release`: `quarantine list` (the review) shows each file's hash and an excerpt and
remembers the hashes it showed in `<state>/quarantine-reviewed.json` (same shape). A release
goes through only when the file's bytes still hash to the quarantine record's hash (release
does not reconcile first) and, once the memory was listed, to the hash that was listed: a file
changed after the review is refused, and the next reconcile quarantines the new content for
a new review.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from memem.core.text import clip
from memem.storage.files import write_atomic

RELEASES_FILE: Final = "quarantine-releases.json"
REVIEWED_FILE: Final = "quarantine-reviewed.json"
EXCERPT_CHARS: Final = 160
CHANGED: Final = (
    "the file changed since it was quarantined: review it again with `memem quarantine list`"
)
# Control and format characters (ANSI escapes, bidi overrides) in an excerpt printed to a
# terminal: the text is hostile by definition.
_UNPRINTABLE: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


@dataclass(frozen=True, slots=True)
class QuarantinedMemory:
    """One quarantined vault file: the memory's id, its file name, why it was refused, the
    hash of the content that was refused and a short excerpt of it (for the review)."""

    id: str
    file: str
    reason: str
    hash: str = ""
    excerpt: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "file": self.file,
            "reason": self.reason,
            "hash": self.hash,
            "excerpt": self.excerpt,
        }


def excerpt(text: str) -> str:
    """One printable line of at most EXCERPT_CHARS characters from a quarantined text."""
    return clip(_UNPRINTABLE.sub("?", text), EXCERPT_CHARS)


def releases(state_dir: Path) -> dict[str, str]:
    """id -> content hash of every release; an unreadable file releases nothing."""
    return _read(state_dir / RELEASES_FILE)


def record_release(state_dir: Path, memory_id: str, content_hash: str) -> None:
    """Remember that the user released `memory_id` with exactly this content (atomic, 0600)."""
    _write(state_dir, RELEASES_FILE, {**releases(state_dir), memory_id: content_hash})


def reviewed(state_dir: Path) -> dict[str, str]:
    """id -> content hash last shown by `quarantine list`."""
    return _read(state_dir / REVIEWED_FILE)


def record_reviewed(state_dir: Path, shown: dict[str, str]) -> None:
    """Remember the content hashes a review listed (id -> hash)."""
    data = reviewed(state_dir)
    if all(data.get(k) == v for k, v in shown.items()):
        return
    _write(state_dir, REVIEWED_FILE, {**data, **shown})


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def _write(state_dir: Path, name: str, data: dict[str, str]) -> None:
    text = json.dumps(data, indent=1, sort_keys=True)
    write_atomic(state_dir / name, text.encode("utf-8"))
