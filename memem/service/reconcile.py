"""Keeping the index in line with the vault: the one owner of that job.

The vault is the truth and the index is derived from it. `Reconciler` brings the index in
line after edits made elsewhere (Obsidian, an editor, another machine: `reconcile`, one file
at a time), recreates it (`rebuild`, `rebuild_index`, the one-pass build at `open` of an
empty or damaged index), reconciles first when a save died between its file and its COMMIT
(`heal`), and recomputes the graph from the index (`memem.service.linking`). The Store calls
it; it knows nothing of the Store.

A rebuild reads and vets every file once (in worker processes for large vaults), loads all
rows in one transaction (FTS5 and the term statistics built in one pass each), then links the
whole index at once (`memem.service.linking.rebuild_edges`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from memem.core import conflict, graph
from memem.core.graph import Edge
from memem.core.memory import Memory
from memem.errors import BrokenFile, Quarantined
from memem.service import workers
from memem.service.linking import Progress, rebuild_edges
from memem.settings import Settings
from memem.storage import events, index, projects, quarantine, retrieval, unit
from memem.storage.index import Index
from memem.storage.unit import Connection
from memem.storage.vault import FileStat, Vault, vet

log = logging.getLogger("memem.service.reconcile")

# Below this many files forking readers costs more than it saves.
PARALLEL_FILES = 2_000
# Files read per chunk: a worker's unit of work, and the step of the progress shown.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    broken: int = 0
    unchanged: int = 0
    quarantined: int = 0


PAUSE_EVERY = 256


def _no_pause() -> None:
    pass


class Reconciler:
    """Keeps `index` in line with `vault`; `settings` names the state dir (quarantine
    releases, journal notes) and the event log."""

    def __init__(self, vault: Vault, idx: Index, settings: Settings) -> None:
        self.vault = vault
        self.index = idx
        self.settings = settings
        # Project aliases (`memem.storage.projects`): the index stores the canonical name.
        self.aliases = projects.Aliases(settings.state_dir)

    def canonical(self, memory: Memory) -> Memory:
        """`memory` under its project's canonical name (a file keeps the name it was written
        with; its row does not)."""
        known = self.aliases.get()
        return memory.evolve(project=known[memory.project]) if memory.project in known else memory

    def at_open(self) -> None:
        """Run when a store opens: a damaged index was moved aside (rebuild it); a new or
        emptied one over a vault that has memories is built in one pass, so it holds the
        graph `rebuild-index` builds, not one linked file by file."""
        conn = self.index.connection()
        if self.index.recovered:
            self._rebuild_recovered()
        elif (
            index.doc_count(conn) == 0
            and not index.broken_files(conn)
            and not index.quarantined_files(conn)
            and any(self.vault.scan())
        ):
            self.rebuild_index()

    def recover(self, reason: str) -> str:
        """Move a damaged index aside (`Index.recover`) and rebuild it from the vault; returns
        where the damaged file went."""
        self.index.recover(reason)
        self._rebuild_recovered()
        return self.index.recovered[-1][0]

    def _rebuild_recovered(self) -> None:
        aside, reason = self.index.recovered[-1]
        log.warning(
            "the index could not be used; moved aside and rebuilt from the vault",
            extra={"moved_to": aside, "reason": reason},
        )
        self.rebuild_index()
        events.append(self.settings.events_path, "index_recovered", moved_to=aside, reason=reason)

    def heal(self) -> None:
        """Reconcile when a save died between writing its file and committing its index rows
        (its journal note outlived its process), then drop those notes."""
        notes = unit.interrupted(self.settings.state_dir)
        if not notes:
            return
        log.warning("a save was interrupted before it was indexed; reconciling")
        self.reconcile()
        for note in notes:
            note.unlink(missing_ok=True)

    def rebuild_index(self, progress: Progress | None = None) -> ReconcileReport:
        """Recreate the whole index (FTS, terms, graph) from the vault. A damaged index file is
        moved aside first (`Index.verify`). `progress(phase, done, total)` follows the work:
        "reading" files, "indexing" them (once, done 0), "linking" memories."""
        problem = self.index.verify()
        if problem:
            aside = self.index.recovered[-1][0]
            log.warning("the index was damaged; moved aside", extra={"moved_to": aside})
        report = self.rebuild(progress)
        events.append(
            self.settings.events_path, "rebuild", added=report.added, broken=report.broken
        )
        return report

    def graph_rebuild(self) -> dict[str, int]:
        """Recompute every edge from the index (no vault reads)."""
        with self.index.write() as conn:
            return rebuild_edges(conn)

    def rebuild(self, progress: Progress | None = None) -> ReconcileReport:
        """Load the whole vault into the index in one transaction, then link it."""
        scanned = list(self.vault.scan())
        names = sorted(st.name for st in scanned if not st.problem)
        released = quarantine.releases(self.settings.state_dir)
        read, broken, held = _read_all(self.vault, names, released, progress)
        broken += _unreadable(scanned)
        with self.index.write() as conn:
            # Saves commit only between write transactions, so one that landed while the files
            # were read above is on disk now and none can land until this one ends: a second
            # look at the folder, inside the transaction, misses nothing saved.
            read, broken, held = _catch_up(self.vault, read, broken, held, released)
            known = self.aliases.get()
            entries = _unique(read, broken)
            if known:
                entries = [(self.canonical(e[0]), *e[1:]) for e in entries]
            del read
            if progress:
                progress("indexing", 0, len(entries))
            added = index.load(conn, entries)
            del entries  # the rows are in SQLite now; linking reads lighter ones back
            for name, reason, mtime_ns, size in broken:
                index.set_broken(conn, name, reason, mtime_ns, size)
            for name, memory_id, reason, digest, mtime_ns, size in held:
                index.set_quarantined(conn, name, memory_id, reason, digest, mtime_ns, size)
            rebuild_edges(conn, progress)
        index.checkpoint(self.index.connection())
        for name, reason, _, _ in broken:
            log.warning("skipped a broken vault file", extra={"file": name, "reason": reason})
        return ReconcileReport(added=added, broken=len(broken), quarantined=len(held))

    def reconcile(self, pause: Callable[[], None] | None = None) -> ReconcileReport:
        """Index files added or edited outside memem, drop files that are gone. Files are
        compared by mtime and size, then by content hash; only changed files are parsed.
        `pause` is called between steps (every PAUSE_EVERY files scanned, each file parsed):
        the engine's background reconcile waits there while a request is answered."""
        pause = pause or _no_pause
        conn = self.index.connection()
        known = index.files(conn)
        broken = index.broken_files(conn)
        held = index.quarantined_files(conn)
        seen: set[str] = set()
        changed: list[FileStat] = []
        for n, st in enumerate(self.vault.scan()):
            if n % PAUSE_EVERY == 0:
                pause()
            seen.add(st.name)
            if known.get(st.name) == (st.mtime_ns, st.size):
                continue
            bad = broken.get(st.name)
            if bad and (bad[1], bad[2]) == (st.mtime_ns, st.size):
                continue
            kept = held.get(st.name)
            if kept and (kept[3], kept[4]) == (st.mtime_ns, st.size):
                continue
            changed.append(st)
        gone = [name for name in known if name not in seen]
        stale_broken = [name for name in broken if name not in seen]
        stale_held = [name for name in held if name not in seen]
        if not changed and not gone and not stale_broken and not stale_held:
            return ReconcileReport(unchanged=len(seen))
        counts = {"added": 0, "updated": 0, "removed": 0, "broken": 0, "quarantined": 0}
        released = quarantine.releases(self.settings.state_dir)
        with self.index.write() as conn:
            for name in gone:
                record = index.file_record(conn, name)
                if record:
                    index.delete(conn, record[0])
                counts["removed"] += 1
            for name in stale_broken:
                index.clear_broken(conn, name)
            for name in stale_held:
                index.clear_quarantined(conn, name)
            for st in changed:
                pause()
                counts[self.ingest(conn, st, index.file_record(conn, st.name), released)] += 1
        if any(counts.values()):
            events.append(self.settings.events_path, "reconcile", **counts)
        return ReconcileReport(unchanged=len(seen) - len(changed), **counts)

    def ingest(
        self,
        conn: Connection,
        st: FileStat,
        have: tuple[str, str] | None,
        released: Mapping[str, str] | None = None,
    ) -> str:
        """Index one changed vault file (`have`: the id and hash indexed from it before;
        `released`: the user's releases, id -> content hash); returns added, updated, broken
        or quarantined."""
        try:
            if st.problem:  # never opened: its name cannot even be stored as it is
                raise BrokenFile(st.name, st.problem)
            read = self.vault.read(st.name)
            other = index.other_file_with_id(conn, read.memory.id, st.name)
            if other and self.vault.path(other).exists():
                raise BrokenFile(st.name, f"duplicate id {read.memory.id} (also in {other})")
            try:
                memory = vet(read.memory, st.name)
            except Quarantined:
                if released is None:
                    released = quarantine.releases(self.settings.state_dir)
                if released.get(read.memory.id) != read.hash:
                    raise
                memory = vet(read.memory, st.name, released=True)
        except Quarantined as exc:
            log.warning("quarantined a vault file", extra={"file": st.name, "reason": exc.reason})
            index.clear_broken(conn, st.name)
            index.set_quarantined(
                conn, st.name, exc.memory_id, exc.reason, read.hash, st.mtime_ns, st.size
            )
            if have:
                index.delete(conn, have[0])
            return "quarantined"
        except BrokenFile as exc:
            log.warning(
                "skipped a broken vault file", extra={"file": st.name, "reason": exc.reason}
            )
            index.clear_quarantined(conn, st.name)
            index.set_broken(conn, st.name, exc.reason, st.mtime_ns, st.size)
            if have:
                index.delete(conn, have[0])
            return "broken"
        index.clear_broken(conn, st.name)
        index.clear_quarantined(conn, st.name)
        memory = self.canonical(memory)
        if have and have == (memory.id, read.hash):
            index.set_file_stat(conn, st.name, read.stat.mtime_ns, read.stat.size)
            return "updated"
        index.upsert(
            conn,
            memory,
            file=st.name,
            hash=read.hash,
            mtime_ns=read.stat.mtime_ns,
            size=read.stat.size,
            fingerprint=conflict.fingerprint(memory.content),
        )
        terms = frozenset(index.memory_terms(conn, memory))
        candidates = retrieval.like(conn, memory)
        weights = index.weights_with(conn, terms, candidates)
        index.remove_derived_edges(conn, memory.id)
        edges = graph.propose(memory, terms, [(r.memory, r.terms) for r in candidates], weights)
        edges += graph.declared(memory.id, memory.contradicts)
        index.add_edges(conn, ((e.src, e.dst, e.type, e.score) for e in edges))
        prune(conn, {memory.id, *(e.other(memory.id) for e in edges)})
        return "updated" if have else "added"


