"""One save as a recoverable unit: its index rows, its files, its COMMIT, its journal note.

Inside one IMMEDIATE transaction every index row is written first (with the hash and size of
the bytes about to be written), then the files, the new memory's first: its atomic rename is
the commit point. Then COMMIT. A failure before that rename rolls the transaction back and
leaves nothing on disk (the temp file is removed), so a save reported as failed left no file
and a retry cannot make a duplicate. A failure after it (a later file, COMMIT on a full state
disk) cannot undo a memory that is already in the vault, which is the truth: the unit reports
`indexed` False and reconcile indexes the file. A process killed between the rename and
COMMIT leaves the same state, and a retry must not save the fact twice: each unit notes its
files under `<state>/saving/<pid>.<random>` before the first rename and drops the note after
COMMIT; `interrupted` finds the notes whose writer is dead, for the next save to reconcile
first (`memem.service.reconcile`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeAlias

from memem.core.graph import Edge
from memem.core.memory import Memory
from memem.storage import index
from memem.storage.files import write_atomic
from memem.storage.index import Index
from memem.storage.vault import FileStat, Vault, alive, content_hash

log = logging.getLogger("memem.storage.unit")

# Under the state dir: one note per save between its first file write and its COMMIT.
JOURNAL_DIR: Final = "saving"

# What the service layer names a connection (it never imports sqlite3).
Connection: TypeAlias = sqlite3.Connection


class Unit:
    """The writes of one save, staged while the transaction is open: `stage` writes a
    memory's index row now and keeps its file for after the body (the first staged is the
    commit point). `conn` is the transaction's connection, for the reads the save decides on.
    `indexed` is False once the files are in but the index could not commit."""

    def __init__(self, conn: Connection, vault: Vault) -> None:
        self.conn = conn
        self.vault = vault
        self.files: list[tuple[str, bytes]] = []
        self.indexed = True

    def stage(self, memory: Memory, file: str, data: bytes, fingerprint: str) -> None:
        """The row's mtime is set once the file exists; until then it matches no file, so a
        crash in between leaves a row that reconcile re-reads from the file."""
        self.vault.path(file)  # refuse a bad name before anything is written
        index.upsert(
            self.conn,
            memory,
            file=file,
            hash=content_hash(data),
            mtime_ns=0,
            size=len(data),
            fingerprint=fingerprint,
        )
        self.files.append((file, data))

    def link(self, added: Iterable[Edge], removed: Iterable[Edge]) -> None:
        index.add_edges(self.conn, ((e.src, e.dst, e.type, e.score) for e in added))
        keys = [e.key() for e in removed]
        if keys:
            index.remove_edges(self.conn, keys)

    def _written(self, st: FileStat) -> None:
        index.set_file_stat(self.conn, st.name, st.mtime_ns, st.size)


@contextmanager
def unit(idx: Index, vault: Vault, state_dir: Path) -> Iterator[Unit]:
    """The transaction of one save (see the module docstring): the index rows the body
    stages, then the staged files (the first rename is the commit point), then COMMIT."""
    conn = idx.connection()
    index.begin(conn)
    staged = Unit(conn, vault)
    journal: Path | None = None
    try:
        yield staged
        if staged.files:
            journal = _journal(state_dir, [name for name, _ in staged.files])
            name, data = staged.files[0]
            staged._written(vault.write_bytes(name, data))
    except BaseException:
        index.rollback(conn)
        if journal:
            journal.unlink(missing_ok=True)
        raise
    # Past the commit point: the memory is in the vault, whatever happens to the rest.
    for name, data in staged.files[1:]:
        try:
            staged._written(vault.write_bytes(name, data))
        except (OSError, sqlite3.Error):
            log.warning(
                "a file of this save was not updated; reconcile repairs the index",
                extra={"file": name},
                exc_info=True,
            )
    try:
        index.commit(conn)
    except sqlite3.Error:
        log.warning(
            "saved to the vault, but the index could not commit; reconcile will index it",
            exc_info=True,
        )
        staged.indexed = False
        if conn.in_transaction:
            index.rollback(conn)
    if journal and staged.indexed:
        journal.unlink(missing_ok=True)
    elif journal:
        # No live writer's pid: the next save, in this process too, reconciles first.
        journal.rename(journal.with_name(f"unindexed.{journal.name}"))


def _journal(state_dir: Path, names: Sequence[str]) -> Path:
    """Note the files a save is about to write, under the writer's pid: if the process dies
    between a rename and COMMIT, the next save (in any process) finds the note and
    reconciles first, so the written memory is indexed before anything is compared with it."""
    path = state_dir / JOURNAL_DIR / f"{os.getpid()}.{os.urandom(6).hex()}"
    # Durable before the first rename: after a crash, the note is what makes the next save
    # reconcile. (A temp a crash left here reads as a dead writer's note: one more reconcile.)
    write_atomic(path, ("\n".join(names) + "\n").encode("utf-8"))
    return path


def interrupted(state_dir: Path) -> list[Path]:
    """The notes of saves that died between writing a file and committing its index rows
    (their writer is gone, or they were renamed `unindexed.`)."""
    try:
        return [p for p in (state_dir / JOURNAL_DIR).iterdir() if not _writer_alive(p.name)]
    except FileNotFoundError:
        return []


def _writer_alive(note: str) -> bool:
    # A note being written is write_atomic's temp `.<pid>.<hex>.<pid>.<random>.tmp`: the same
    # pid leads once the dot is stripped, so a live writer's temp is never taken for a dead note.
    pid = note.lstrip(".").split(".", 1)[0]
    return pid.isdigit() and alive(int(pid))
