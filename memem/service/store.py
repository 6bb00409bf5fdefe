"""The one store API every front-end uses (CLI, MCP server, hooks, daemon).

    store = Store.open()                    # paths from MEMEM_DIR / MEMEM_OBSIDIAN_VAULT
    memory = store.save("We deploy with Fly.io", project="shop")
    hits = store.search("how do we deploy?")
    store.close()

Markdown in the vault is the truth; the SQLite index is derived. `save` runs the whole path:
security scan and secret redaction, exact and near-duplicate detection, contradiction check
(the newer memory supersedes the older), layer classification with a per-project L0 cap,
atomic write, index, graph edges. `reconcile` brings the index in line with the vault after
edits made elsewhere (Obsidian, an editor, another machine); `rebuild_index` recreates it.

A save is one recoverable unit, index first with the file as the commit point. Inside one
IMMEDIATE transaction every index row is written first (with the hash and size of the bytes
about to be written), then the files, the new memory's first: its atomic rename is the commit
point. Then COMMIT. A failure before that rename rolls the transaction back and leaves nothing
on disk (the temp file is removed), so a save reported as failed left no file and a retry
cannot make a duplicate. A failure after it (a later file, COMMIT on a full state disk) cannot
undo a memory that is already in the vault, which is the truth: the save is reported as done
(`Saved.indexed` is False) and reconcile indexes the file. A process killed between the rename
and COMMIT leaves the same state, and a retry must not save the fact twice: each save notes
its files under `<state>/saving/<pid>.<random>` before the first rename and drops the note
after COMMIT; the next save (in any process) that finds a note whose writer is dead
reconciles first, so the retried or re-mined fact meets its first copy as a duplicate. A
process killed before the rename leaves only a temp file, which `open` removes once its
writer is dead.

An index that cannot be opened as memem's database (garbage bytes, truncated, a foreign
schema) is moved aside to `index.sqlite3.corrupt-<UTC stamp>` and rebuilt from the vault;
a busy or locked one never is.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, Final

from memem.core import conflict, graph, layers
from memem.core.graph import Edge
from memem.core.memory import (
    LAYERS,
    MAX_TITLE_CHARS,
    Memory,
    check_id,
    check_limits,
    normalize_content,
    normalize_project,
    normalize_tags,
    normalize_title,
    title_from_content,
    to_datetime,
)
from memem.core.slice import Slice
from memem.core.text import query_terms
from memem.errors import (
    BrokenFile,
    InvalidInput,
    NotFound,
    Quarantined,
    SecurityError,
    TooLarge,
)
from memem.settings import Settings, absolute
from memem.storage import events, index, quarantine, retrieval
from memem.storage.index import Index, Row
from memem.storage.quarantine import QuarantinedMemory
from memem.storage.vault import NOT_UTF8_NAME, FileStat, Vault, content_hash, vet

log = logging.getLogger("memem.service.store")

MAX_QUERY_CHARS: Final = 10_000
MAX_LIMIT: Final = 100
RELATED_IN_FILE: Final = 8
SNIPPET_CHARS: Final = 160
MAX_IMPORT_BYTES: Final = 1024 * 1024
# Under the state dir: one note per save between its first file write and its COMMIT.
JOURNAL_DIR: Final = "saving"


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: compact, for lists. `id` is the full id `save` returned."""

    id: str
    title: str
    project: str
    layer: int
    score: float
    snippet: str
    status: str = "active"
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "project": self.project,
            "layer": self.layer,
            "score": self.score,
            "snippet": self.snippet,
        }


@dataclass(frozen=True, slots=True)
class Saved:
    """What `add` did: `outcome` is "created" or "duplicate" (then `memory` is the existing one)."""

    memory: Memory
    outcome: str
    superseded: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    redacted: tuple[str, ...] = ()
    # False when the file was written but the index could not commit: reconcile catches up.
    indexed: bool = True