# memory, file, hash, mtime_ns, size, fingerprint (computed by the readers, in parallel)
Entry = tuple[Memory, str, str, int, int, str]
Broken = tuple[str, str, int, int]  # file, reason, mtime_ns, size
Held = tuple[str, str, str, str, int, int]  # file, id, reason, hash, mtime_ns, size


def _read_files(
    shared: tuple[str, Mapping[str, str]], names: list[str]
) -> tuple[list[Entry], list[Broken], list[Held]]:
    """Read and vet vault files (a worker's chunk for large vaults); `shared` is the vault's
    root and the user's quarantine releases (id -> content hash)."""
    root, released = shared
    vault = Vault(Path(root))
    entries: list[Entry] = []
    broken: list[Broken] = []
    held: list[Held] = []
    for name in names:
        try:
            read = vault.read(name)
            try:
                memory = vet(read.memory, name)
            except Quarantined as exc:
                if released.get(read.memory.id) != read.hash:
                    h = (name, exc.memory_id, exc.reason, read.hash)
                    held.append((*h, read.stat.mtime_ns, read.stat.size))
                    continue
                memory = vet(read.memory, name, released=True)
        except BrokenFile as exc:
            try:
                st = (vault.memories_dir / name).stat()
            except FileNotFoundError:
                continue  # deleted while the rebuild read the folder
            broken.append((name, exc.reason, st.st_mtime_ns, st.st_size))
            continue
        stat = read.stat
        entries.append(
            (
                memory,
                name,
                read.hash,
                stat.mtime_ns,
                stat.size,
                conflict.fingerprint(memory.content),
            )
        )
    return entries, broken, held


