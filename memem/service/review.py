"""The user's review of quarantined memories: the list (`memem quarantine list`) and the
release that overrules the security scan for the very content reviewed.

Which files are quarantined, and why, is the index's record (set by reconcile and import);
which hashes were listed and released is kept under the state dir (`memem.storage.quarantine`).
"""

from __future__ import annotations

from memem.core.memory import check_id
from memem.errors import BrokenFile, InvalidInput, NotFound
from memem.service.reconcile import Reconciler
from memem.storage import events, index, quarantine
from memem.storage.quarantine import QuarantinedMemory
from memem.storage.vault import FileStat


def quarantined(keeper: Reconciler) -> list[QuarantinedMemory]:
    """The review list (`memem quarantine list`): vault files kept out of recall because
    the security scan refuses their content, each with the hash of the refused content
    and an excerpt of what the file holds. The hashes shown are remembered as reviewed:
    `release` lets only that content go."""
    held = index.quarantined_files(keeper.index.connection())
    listed: list[QuarantinedMemory] = []
    for file, (memory_id, reason, digest, _, _) in held.items():
        try:
            read = keeper.vault.read(file)
        except BrokenFile as exc:
            shown = f"(cannot be read now: {exc.reason})"
        else:
            shown = quarantine.excerpt(f"{read.memory.title}: {read.memory.content}")
            if read.hash != digest:  # changed since: a reconcile quarantines it anew
                shown = "(changed since it was quarantined) " + shown
                digest = read.hash
        listed.append(QuarantinedMemory(memory_id, file, reason, digest, shown))
    if listed:
        quarantine.record_reviewed(keeper.settings.state_dir, {q.id: q.hash for q in listed})
    return listed


def release(keeper: Reconciler, memory_id: str) -> QuarantinedMemory:
    """The user overrules the scan for a quarantined memory (full id or a unique prefix)
    after reviewing it: it is indexed and recalled from then on. Only the content that was
    quarantined, and listed if it was listed, is released, and nothing is reconciled
    first: a file changed since is refused (`quarantine.CHANGED`) and the next reconcile
    quarantines the new content. The release holds for this content only: an edit of the
    file later is scanned again."""
    memory_id, is_prefix = check_id(memory_id)
    held = index.quarantined_files(keeper.index.connection())
    matches = [
        (file, record)
        for file, record in held.items()
        if record[0] == memory_id or (is_prefix and record[0].startswith(memory_id))
    ]
    if not matches:
        raise NotFound(f"no quarantined memory with id {memory_id}")
    if len({record[0] for _, record in matches}) > 1:
        raise NotFound(f"id prefix {memory_id} is ambiguous; give more of it")
    seen = quarantine.reviewed(keeper.settings.state_dir)
    reads: list[tuple[QuarantinedMemory, FileStat]] = []
    for file, (qid, reason, digest, _, _) in matches:
        try:
            read = keeper.vault.read(file)
        except BrokenFile:
            raise InvalidInput(quarantine.CHANGED) from None
        if read.hash != digest or seen.get(qid, digest) != digest:
            raise InvalidInput(quarantine.CHANGED)
        reads.append((QuarantinedMemory(qid, file, reason, digest), read.stat))
    with keeper.index.write() as conn:
        for q, st in reads:
            quarantine.record_release(keeper.settings.state_dir, q.id, q.hash)
            # `ingest` reads the file again and indexes it only if it still hashes to
            # the released content: a change in between is quarantined, not released.
            keeper.ingest(conn, st, index.file_record(conn, q.file), {q.id: q.hash})
    released = reads[0][0]
    events.append(keeper.settings.events_path, "release", id=released.id)
    return released
