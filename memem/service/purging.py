"""Purge: the one hard delete (`Store.purge`, and a tombstone that sync brings in).

A purge records the memory's tombstone first (`memem.storage.tombstones`: the record that
stops sync from taking it back from a remote), then removes its file and its index rows. A
crash between the two leaves a tombstone and a file; the next purge or sync of that id
finishes the job, and reconcile drops the rows of a file that is gone.
"""

from __future__ import annotations

import logging
from datetime import datetime

from memem.core import plan
from memem.core.memory import MAX_TITLE_CHARS, format_datetime, normalize_title
from memem.errors import NotFound, TooLarge
from memem.settings import Settings
from memem.storage import events, index, tombstones
from memem.storage.database import Index
from memem.storage.tombstones import Tombstone
from memem.storage.vault import Vault

log = logging.getLogger("memem.service.purging")


def file_of(idx: Index, memory_id: str) -> str | None:
    """The vault file of `memory_id`: indexed or quarantined (an incoming memory the scan
    refused is purged like any other)."""
    conn = idx.connection()
    row = index.get(conn, memory_id)
    if row is not None:
        return row.file
    for name, (held_id, *_rest) in index.quarantined_files(conn).items():
        if held_id == memory_id:
            return name
    return None


def purge(
    vault: Vault,
    idx: Index,
    settings: Settings,
    memory_id: str,
    reason: str,
    at: datetime | str,
    *,
    missing_ok: bool = False,
    file: str | None = None,
) -> Tombstone:
    """Purge the memory `memory_id` (a full id; its vault `file` when the caller knows it);
    NotFound when it has no file, unless `missing_ok` (an incoming tombstone: recorded all
    the same). `at` is when it was purged (an incoming tombstone keeps its own time)."""
    if len(reason) > MAX_TITLE_CHARS:
        raise TooLarge(f"reason is {len(reason):,} characters; the limit is {MAX_TITLE_CHARS}")
    file = file or file_of(idx, memory_id)
    if file is None and not missing_ok:
        raise NotFound(f"no memory with id {memory_id!r}")
    text = plan.scrub(normalize_title(reason)) if reason else ""
    stamp = at if isinstance(at, str) else format_datetime(at)
    stone = tombstones.add(settings.state_dir, Tombstone(memory_id, stamp, text))
    if file is not None:
        vault.path(file).unlink(missing_ok=True)
        with idx.write() as conn:
            index.delete(conn, memory_id)
            index.clear_quarantined(conn, file)
            index.clear_broken(conn, file)
    events.append(settings.events_path, "purge", id=memory_id, reason=text)
    log.info("purged a memory", extra={"id": memory_id})
    return stone