def _read_all(
    vault: Vault,
    names: list[str],
    released: Mapping[str, str],
    progress: Progress | None = None,
) -> tuple[list[Entry], list[Broken], list[Held]]:
    """Read and vet `names`, in chunks spread over worker processes for large vaults;
    `progress("reading", done, total)` is called as chunks are done."""
    chunks = [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]
    forks = workers.count(len(names), PARALLEL_FILES)
    entries: list[Entry] = []
    broken: list[Broken] = []
    held: list[Held] = []
    done = 0
    for chunk, (e, b, h) in zip(
        chunks,
        workers.fan_out(_read_files, (str(vault.root), released), chunks, forks),
        strict=True,
    ):
        entries += e
        broken += b
        held += h
        done += len(chunk)
        if progress:
            progress("reading", done, len(names))
    return entries, broken, held


def _catch_up(
    vault: Vault,
    read: list[Entry],
    broken: list[Broken],
    held: list[Held],
    released: Mapping[str, str],
) -> tuple[list[Entry], list[Broken], list[Held]]:
    """`read`, `broken` and `held` brought in line with the folder as it is now: files that
    appeared or changed since they were read are read again, files that are gone are dropped."""
    scanned = list(vault.scan())
    now = {st.name: (st.mtime_ns, st.size) for st in scanned}
    seen = {e[1]: (e[3], e[4]) for e in read}
    seen.update({b[0]: (b[2], b[3]) for b in broken})
    seen.update({h[0]: (h[4], h[5]) for h in held})
    stale = {name for name, stamp in now.items() if seen.get(name) != stamp}
    if not stale and len(seen) == len(now):
        return read, broken, held
    unreadable = _unreadable(st for st in scanned if st.name in stale)
    stale -= {b[0] for b in unreadable}
    fresh, fresh_broken, fresh_held = _read_files((str(vault.root), released), sorted(stale))
    fresh_broken += unreadable
    stale |= {b[0] for b in unreadable}
    keep = [e for e in read if e[1] in now and e[1] not in stale]
    keep_broken = [b for b in broken if b[0] in now and b[0] not in stale]
    keep_held = [h for h in held if h[0] in now and h[0] not in stale]
    return keep + fresh, keep_broken + fresh_broken, keep_held + fresh_held


def _unreadable(scanned: Iterable[FileStat]) -> list[Broken]:
    """The files that cannot be opened at all (a name that is not UTF-8): broken, unread."""
    return [(st.name, st.problem, st.mtime_ns, st.size) for st in scanned if st.problem]


def _unique(read: list[Entry], broken: list[Broken]) -> list[Entry]:
    """Entries with distinct ids, in file-name order; a second file with an id already seen
    is recorded in `broken`."""
    entries: list[Entry] = []
    owner: dict[str, str] = {}
    for entry in sorted(read, key=lambda e: e[1]):
        memory, name = entry[0], entry[1]
        if memory.id in owner:
            reason = f"duplicate id {memory.id} (also in {owner[memory.id]})"
            broken.append((name, reason, entry[3], entry[4]))
            continue
        owner[memory.id] = name
        entries.append(entry)
    return entries


def prune(conn: Connection, memory_ids: Iterable[str]) -> None:
    """Drop the weakest edges of each memory over `graph.MAX_EDGES`."""
    for memory_id in memory_ids:
        mine = [Edge(*e) for e in index.edges_of(conn, memory_id)]
        drop = graph.excess(mine, memory_id)
        if drop:
            index.remove_edges(conn, (e.key() for e in drop))
