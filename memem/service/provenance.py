"""Provenance, the shell: attaching a mined memory's pointer, and reading its source back.

    attach(store, memory_id, pointer)       the miner, after each save (a duplicate found again
                                            extends its pointer: memem.core.provenance.merge)
    source(memory, state_dir=..., session_dirs=...) -> Source | None
                                            `memem get`, MCP `memory_get`

A memory file holds the pointer only (it may sync to other machines); the excerpt is read from
the local transcript each time it is asked for. Transcripts grow to gigabytes, so `source`
never reads one whole: it maps the file and searches for the cited entries' uuids (each
after the previous one, since a memory cites entries in transcript order), reads only the
lines it finds, and gives up past MAX_SCAN_BYTES. The text is untrusted (a transcript holds
whatever was pasted into a session): it is scrubbed by `memem.core.security.redact`, clipped,
and fenced (`memem.core.fence.wrap`) like recalled memories are.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from memem.core import fence, security
from memem.core import provenance as pointers
from memem.core.memory import Memory
from memem.core.provenance import Provenance
from memem.core.slice import CLOSE, OPEN
from memem.core.text import clip
from memem.core.transcript import MAX_LINE_BYTES
from memem.core.transcript import parse as parse_transcript
from memem.errors import NotFound
from memem.storage import miner_state

if TYPE_CHECKING:
    from memem.service.store import Store

# How far into a transcript `source` searches: past this, an entry is reported as not found.
MAX_SCAN_BYTES: Final = 1024 * 1024 * 1024
ENTRY_CHARS: Final = 1_000
EXCERPT_CHARS: Final = 4_000
NOT_HERE: Final = "transcript not on this machine"


def attach(store: Store, memory_id: str, pointer: Provenance) -> Memory | None:
    """Give the memory `memory_id` this pointer, merged with the one it has (`merge`): its
    file is rewritten only when that changes something. None when there is no such memory."""
    try:
        memory, _ = store.rewrite(
            memory_id, lambda m: m.evolve(provenance=pointers.merge(m.provenance, pointer))
        )
    except NotFound:
        return None
    return memory


@dataclass(frozen=True, slots=True)
class Source:
    """What a memory's pointer leads to on this machine. `excerpt` is the cited entries'
    text, redacted and fenced ("" when none could be read); `note` says what is missing
    ("" when nothing is)."""

    session: str
    entries: tuple[str, ...]
    excerpt: str
    transcript: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "entries": list(self.entries),
            "excerpt": self.excerpt,
            "transcript": self.transcript,
            "note": self.note,
        }


def source(
    memory: Memory,
    *,
    state_dir: Path,
    session_dirs: Sequence[Path] = (),
    max_scan: int = MAX_SCAN_BYTES,
) -> Source | None:
    """The source excerpt of a mined memory, or None when it has no provenance. The
    transcript is the one the miner read the session from (its state in `state_dir`), else
    `<session>.jsonl` in a project folder of `session_dirs`. Never raises for a missing,
    unreadable or hostile transcript: `note` says so."""
    pointer = memory.provenance
    if pointer is None:
        return None
    path = _locate(pointer.session, state_dir, session_dirs)
    if path is None:
        return Source(pointer.session, pointer.entries, "", None, NOT_HERE)
    try:
        found, scanned_all = _read_entries(path, pointer.entries, max_scan)
    except OSError as exc:
        note = f"transcript cannot be read: {exc.strerror or exc}"
        return Source(pointer.session, pointer.entries, "", path, note)
    parts = [found[e] for e in pointer.entries if e in found]
    missing = len(pointer.entries) - len(parts)
    note = ""
    if not parts and not pointer.entries:
        note = "no entries were cited"
    elif missing:
        where = "" if scanned_all else f" (searched the first {max_scan // 2**20:,} MiB)"
        note = f"{missing} of {len(pointer.entries)} entries not found in the transcript{where}"
    excerpt = fence.wrap(clip("\n\n".join(parts), EXCERPT_CHARS, one_line=False), OPEN, CLOSE)
    return Source(pointer.session, pointer.entries, excerpt if parts else "", path, note)


def _locate(session: str, state_dir: Path, session_dirs: Sequence[Path]) -> str | None:
    known = miner_state.transcript_of(state_dir / "miner.sqlite3", session)
    if known is not None and os.path.isfile(known):
        return known
    for root in session_dirs:
        try:
            projects = [e.path for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for project in projects:
            candidate = os.path.join(project, f"{session}.jsonl")
            if os.path.isfile(candidate):
                return candidate
    return None


def _read_entries(path: str, wanted: Sequence[str], max_scan: int) -> tuple[dict[str, str], bool]:
    """The shown text of each entry of `wanted` found in the transcript at `path` (uuid ->
    text), and whether the whole file was searched. Reads only the lines it finds."""
    found: dict[str, str] = {}
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0 or not wanted:
            return found, True
        limit = min(size, max_scan)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            hint = 0
            for uuid in wanted:
                for start, end in _lines_with(data, uuid, hint, limit):
                    shown = _shown(data[start:end], uuid)
                    if shown is not None:  # else a decoy: the uuid quoted in another record
                        found[uuid] = shown
                        hint = end
                        break
    return found, limit == size


# Lines quoting an entry's uuid that are not that entry (a tool result holding a transcript's
# JSON) looked at per entry, at most: past them the entry is reported as not found. Each is
# parsed (up to MAX_LINE_BYTES), so this bounds the work a hostile transcript can cause.
MAX_DECOYS: Final = 4


def _lines_with(data: mmap.mmap, uuid: str, hint: int, limit: int) -> Iterator[tuple[int, int]]:
    """The lines (start, end) that quote this uuid as a record's: searched from `hint` (the
    previous entry's end) to `limit`, then from the start to `hint`; at most MAX_DECOYS + 1."""
    needles = [f'"uuid":"{uuid}"'.encode(), f'"uuid": "{uuid}"'.encode()]
    given = 0
    for low, high in ((hint, limit), (0, min(hint, limit))):
        for needle in needles:
            at = data.find(needle, low, high)
            while at >= 0 and given <= MAX_DECOYS:
                start = data.rfind(b"\n", 0, at) + 1
                end = data.find(b"\n", at)
                end = len(data) if end < 0 else end
                given += 1
                yield start, end
                at = data.find(needle, end, high)


def _shown(line: bytes, uuid: str) -> str | None:
    """One entry as the excerpt shows it: "[User 2026-11-21T05:35] text", redacted and
    clipped; None when the line is not that record (a uuid quoted in some text)."""
    if len(line) > MAX_LINE_BYTES:
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("uuid") != uuid:
        return None
    messages = parse_transcript(line + b"\n").messages
    text = "\n\n".join(m.text for m in messages) or "(no text: a tool call or its result)"
    role = str(record.get("type") or "entry").capitalize()
    stamp = record.get("timestamp")
    when = f" {stamp[:16]}" if isinstance(stamp, str) else ""
    head = fence.line(f"[{role}{when}]", 40)
    return f"{head} {clip(security.redact(fence.visible(text)), ENTRY_CHARS, one_line=False)}"