@dataclass(slots=True)
class _Unit:
    """The files one save will write, staged while its index rows are; the first is the new
    memory's (the commit point). Rendered up front so a refusal (TooLarge) comes before any
    file exists."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    indexed: bool = True


@dataclass(frozen=True, slots=True)
class Neighbor:
    memory: Memory
    type: str
    score: float
    direction: str  # "out" (this memory -> neighbour) or "in"


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    broken: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    quarantined: tuple[tuple[str, str], ...] = ()  # (memory id, reason): written, not indexed


@dataclass(frozen=True, slots=True)
class ProjectListing:
    project: str
    layers: Mapping[int, int]
    active: int
    deprecated: int
    recent: tuple[Memory, ...] = ()


@dataclass(frozen=True, slots=True)
class Status:
    state_dir: str
    vault_dir: str
    memories: int
    active: int
    deprecated: int
    projects: Mapping[str, Mapping[int, int]]
    edges: int
    index_bytes: int
    broken: Mapping[str, str] = field(default_factory=dict)
    quarantined: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id: file, reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir,
            "vault_dir": self.vault_dir,
            "memories": self.memories,
            "active": self.active,
            "deprecated": self.deprecated,
            "projects": {p: {f"L{k}": v for k, v in c.items()} for p, c in self.projects.items()},
            "edges": self.edges,
            "index_bytes": self.index_bytes,
            "broken_files": [{"file": f, "reason": r} for f, r in self.broken.items()],
            "quarantined": [
                {"id": i, "file": f, "reason": r} for i, (f, r) in self.quarantined.items()
            ],
        }


def _check_query(query: object) -> None:
    if not isinstance(query, str):
        raise InvalidInput("query must be text")
    if len(query) > MAX_QUERY_CHARS:
        raise TooLarge(f"query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")


def scrub(text: str, found: list[str] | None = None) -> str:
    """`text` with its secrets redacted: the one gate every field bound for a file, the index
    or the event log passes (content, title and so the file name, project, tags, a forget
    reason). Raises SecurityError when the scan refuses it; appends redacted kinds to `found`."""
    from memem.core import security  # only writes pay for compiling its patterns

    scanned = security.scan(text)
    if scanned.refused:
        raise SecurityError(f"refused: {scanned.reason()}")
    if found is not None:
        found.extend(f.kind for f in scanned.redactions)
    return scanned.text


def new_id() -> str:
    """A fresh random memory id: 32 lowercase hex digits."""
    return os.urandom(16).hex()


def _writer_alive(note: str) -> bool:
    from memem.storage.vault import alive

    pid = note.split(".", 1)[0]
    return pid.isdigit() and alive(int(pid))


def _stem(file: str) -> str:
    return file.removesuffix(".md")


def _snippet(content: str, query_words: Sequence[str]) -> str:
    """One line of `content` around the first query word it contains."""
    flat = " ".join(content.split())
    lowered = flat.lower()
    at = min((i for w in query_words if (i := lowered.find(w)) >= 0), default=0)
    start = max(0, at - SNIPPET_CHARS // 3)
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    text = flat[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + text + ("…" if start + SNIPPET_CHARS < len(flat) else "")


class Store:
    """The memory store: a vault of markdown files plus the SQLite index derived from it."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.vault = Vault(settings.vault_dir)
        self.index = Index(settings.index_path)
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def open(
        cls,
        *,
        state_dir: str | Path | None = None,
        vault_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Store:
        """Open (creating if needed) the store. Paths default from the environment."""
        defaults = Settings.from_env(os.environ if env is None else env)
        settings = Settings(
            state_dir=Path(absolute(state_dir)) if state_dir else defaults.state_dir,
            vault_dir=Path(absolute(vault_dir)) if vault_dir else defaults.vault_dir,
        )
        settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = cls(settings)
        store.vault.ensure()
        for name in store.vault.remove_orphan_temps():
            log.info("removed a temp file left by a crashed write", extra={"file": name})
        conn = store.index.connection()
        if store.index.recovered:
            store._rebuild_recovered()
        elif (
            index.doc_count(conn) == 0
            and not index.broken_files(conn)
            and not index.quarantined_files(conn)
            and any(store.vault.scan())
        ):
            # A new or emptied index over a vault that has memories: built in one pass, so it
            # holds the graph `rebuild-index` builds, not one linked file by file.
            store.rebuild_index()
        return store

    def recover_index(self, reason: str) -> str:
        """Move a damaged index aside (`Index.recover`) and rebuild it from the vault; returns
        where the damaged file went. For a front-end that met the damage mid-command."""
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

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- saving --------------------------------------------------------------------------------

    def save(
        self,
        content: str,
        *,
        title: str | None = None,
        project: str | None = None,
        tags: Iterable[str] = (),
        layer: int | None = None,
        importance: int | None = None,
        created: datetime | date | str | None = None,
    ) -> Memory:
        """Save a memory; on an exact or near duplicate return the existing one.

        Raises SecurityError (content refused, with the reason), TooLarge or InvalidInput.
        """
        return self.add(
            content,
            title=title,
            project=project,
            tags=tags,
            layer=layer,
            importance=importance,
            created=created,
        ).memory

    def add(
        self,
        content: str,
        *,
        title: str | None = None,
        project: str | None = None,
        tags: Iterable[str] = (),
        layer: int | None = None,
        importance: int | None = None,
        created: datetime | date | str | None = None,
        source_type: str = "user",
        source_session: str | None = None,
    ) -> Saved:
        """`save` with the details: created or duplicate, what it superseded, what was redacted."""
        self._heal()
        draft, redacted = self._draft(
            content, title, project, tags, layer, importance, created, source_type, source_session
        )
        fingerprint = conflict.fingerprint(draft.content)
        unit = _Unit()
        with self._saving(unit) as conn:
            existing = index.by_fingerprint(conn, fingerprint, draft.project)
            if existing is not None:
                return Saved(existing.memory, "duplicate", redacted=redacted)
            terms = frozenset(index.memory_terms(conn, draft))
            candidates = self._candidates(conn, draft)
            weights = self._weights(conn, terms, candidates)
            superseded: list[tuple[Row, str]] = []
            claim = conflict.Claim.of(draft.content)
            for row in candidates:
                if row.memory.project != draft.project:
                    continue
                reason = conflict.contradiction(
                    claim, conflict.Claim.of(row.memory.content), terms, row.terms, weights
                )
                if reason:
                    superseded.append((row, reason))
                elif conflict.is_near_duplicate(terms, row.terms, weights):
                    return Saved(row.memory, "duplicate", redacted=redacted)
            gone = {row.memory.id for row, _ in superseded}
            draft = draft.evolve(
                layer=self._layer(conn, unit, draft, explicit=layer is not None, gone=gone)
            )
            edges = graph.propose(
                draft,
                terms,
                [(r.memory, r.terms) for r in candidates if r.memory.id not in gone],
                weights,
            )
            for row, _ in superseded:
                edges += [
                    Edge(draft.id, row.memory.id, "supersedes", 1.0),
                    Edge(draft.id, row.memory.id, "contradicts", 1.0),
                ]
            memory = draft.evolve(
                related=self._related(edges, draft.id), contradicts=tuple(sorted(gone))
            )
            self._write(conn, unit, memory, self.vault.free_name(memory), fingerprint, first=True)
            index.add_edges(conn, ((e.src, e.dst, e.type, e.score) for e in edges))
            now = self._clock()
            for row, _ in superseded:
                old = row.memory.evolve(status="deprecated", valid_to=now, updated=now)
                self._write(conn, unit, old, row.file, conflict.fingerprint(old.content))
            self._prune(conn, {e.other(memory.id) for e in edges})
        reasons = tuple(reason for _, reason in superseded)
        events.append(
            self.settings.events_path,
            "save",
            id=memory.id,
            project=memory.project,
            layer=memory.layer,
            superseded=sorted(gone),
            redacted=list(redacted),
        )
        return Saved(
            memory, "created", tuple(sorted(gone)), reasons, redacted, indexed=unit.indexed
        )

    def _draft(
        self,
        content: str,
        title: str | None,
        project: str | None,
        tags: Iterable[str],
        layer: int | None,
        importance: int | None,
        created: datetime | date | str | None,
        source_type: str,
        source_session: str | None,
    ) -> tuple[Memory, tuple[str, ...]]:
        if not isinstance(content, str):
            raise InvalidInput("content must be text")
        if isinstance(tags, str):
            tags = [t for t in tags.split(",")]
        tags = tuple(str(t) for t in tags)
        check_limits(None, content, tags, tag_lengths=False)  # sizes first: they bound the scan
        content = normalize_content(content)
        if not content:
            raise InvalidInput("content is empty")
        if layer is not None and layer not in LAYERS:
            raise InvalidInput(f"layer must be 0-3, got {layer!r}")
        if importance is not None and not (isinstance(importance, int) and 1 <= importance <= 5):
            raise InvalidInput(f"importance must be 1-5, got {importance!r}")
        found: list[str] = []
        content = scrub(content, found)
        # Limits hold for what is written (a secret redacted to a short marker may fit), and
        # for the title and tags before normalising, which would cut them short silently.
        title = scrub(" ".join((title or "").replace("\x00", "").split()), found)
        raw_tags = tuple(scrub(t, found) for t in tags)
        check_limits(title, content, raw_tags)
        title = normalize_title(title)
        # Project and tags are scrubbed before and after normalising: normalising joins a
        # `password=...` into `password-...`, which the scan no longer reads as an assignment.
        project = scrub(normalize_project(scrub(project, found)), found) if project else None
        tags = tuple(scrub(t, found) for t in normalize_tags(raw_tags))
        redacted = tuple(found)
        now = self._clock()
        memory = Memory(
            id=new_id(),
            title=title or title_from_content(content),
            content=content,
            project=normalize_project(project),
            tags=tuple(tags),
            layer=layer if layer is not None else 2,
            importance=importance or 3,
            created=to_datetime(created) if created is not None else now,
            updated=now,
            source_type=source_type,
            source_session=source_session,
        )
        if layer is None:
            memory = memory.evolve(
                layer=layers.classify(
                    memory.title, memory.content, memory.tags, memory.importance, memory.project
                )
            )
        return memory, redacted

    def _candidates(self, conn: Any, memory: Memory, limit: int = 20) -> list[Row]:
        """Existing memories that share the most weight with `memory`: for dedup and edges."""
        query = query_terms(f"{memory.title}\n{memory.content}", limit=400)
        return retrieval.similar(conn, query, limit=limit, exclude=(memory.id,))

    @staticmethod
    def _weights(conn: Any, terms: frozenset[str], rows: Sequence[Row]) -> dict[str, float]:
        every = set(terms).union(*(r.terms for r in rows)) if rows else set(terms)
        return index.weights(conn, every)

    def _layer(
        self, conn: Any, unit: _Unit, memory: Memory, *, explicit: bool, gone: set[str]
    ) -> int:
        """The memory's layer after the per-project L0 cap."""
        if memory.layer != 0:
            return memory.layer
        pinned = [r for r in index.anchors(conn, memory.project) if r.memory.id not in gone]
        if len(pinned) < layers.L0_CAP:
            return 0
        if not explicit:
            return 1
        # The user asked for L0: make room by demoting the least important, oldest anchor.
        weakest = min(pinned, key=lambda r: (r.memory.importance, r.memory.created))
        demoted = weakest.memory.evolve(layer=1, updated=self._clock())
        self._write(conn, unit, demoted, weakest.file, conflict.fingerprint(demoted.content))
        return 0

    @staticmethod
    def _related(edges: Sequence[Edge], memory_id: str) -> tuple[str, ...]:
        ranked = sorted(edges, key=lambda e: -e.score)
        return tuple(dict.fromkeys(e.other(memory_id) for e in ranked))[:RELATED_IN_FILE]

    def _write(
        self,
        conn: Any,
        unit: _Unit,
        memory: Memory,
        file: str,
        fingerprint: str,
        *,
        first: bool = False,
    ) -> None:
        """Stage a memory's file in `unit` and write its index row now (same transaction).
        The row's mtime is set once the file exists (`_saving`); until then it matches no file,
        so a crash in between leaves a row that reconcile re-reads from the file."""
        from memem.core import markdown

        stems = {i: _stem(r.file) for i, r in index.get_many(conn, memory.related).items()}
        data = markdown.render(memory, stems).encode("utf-8")
        self.vault.path(file)  # refuse a bad name before anything is written
        index.upsert(
            conn,
            memory,
            file=file,
            hash=content_hash(data),
            mtime_ns=0,
            size=len(data),
            fingerprint=fingerprint,
        )
        if first:
            unit.files.insert(0, (file, data))
        else:
            unit.files.append((file, data))

    @contextmanager
    def _saving(self, unit: _Unit) -> Iterator[Any]:
        """The transaction of one save (see the module docstring): the index rows the body
        writes, then `unit`'s files (the first rename is the commit point), then COMMIT."""
        conn = self.index.connection()
        index.begin(conn)
        journal: Path | None = None
        try:
            yield conn
            if unit.files:
                journal = self._journal([name for name, _ in unit.files])
                name, data = unit.files[0]
                self._written(conn, self.vault.write_bytes(name, data))
        except BaseException:
            index.rollback(conn)
            if journal:
                journal.unlink(missing_ok=True)
            raise
        # Past the commit point: the memory is in the vault, whatever happens to the rest.
        for name, data in unit.files[1:]:
            try:
                self._written(conn, self.vault.write_bytes(name, data))
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
            unit.indexed = False
            if conn.in_transaction:
                index.rollback(conn)
        if journal and unit.indexed:
            journal.unlink(missing_ok=True)
        elif journal:
            # No live writer's pid: the next save, in this process too, reconciles first.
            journal.rename(journal.with_name(f"unindexed.{journal.name}"))

    def _journal(self, names: Sequence[str]) -> Path:
        """Note the files a save is about to write, under the writer's pid: if the process dies
        between a rename and COMMIT, the next save (in any process) finds the note and
        reconciles first (`_heal`), so the written memory is indexed before anything is
        compared with it."""
        folder = self.settings.state_dir / JOURNAL_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{os.getpid()}.{new_id()[:12]}"
        path.write_text("\n".join(names) + "\n", encoding="utf-8")
        return path

    def _heal(self) -> None:
        """Reconcile when a save died between writing its file and committing its index rows
        (its journal note outlived its process), then drop those notes."""
        folder = self.settings.state_dir / JOURNAL_DIR
        try:
            notes = [p for p in folder.iterdir() if not _writer_alive(p.name)]
        except FileNotFoundError:
            return
        if not notes:
            return
        log.warning("a save was interrupted before it was indexed; reconciling")
        self.reconcile()
        for note in notes:
            note.unlink(missing_ok=True)

    @staticmethod
    def _written(conn: Any, st: FileStat) -> None:
        index.set_file_stat(conn, st.name, st.mtime_ns, st.size)

    @staticmethod
    def _prune(conn: Any, memory_ids: Iterable[str]) -> None:
        for memory_id in memory_ids:
            mine = [Edge(*e) for e in index.edges_of(conn, memory_id)]
            drop = graph.excess(mine, memory_id)
            if drop:
                index.remove_edges(conn, (e.key() for e in drop))

    # -- reading -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        project: str | None = None,
        limit: int = 10,
        include_deprecated: bool = False,
    ) -> list[Hit]:
        """Memories relevant to `query` (any wording: a question, keywords, a prompt), best
        first. Without `project`, every project. A query that matches nothing well enough
        returns []: there is a relevance floor."""
        from memem.service import recall

        _check_query(query)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be 1-{MAX_LIMIT}, got {limit!r}")
        # The slice's search and floor; only the scope is wider (L3, any project, deprecated).
        projects = [normalize_project(project)] if project else None
        matches = recall.searched(
            self.index.connection(),
            query,
            projects,
            max_layer=3,
            include_deprecated=include_deprecated,
            limit=limit,
        )
        terms = query_terms(query)
        top = max((m.score for m in matches), default=1.0) or 1.0
        return [
            Hit(
                id=m.memory.id,
                title=m.memory.title,
                project=m.memory.project,
                layer=m.memory.layer,
                score=round(m.score / top * m.coverage, 4),
                snippet=_snippet(m.memory.content, terms),
                status=m.memory.status,
                created=m.memory.created.date().isoformat(),
            )
            for m in matches
        ]

    def resolve(self, memory_id: str) -> str:
        """The full id for an exact id (as written in its file, `my-note` too) or a unique
        short-id prefix of 4-32 hex digits."""
        value, is_prefix = check_id(memory_id)
        conn = self.index.connection()
        if index.get(conn, value) is not None:
            return value
        found = index.ids_with_prefix(conn, value) if is_prefix else []
        if not found:
            raise NotFound(f"no memory with id {memory_id!r}")
        if len(found) > 1:
            raise NotFound(
                f"id prefix {memory_id!r} matches more than one memory; give more digits"
            )
        return found[0]

    def get(self, memory_id: str) -> Memory:
        """The memory with this id (full, or a unique prefix of at least 4 hex digits)."""
        row = index.get(self.index.connection(), self.resolve(memory_id))
        if row is None:
            raise NotFound(f"no memory with id {memory_id!r}")
        return row.memory

    def get_many(self, memory_ids: Sequence[str]) -> list[Memory]:
        return [self.get(i) for i in memory_ids]

    def file_of(self, memory_id: str) -> Path:
        row = index.get(self.index.connection(), self.resolve(memory_id))
        if row is None:
            raise NotFound(f"no memory with id {memory_id!r}")
        return self.vault.path(row.file)

    def neighbors(self, memory_id: str, *, limit: int = 20) -> list[Neighbor]:
        """Typed, scored graph neighbours of a memory, strongest first."""
        full = self.resolve(memory_id)
        conn = self.index.connection()
        edges = sorted((Edge(*e) for e in index.edges_of(conn, full)), key=lambda e: -e.score)
        rows = index.get_many(conn, [e.other(full) for e in edges])
        result = [
            Neighbor(rows[e.other(full)].memory, e.type, e.score, "out" if e.src == full else "in")
            for e in edges
            if e.other(full) in rows
        ]
        return result[:limit]

    def timeline(self, memory_id: str, *, window: int = 3) -> list[tuple[Memory, str]]:
        """The chronological thread around a memory: `window` memories of its project before
        and after it, plus its graph neighbours, oldest first. Each comes with why it is there."""
        center = self.get(memory_id)
        conn = self.index.connection()
        stamp = center.created.isoformat().replace("+00:00", "Z")
        before, after = index.around(conn, center.project, stamp, center.id, int(window))
        thread: dict[str, tuple[Memory, str]] = {center.id: (center, "this memory")}
        for row in (*before, *after):
            thread[row.memory.id] = (row.memory, "same project")
        for n in self.neighbors(center.id, limit=10):
            thread.setdefault(n.memory.id, (n.memory, n.type.replace("_", " ")))
        return sorted(thread.values(), key=lambda item: item[0].created)

    def list(self, *, project: str | None = None, recent: int = 10) -> list[ProjectListing]:
        """Projects with memory counts per layer and their most recent active memories."""
        conn = self.index.connection()
        counts: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"layers": dict.fromkeys(LAYERS, 0), "active": 0, "deprecated": 0}
        )
        scope = normalize_project(project) if project else None
        for p, layer, status, n in index.layer_counts(conn, scope):
            entry = counts[p]
            entry[status if status in ("active", "deprecated") else "active"] += n
            if status == "active":
                entry["layers"][layer] += n
        listings = []
        for p in sorted(counts):
            latest = index.recent(conn, p, int(recent))
            c = counts[p]
            listings.append(
                ProjectListing(
                    p, c["layers"], c["active"], c["deprecated"], tuple(r.memory for r in latest)
                )
            )
        return listings

    def slice(
        self,
        query: str,
        *,
        scope: str | None = None,
        session_id: str | None = None,
        cwd: str | None = None,
        task_mode: str | None = None,
        writeback_preview: bool = False,
        auto_commit_safe: bool = False,
        briefing: bool = False,
    ) -> Slice:
        """The Active Memory Slice for `query`: what a hook would inject, as markdown plus its
        items (id, role, layer, score). `scope` is the project (default: from `cwd`, the
        git root's name). With `writeback_preview` the slice lists the writes it proposes;
        with `auto_commit_safe` the safe ones (an explicit "remember that ...") are saved.
        A `briefing` also carries the project's L0 anchors and playbook, as at session start."""
        from memem.service import recall

        _check_query(query)
        built = recall.build(
            self.index.connection(),
            query,
            state_dir=self.settings.state_dir,
            vault_dir=self.settings.vault_dir,
            project=scope,
            cwd=cwd,
            session_id=session_id,
            task_mode=task_mode,
            deltas=writeback_preview or auto_commit_safe,
            event="start" if briefing else "prompt",
        )
        if not auto_commit_safe:
            return built
        applied = []
        for delta in built.deltas:
            if delta.safe and delta.kind == "new_memory":
                applied.append(self.add(delta.content, project=built.project).memory.id)
        return built.evolve(applied=tuple(applied))

    # -- changing ------------------------------------------------------------------------------

    def forget(self, memory_id: str, *, reason: str | None = None) -> Memory:
        """Deprecate a memory: it keeps its file (`status: deprecated`, `valid_to`) and leaves
        recall. Idempotent."""
        full = self.resolve(memory_id)
        unit = _Unit()
        with self._saving(unit) as conn:
            row = index.get(conn, full)
            if row is None:
                raise NotFound(f"no memory with id {memory_id!r}")
            if not row.memory.active:
                return row.memory
            now = self._clock()
            extra = dict(row.memory.extra)
            if reason:
                if len(reason) > MAX_TITLE_CHARS:
                    raise TooLarge(
                        f"reason is {len(reason):,} characters; the limit is {MAX_TITLE_CHARS}"
                    )
                reason = scrub(normalize_title(reason))
                extra["deprecated_reason"] = reason
            old = row.memory.evolve(status="deprecated", valid_to=now, updated=now, extra=extra)
            self._write(conn, unit, old, row.file, conflict.fingerprint(old.content), first=True)
        events.append(self.settings.events_path, "forget", id=full, reason=reason)
        return old

    def import_path(self, path: str | Path, *, project: str | None = None) -> ImportReport:
        """Import a markdown or text file, a directory of them, or a CLAUDE.md (one memory per
        section). A memem memory file keeps its fields. Unreadable files (a symlink loop, a
        name that is not UTF-8, a link out of the folder) are reported, not fatal."""
        root = Path(path).expanduser()
        if not root.exists():
            raise InvalidInput(f"no such file or directory: {_shown(root)}")
        created: list[str] = []
        duplicates: list[str] = []
        errors: list[tuple[str, str]] = []
        held: list[tuple[str, str]] = []
        with _opened_root(root) as (root_fd, real_root, single):
            if single:
                found: Iterable[_Document] = [_Document(_shown(real_root / single[0]), single)]
            else:
                found = _documents(root, root_fd, real_root)
            for document in found:
                if document.skipped is not None:
                    errors.append((str(document.shown), document.skipped))
                    continue
                try:
                    data = _read_document(root_fd, document.parts)
                    for saved in self._import_file(document.shown, data, project):
                        if isinstance(saved, QuarantinedMemory):
                            held.append((saved.id, saved.reason))
                            continue
                        outcome = created if saved.outcome == "created" else duplicates
                        outcome.append(saved.memory.id)
                except (InvalidInput, BrokenFile) as exc:
                    errors.append((str(document.shown), str(exc)))
        events.append(
            self.settings.events_path, "import", source=str(_shown(root)), created=len(created)
        )
        return ImportReport(tuple(created), tuple(duplicates), tuple(errors), tuple(held))

    def _import_one(self, content: str, **fields: Any) -> Saved | QuarantinedMemory:
        """Save one imported memory; one the security scan refuses is written into the vault
        as it came (secrets redacted) and quarantined, for the user to review and release,
        instead of being refused: the document is the user's, not a model's."""
        try:
            return self.add(content, source_type="import", **fields)
        except SecurityError as exc:
            reason = str(exc).removeprefix("refused: ")
        from memem.core import security

        now = self._clock()
        title = fields.get("title")
        scanned = security.scan(normalize_content(content))
        scanned_title = security.scan(normalize_title(title or ""))
        created = fields.get("created")
        memory = Memory(
            id=new_id(),
            title=scanned_title.text or title_from_content(scanned.text),
            content=scanned.text,
            project=normalize_project(fields.get("project")),
            tags=tuple(fields.get("tags") or ()),
            layer=layer if isinstance(layer := fields.get("layer"), int) else 2,
            importance=importance if isinstance(importance := fields.get("importance"), int) else 3,
            created=to_datetime(created) if created is not None else now,
            updated=now,
            source_type="import",
        )
        name = self.vault.free_name(memory)
        st, digest = self.vault.write(memory, name)
        with self.index.write() as conn:
            index.set_quarantined(conn, name, memory.id, reason, digest, st.mtime_ns, st.size)
        log.warning("quarantined an imported memory", extra={"file": name, "reason": reason})
        return QuarantinedMemory(memory.id, name, reason)

    def _import_file(
        self, file: Path, data: bytes, project: str | None
    ) -> Iterator[Saved | QuarantinedMemory]:
        """The memories in one document's bytes; `file` (valid text) names it."""
        from memem.core import importing, markdown

        if b"\x00" in data:
            raise InvalidInput("binary file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"invalid UTF-8 at byte {exc.start}") from None
        meta, body = markdown.split(text)
        if meta.get("id") or (meta.get("title") and meta.get("layer") is not None):
            m = markdown.parse(
                text, fallback_id=new_id(), fallback_time=self._clock(), fallback_title=file.stem
            )
            yield self._import_one(
                m.content,
                title=m.title,
                project=project or m.project,
                tags=m.tags,
                layer=m.layer,
                importance=m.importance,
                created=m.created,
            )
            return
        default_project = project or (
            file.parent.name if file.name.upper() == "CLAUDE.MD" else None
        )
        for draft in importing.drafts_for(file.name, body):
            yield self._import_one(
                draft.content,
                title=draft.title,
                project=default_project,
                tags=[str(t) for t in meta.get("tags") or []]
                if isinstance(meta.get("tags"), list)
                else (),
            )

    # -- keeping the index in line with the vault -------------------------------------------

    def reconcile(self) -> ReconcileReport:
        """Index files added or edited outside memem, drop files that are gone. Files are
        compared by mtime and size, then by content hash; only changed files are parsed."""
        conn = self.index.connection()
        known = index.files(conn)
        broken = index.broken_files(conn)
        held = index.quarantined_files(conn)
        seen: set[str] = set()
        changed: list[FileStat] = []
        for st in self.vault.scan():
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
                counts[self._ingest(conn, st, index.file_record(conn, st.name), released)] += 1
        if any(counts.values()):
            events.append(self.settings.events_path, "reconcile", **counts)
        return ReconcileReport(unchanged=len(seen) - len(changed), **counts)

    def _ingest(
        self,
        conn: Any,
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
        candidates = self._candidates(conn, memory)
        weights = self._weights(conn, terms, candidates)
        index.remove_derived_edges(conn, memory.id)
        edges = graph.propose(memory, terms, [(r.memory, r.terms) for r in candidates], weights)
        edges += graph.declared(memory.id, memory.contradicts)
        index.add_edges(conn, ((e.src, e.dst, e.type, e.score) for e in edges))
        self._prune(conn, {memory.id, *(e.other(memory.id) for e in edges)})
        return "updated" if have else "added"

    # -- quarantine (memem.storage.quarantine) ---------------------------------------------------------

    def quarantined(self) -> Sequence[QuarantinedMemory]:
        """The review list (`memem quarantine list`): vault files kept out of recall because
        the security scan refuses their content, each with the hash of the refused content
        and an excerpt of what the file holds. The hashes shown are remembered as reviewed:
        `release` lets only that content go."""
        held = index.quarantined_files(self.index.connection())
        listed: list[QuarantinedMemory] = []
        for file, (memory_id, reason, digest, _, _) in held.items():
            try:
                read = self.vault.read(file)
            except BrokenFile as exc:
                shown = f"(cannot be read now: {exc.reason})"
            else:
                shown = quarantine.excerpt(f"{read.memory.title}: {read.memory.content}")
                if read.hash != digest:  # changed since: a reconcile quarantines it anew
                    shown = "(changed since it was quarantined) " + shown
                    digest = read.hash
            listed.append(QuarantinedMemory(memory_id, file, reason, digest, shown))
        if listed:
            quarantine.record_reviewed(self.settings.state_dir, {q.id: q.hash for q in listed})
        return listed

    def release(self, memory_id: str) -> QuarantinedMemory:
        """The user overrules the scan for a quarantined memory (full id or a unique prefix)
        after reviewing it: it is indexed and recalled from then on. Only the content that was
        quarantined, and listed if it was listed, is released, and nothing is reconciled
        first: a file changed since is refused (`quarantine.CHANGED`) and the next reconcile
        quarantines the new content. The release holds for this content only: an edit of the
        file later is scanned again."""
        memory_id, is_prefix = check_id(memory_id)
        held = index.quarantined_files(self.index.connection())
        matches = [
            (file, record)
            for file, record in held.items()
            if record[0] == memory_id or (is_prefix and record[0].startswith(memory_id))
        ]
        if not matches:
            raise NotFound(f"no quarantined memory with id {memory_id}")
        if len({record[0] for _, record in matches}) > 1:
            raise NotFound(f"id prefix {memory_id} is ambiguous; give more of it")
        seen = quarantine.reviewed(self.settings.state_dir)
        reads: list[tuple[QuarantinedMemory, FileStat]] = []
        for file, (qid, reason, digest, _, _) in matches:
            try:
                read = self.vault.read(file)
            except BrokenFile:
                raise InvalidInput(quarantine.CHANGED) from None
            if read.hash != digest or seen.get(qid, digest) != digest:
                raise InvalidInput(quarantine.CHANGED)
            reads.append((QuarantinedMemory(qid, file, reason, digest), read.stat))
        with self.index.write() as conn:
            for q, st in reads:
                quarantine.record_release(self.settings.state_dir, q.id, q.hash)
                # `_ingest` reads the file again and indexes it only if it still hashes to
                # the released content: a change in between is quarantined, not released.
                self._ingest(conn, st, index.file_record(conn, q.file), {q.id: q.hash})
        released = reads[0][0]
        events.append(self.settings.events_path, "release", id=released.id)
        return released

    def rebuild_index(self) -> ReconcileReport:
        """Recreate the whole index (FTS, terms, graph) from the vault. A damaged index file is
        moved aside first (`Index.verify`)."""
        from memem.service import reconcile as rebuild

        problem = self.index.verify()
        if problem:
            aside = self.index.recovered[-1][0]
            log.warning("the index was damaged; moved aside", extra={"moved_to": aside})
        report = rebuild.rebuild(self)
        events.append(
            self.settings.events_path, "rebuild", added=report.added, broken=report.broken
        )
        return report

    def graph_rebuild(self) -> dict[str, int]:
        """Recompute every edge from the index (no vault reads)."""
        from memem.service import reconcile as rebuild

        with self.index.write() as conn:
            counts = rebuild.rebuild_edges(conn)
        return counts

    def graph_audit(self) -> graph.Audit:
        conn = self.index.connection()
        memories = [r.memory for r in index.all_memories(conn)]
        edges = [Edge(*e) for e in index.all_edges(conn)]
        return graph.audit(memories, edges)

    def graph_stats(self) -> dict[str, Any]:
        conn = self.index.connection()
        n = index.doc_count(conn)
        by_type = index.edge_counts(conn)
        total = sum(by_type.values())
        return {
            "memories": n,
            "edges": total,
            "by_type": by_type,
            "mean_degree": round(2 * total / n, 2) if n else 0.0,
            "max_edges_per_memory": graph.MAX_EDGES,
        }

    def status(self) -> Status:
        conn = self.index.connection()
        projects: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(LAYERS, 0))
        active = deprecated = 0
        for p, layer, status, n in index.layer_counts(conn):
            if status == "active":
                projects[p][layer] += n
                active += n
            else:
                deprecated += n
        edges = sum(index.edge_counts(conn).values())
        base = str(self.settings.index_path)
        size = sum(
            os.path.getsize(base + s) for s in ("", "-wal", "-shm") if os.path.isfile(base + s)
        )
        broken = {f: r[0] for f, r in index.broken_files(conn).items()}
        held = {r[0]: (f, r[1]) for f, r in index.quarantined_files(conn).items()}
        return Status(
            state_dir=str(self.settings.state_dir),
            vault_dir=str(self.settings.vault_dir),
            memories=active + deprecated,
            active=active,
            deprecated=deprecated,
            projects=dict(sorted(projects.items())),
            edges=edges,
            index_bytes=size,
            broken=broken,
            quarantined=held,
        )


DOCUMENT_SUFFIXES: Final = (".md", ".markdown", ".txt")
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS: Final = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class _Document:
    """A document `_documents` found: `shown` names it in reports and titles (valid text even
    when the name on disk is not UTF-8); `parts`, its path below the root directory, opened
    one component at a time (`_read_document`); `skipped`, why it is not read."""

    shown: Path
    parts: tuple[str, ...] = ()
    skipped: str | None = None


def _shown(path: str | Path) -> Path:
    """A path as text that can be printed and stored: bytes that are not UTF-8 as \\xNN."""
    return Path(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")  # a name with undecodable bytes holds surrogate escapes
    except UnicodeEncodeError:
        return False
    return True


@contextmanager
def _opened_root(root: Path) -> Iterator[tuple[int, Path, tuple[str, ...]]]:
    """The directory every document is opened from, its real path, and the parts of the one
    document when `root` names a file. A link named by the user is their choice: it is
    resolved once, here; below this point nothing follows a link that is not resolved and
    checked to stay inside the root."""
    try:
        real = Path(os.path.realpath(root, strict=True))
    except OSError as exc:  # a symlink loop, a dangling link
        raise InvalidInput(f"cannot open {_shown(root)}: {exc.strerror or exc}") from None
    parts: tuple[str, ...] = ()
    base = real
    if not real.is_dir():
        if not _utf8(root.name) or not _utf8(real.name):
            raise InvalidInput(f"{_shown(root)}: {NOT_UTF8_NAME}")
        base, parts = real.parent, (real.name,)
    try:
        fd = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidInput(f"cannot open {_shown(base)}: {exc.strerror or exc}") from None
    try:
        yield fd, base, parts
    finally:
        os.close(fd)


def _open_dir(root_fd: int, parts: Sequence[str]) -> int:
    """A directory below the root, each component opened relative to its parent's descriptor
    without following links: a folder swapped for a symlink after it was listed (a
    time-of-check/time-of-use race) fails to open instead of leading out of the root."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _documents(root: Path, root_fd: int, real_root: Path) -> Iterator[_Document]:
    """The documents in the directory `root` (open as `root_fd`, really `real_root`), each
    with the reason it is skipped, if it is.

    A symlink is followed only to a file inside the root (resolved); one that leads out of it
    (to `~/.netrc`, to `/etc`), dangles or loops is skipped and reported. Symlinked
    directories are never descended: their targets inside the root are walked anyway, and
    this rules out loops. Hidden files and directories are skipped; so is a name that is not
    UTF-8 (reported: no title or report could carry it). Every path is opened again, one
    component at a time from the root, when it is read (`_read_document`)."""
    stack: list[tuple[str, ...]] = [()]
    while stack:
        rel = stack.pop()
        where = _shown(root.joinpath(*rel))
        try:
            fd = _open_dir(root_fd, rel)
        except OSError as exc:
            yield _Document(where, skipped=f"cannot read directory: {exc.strerror or exc}")
            continue
        try:
            # Types are read while the directory is open: without d_type an entry stats
            # itself relative to this descriptor.
            with os.scandir(fd) as it:
                entries = sorted((_kind(entry) for entry in it), key=lambda e: e[0])
        except OSError as exc:
            yield _Document(where, skipped=f"cannot read directory: {exc.strerror or exc}")
            continue
        finally:
            os.close(fd)
        found: list[_Document] = []
        subdirs: list[tuple[str, ...]] = []
        for name, is_link, is_dir, problem in entries:
            if name.startswith("."):
                continue
            shown = where / _shown(name)
            document = Path(name).suffix.lower() in DOCUMENT_SUFFIXES
            if problem:
                found.append(_Document(shown, skipped=f"cannot read: {problem}"))
                continue
            if not _utf8(name):
                if document or is_dir or is_link:
                    found.append(_Document(shown, skipped=NOT_UTF8_NAME))
                continue
            if is_link:
                found.extend(_link(shown, real_root, (*rel, name), document))
            elif is_dir:
                subdirs.append((*rel, name))
            elif document:
                found.append(_Document(shown, (*rel, name)))
        yield from found
        stack.extend(reversed(subdirs))


def _kind(entry: os.DirEntry[str]) -> tuple[str, bool, bool, str]:
    """An entry's name, whether it is a symlink, a directory (not followed), and the error
    met reading its type, if any."""
    try:
        is_link = entry.is_symlink()
        return entry.name, is_link, not is_link and entry.is_dir(follow_symlinks=False), ""
    except OSError as exc:
        return entry.name, False, False, str(exc.strerror or exc)


def _link(shown: Path, real_root: Path, parts: tuple[str, ...], document: bool) -> list[_Document]:
    """A symlink found in the walk: the file inside the root it resolves to, or why not."""
    try:
        target = Path(os.path.realpath(real_root.joinpath(*parts), strict=True))
    except OSError as exc:  # ELOOP for a loop, ENOENT for a dangling link
        return [_Document(shown, skipped=f"symlink cannot be resolved: {exc.strerror or exc}")]
    if not target.is_relative_to(real_root):
        return [_Document(shown, skipped=f"symlink to {_shown(target)}, outside the folder")]
    if not document or target.is_dir():
        return []
    inside = target.relative_to(real_root).parts
    if not all(_utf8(part) for part in inside):
        return [_Document(shown, skipped=NOT_UTF8_NAME)]
    return [_Document(shown, inside)]


def _read_document(root_fd: int, parts: Sequence[str]) -> bytes:
    """A regular file's bytes, at most MAX_IMPORT_BYTES. Every component is opened relative to
    the root without following a link (`_documents` gives resolved paths, so a link met here
    was swapped in after the walk) and the file without blocking, so a FIFO or a device that
    took a file's place is refused, never read."""
    flags = os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
    try:
        parent = _open_dir(root_fd, parts[:-1])
        try:
            fd = os.open(parts[-1], flags, dir_fd=parent)
        finally:
            os.close(parent)
    except OSError as exc:
        raise InvalidInput(f"cannot open: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise InvalidInput("not a regular file")
        if st.st_size > MAX_IMPORT_BYTES:
            raise TooLarge("file over 1 MiB")
        data = handle.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise TooLarge("file over 1 MiB")
    return data
