"""Steering what memem recalls: feedback on a memory, restore, retention (a `Store` mixin).

    feedback(id, verdict, note)  helpful | unhelpful: the utility store only (the ranking
                                 term); wrong: deprecated, `deprecated_reason` "wrong: NOTE";
                                 outdated: deprecated, `valid_to` now (`outdated_reason`
                                 NOTE), as a superseded fact
    restore(id)                  undoes wrong, outdated, forget and archive; the memory's
                                 record of use starts afresh
    retention_preview()          what `retention_run` would archive, and what is immune
    retention_run()              `status: archived` in the file, which stays where it is

Every memory file is rewritten by the saver (`Saver.rewrite`: one save unit, the vault's
atomic writes and the index row together); the record of use and the verdicts live in
`<state>/utility.sqlite3` (`memem.storage.utility`), never in the memory files. Deleting stays
`memem purge ID`'s alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from memem.core import fence, plan
from memem.core.memory import MAX_TITLE_CHARS, Memory, format_datetime, normalize_title
from memem.core.utility import RECENT_DAYS, VERDICTS, Record, archive_reason, immunity
from memem.errors import InvalidInput, NotFound
from memem.storage import events, index
from memem.storage.ledger import iso
from memem.storage.utility import RESTORE, Utility

if TYPE_CHECKING:
    from memem.service.saving import Saver
    from memem.settings import Settings
    from memem.storage.index import Index

log = logging.getLogger("memem.service.feedback")


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a verdict or a restore did: the memory as it is now and what changed ("" when
    only the record of use changed)."""

    memory: Memory
    verdict: str
    changed: str = ""

    def to_dict(self) -> dict[str, Any]:
        m = self.memory
        return {
            "id": m.id,
            "title": m.title,
            "verdict": self.verdict,
            "status": m.status,
            "valid_to": format_datetime(m.valid_to) if m.valid_to else None,
            "changed": self.changed,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory retention looked at: why it would be archived (or why it is immune)."""

    id: str
    title: str
    reason: str
    injected: int
    used: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "reason": self.reason,
            "injected": self.injected,
            "used": self.used,
        }


@dataclass(frozen=True, slots=True)
class Retention:
    archive: tuple[Candidate, ...] = ()
    immune: tuple[Candidate, ...] = ()
    archived: tuple[str, ...] = field(default=())  # after a run: the ids archived

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": [c.to_dict() for c in self.archive],
            "immune": [c.to_dict() for c in self.immune],
        }


class Steering:
    """Feedback, restore and retention, for `Store` (whose attributes these are)."""

    if TYPE_CHECKING:
        settings: Settings
        index: Index
        _saver: Saver

        def resolve(self, memory_id: str) -> str: ...

    def feedback(self, memory_id: str, verdict: str, note: str = "") -> Feedback:
        """Record a verdict on a memory: helpful, unhelpful (the ranking learns), wrong
        (deprecated, with the note as the reason) or outdated (deprecated, `valid_to` now)."""
        if verdict not in VERDICTS:
            raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        note = " ".join(str(note).split())
        if len(note) > MAX_TITLE_CHARS:
            raise InvalidInput(f"note is {len(note):,} characters; the limit is {MAX_TITLE_CHARS}")
        # One plain line: no terminal escapes, bidi overrides or zero-width characters reach
        # the frontmatter, Obsidian or a terminal that shows the reason.
        note = fence.line(note, MAX_TITLE_CHARS)
        full = self.resolve(memory_id)
        note = plan.scrub(note) if note else ""  # secrets redacted before any file or store
        now = self._saver.clock()
        changed = ""
        if verdict == "wrong":
            reason = normalize_title(f"wrong: {note}" if note else "wrong")[:MAX_TITLE_CHARS]
            if self.rewrite(
                full,
                lambda m: _with_extra(
                    m.evolve(status="deprecated", valid_to=m.valid_to or now, updated=now),
                    deprecated_reason=reason,
                ),
            )[1]:
                changed = "deprecated"
        elif (
            verdict == "outdated"
            and self.rewrite(
                full,
                # True once, not now: like a superseded fact, out of recall with its end date.
                lambda m: _with_extra(
                    m.evolve(status="deprecated", valid_to=now, updated=now),
                    outdated_reason=note or None,
                ),
            )[1]
        ):
            changed = "deprecated, valid_to set"
        with Utility.open(self.settings.state_dir) as store:
            store.record_feedback(full, verdict, note)
        events.append(self.settings.events_path, "feedback", id=full, verdict=verdict)
        return Feedback(self._current(full), verdict, changed)

    def restore(self, memory_id: str) -> Feedback:
        """Undo a `wrong`, an `outdated`, a `forget` or an archive: the memory is active again,
        without `valid_to`, and its record of use starts afresh."""
        full = self.resolve(memory_id)
        memory = self._current(full)
        undone: list[str] = []
        if memory.status != "active":
            undone.append(memory.status)
        if memory.valid_to is not None:
            undone.append("valid_to")
        now = self._saver.clock()
        if undone:
            self.rewrite(
                full,
                lambda m: _with_extra(
                    m.evolve(status="active", valid_to=None, updated=now),
                    deprecated_reason=None,
                    outdated_reason=None,
                    archived_reason=None,
                ),
            )
        with Utility.open(self.settings.state_dir) as store:
            store.record_feedback(full, RESTORE, at=iso(now.timestamp()))
        events.append(self.settings.events_path, "restore", id=full, undone=undone)
        return Feedback(self._current(full), RESTORE, ", ".join(undone))

    def retention_preview(self, *, now: datetime | None = None) -> Retention:
        """What a retention run would archive and why, and the memories whose record alone
        would archive them but that are immune (L0, saved by hand, used recently, an immune
        tag, judged helpful)."""
        now = now or self._saver.clock()
        since = iso((now - timedelta(days=RECENT_DAYS)).timestamp())
        with Utility.open(self.settings.state_dir) as store:
            records = store.records()
        rows = index.get_many(self.index.connection(), list(records))
        archive: list[Candidate] = []
        immune: list[Candidate] = []
        for memory_id in sorted(rows):
            m, record = rows[memory_id].memory, records[memory_id]
            reason = archive_reason(record)
            if not m.active or not reason:
                continue
            why = immunity(
                record,
                layer=m.layer,
                source_type=m.source_type,
                tags=m.tags,
                immune_tags=self.settings.immune_tags,
                since=since,
            )
            (immune if why else archive).append(_candidate(m, why or reason, record))
        return Retention(tuple(archive), tuple(immune))

    def retention_run(self, *, now: datetime | None = None) -> Retention:
        """Archive what `retention_preview` lists: `status: archived` in the file (which stays
        where it is); out of automatic recall, found by explicit search, `restore` undoes it."""
        preview = self.retention_preview(now=now)
        done = []
        for c in preview.archive:
            reason = normalize_title(c.reason)[:MAX_TITLE_CHARS]
            stamp = self._saver.clock()
            self.rewrite(
                c.id,
                lambda m, r=reason, t=stamp: _with_extra(  # type: ignore[misc]
                    m.evolve(status="archived", updated=t), archived_reason=r
                ),
            )
            done.append(c.id)
            events.append(self.settings.events_path, "archive", id=c.id, reason=reason)
        if done:
            log.info("retention archived memories", extra={"count": len(done)})
        return Retention(preview.archive, preview.immune, tuple(done))

    def rewrite(self, memory_id: str, change: Callable[[Memory], Memory]) -> tuple[Memory, bool]:
        """The memory with this full id rewritten as `change` makes it (`Saver.rewrite`: its
        file and row in one save unit): the memory as it is now, and whether it changed."""
        return self._saver.rewrite(memory_id, change)

    def _current(self, memory_id: str) -> Memory:
        row = index.get(self.index.connection(), memory_id)
        if row is None:
            raise NotFound(f"no memory with id {memory_id!r}")
        return row.memory


def _with_extra(memory: Memory, **keys: str | None) -> Memory:
    """`memory` with these frontmatter keys set (None: removed)."""
    extra = dict(memory.extra)
    for key, value in keys.items():
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    return memory if extra == dict(memory.extra) else memory.evolve(extra=extra)


def _candidate(memory: Memory, reason: str, record: Record) -> Candidate:
    return Candidate(memory.id, memory.title, reason, record.injected, record.used)
