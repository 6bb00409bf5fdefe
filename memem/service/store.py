"""The one store API every front-end uses (CLI, MCP server, hooks, daemon).

    store = Store.open()                    # paths from MEMEM_DIR / MEMEM_OBSIDIAN_VAULT
    memory = store.save("We deploy with Fly.io", project="shop")
    hits = store.search("how do we deploy?")
    store.close()

Markdown in the vault is the truth; the SQLite index is derived. The Store is the facade:
it opens the two, answers reads (search, get, neighbours, timeline, listings, status) and
hands the rest to the modules that own it. `save` (`memem.service.saving`) runs the whole
path as gather, plan, apply: security scan and secret redaction, exact and near-duplicate
detection, contradiction check (the newer memory supersedes the older), layer classification
with a per-project L0 cap, index rows, graph edges, then the atomic file write as the commit
point (`memem.storage.unit` says what a crash leaves). `reconcile` brings the index in line
with the vault after edits made elsewhere (Obsidian, an editor, another machine) and
`rebuild_index` recreates it (`memem.service.reconcile`); `import_path` imports documents
(`memem.service.importer`); `quarantined` and `release` are the review of what the scan kept
out (`memem.service.review`).

An index that cannot be opened as memem's database (garbage bytes, truncated, a foreign
schema) is moved aside to `index.sqlite3.corrupt-<UTC stamp>` and rebuilt from the vault;
a busy or locked one never is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from memem.core import graph
from memem.core.graph import Edge
from memem.core.memory import Memory, check_id, normalize_project
from memem.core.slice import Environment, Slice
from memem.core.text import query_terms
from memem.errors import InvalidInput, NotFound, TooLarge
from memem.service import feedback, importer, purging, review
from memem.service.importer import ImportReport
from memem.service.linking import Progress
from memem.service.projects import ProjectListing, listings
from memem.service.reconcile import Reconciler, ReconcileReport
from memem.service.saving import Saved, Saver
from memem.service.semantic import Semantic
from memem.service.status import Status, index_status
from memem.settings import STORE_FIELDS, Settings, absolute
from memem.storage import index
from memem.storage import projects as aliases
from memem.storage.index import Index
from memem.storage.quarantine import QuarantinedMemory
from memem.storage.tombstones import Tombstone
from memem.storage.vault import Vault
from memem.storage.workspace import environment

log = logging.getLogger("memem.service.store")

MAX_QUERY_CHARS: Final = 10_000
MAX_LIMIT: Final = 100
SNIPPET_CHARS: Final = 160


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
    ranking: str = "lexical"

    def to_dict(self) -> dict[str, Any]:
        keys = ("id", "title", "project", "layer", "score", "snippet", "status", "ranking")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True, slots=True)
class Neighbor:
    memory: Memory
    type: str
    score: float
    direction: str  # "out" (this memory -> neighbour) or "in"


def _check_query(query: object) -> None:
    if not isinstance(query, str):
        raise InvalidInput("query must be text")
    if len(query) > MAX_QUERY_CHARS:
        raise TooLarge(f"query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")


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


class Store(feedback.Steering):
    """The memory store: a vault of markdown files plus the SQLite index derived from it."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        semantic: str = "sync",
    ) -> None:
        """`semantic` is how the embedding model is used (`memem.service.semantic`): "sync"
        (loaded at the first search), "background" (the engine) or "off" (lexical recall;
        also whenever `settings.semantic` is off)."""
        self.settings = settings
        self.vault = Vault(settings.vault_dir)
        self.index = Index(settings.index_path)
        self.semantic = Semantic(
            self.index, settings.vectors_path, mode=semantic if settings.semantic else "off"
        )
        self._keeper = Reconciler(self.vault, self.index, settings)
        self._saver = Saver(self._keeper, clock or (lambda: datetime.now(UTC)))

    @classmethod
    def open(
        cls,
        *,
        state_dir: str | Path | None = None,
        vault_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        semantic: str = "sync",
    ) -> Store:
        """Open (creating if needed) the store. Paths default from `env` (by default the
        process environment, read by `memem.settings`); so does `MEMEM_SEMANTIC=off`.
        `semantic`: see `Store`."""
        defaults = Settings.from_env(env)
        settings = Settings(
            state_dir=Path(absolute(state_dir)) if state_dir else defaults.state_dir,
            vault_dir=Path(absolute(vault_dir)) if vault_dir else defaults.vault_dir,
            **{k: getattr(defaults, k) for k in STORE_FIELDS},
        )
        settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = cls(settings, semantic=semantic)
        store.vault.ensure()
        for name in store.vault.remove_orphan_temps():
            log.info("removed a temp file left by a crashed write", extra={"file": name})
        store._keeper.at_open()
        return store

    def recover_index(self, reason: str) -> str:
        """Move a damaged index aside (`Index.recover`) and rebuild it from the vault; returns
        where the damaged file went. For a front-end that met the damage mid-command."""
        return self._keeper.recover(reason)

    def close(self) -> None:
        self.semantic.close()
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
        situations: Iterable[str] = (),
        branch: str | None = None,
        private: bool = False,
    ) -> Saved:
        """`save` with the details: created or duplicate, what it superseded, what was redacted.
        `branch`: the git branch it was learned on (the slice prefers a session's own);
        `private`: it never leaves this machine (sync skips it)."""
        return self._saver.add(
            content,
            title=title,
            project=project,
            tags=tags,
            layer=layer,
            importance=importance,
            created=created,
            source_type=source_type,
            source_session=source_session,
            situations=situations,
            branch=branch,
            private=private,
        )

    def forget(self, memory_id: str, *, reason: str | None = None) -> Memory:
        """Deprecate a memory: it keeps its file (`status: deprecated`, `valid_to`) and leaves
        recall. Idempotent."""
        return self._saver.forget(self.resolve(memory_id), reason)

    def purge(self, memory_id: str, *, reason: str = "") -> Tombstone:
        """Delete a memory for good (file and index rows) and record its tombstone, which
        sync pushes so that no remote brings it back (`memem.service.purging`)."""
        held = purging.file_of(self.index, memory_id.strip().lower())  # quarantined too
        full = memory_id.strip().lower() if held else self.resolve(memory_id)
        return purging.purge(
            self.vault, self.index, self.settings, full, reason, self._saver.clock()
        )

    def import_path(self, path: str | Path, *, project: str | None = None) -> ImportReport:
        """Import a markdown or text file, a directory of them, or a CLAUDE.md (one memory per
        section). A memem memory file keeps its fields. Unreadable files (a symlink loop, a
        name that is not UTF-8, a link out of the folder) are reported, not fatal."""
        return importer.import_path(self._saver, path, project)

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
        projects = [self.canonical(project)] if project else None
        matches, ranking = recall.searched(
            self.index.connection(),
            query,
            projects,
            max_layer=3,
            include_deprecated=include_deprecated,
            limit=limit,
            semantic=self.semantic,
            utility=recall.factors_of(self.settings.state_dir) if self.settings.learning else None,
            include_archived=True,
        )
        terms = query_terms(query)
        top = max((m.score for m in matches), default=1.0) or 1.0
        # A lexical score is scaled by its coverage of the query too (a hybrid one holds both).
        return [
            Hit(
                id=m.memory.id,
                title=m.memory.title,
                project=m.memory.project,
                layer=m.memory.layer,
                score=round(m.score / top * (1.0 if ranking == "hybrid" else m.coverage), 4),
                snippet=_snippet(m.memory.content, terms),
                status=m.memory.status,
                created=m.memory.created.date().isoformat(),
                ranking=ranking,
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
        """Projects with memory counts per layer, their most recent active memories and their
        aliases (old names: see `canonical`)."""
        scope = self.canonical(project) if project else None
        known = self._keeper.aliases.get()
        return listings(self.index.connection(), scope, int(recent), known)

    # -- projects --------------------------------------------------------------------------------

    def canonical(self, project: str | None) -> str:
        """The name the index uses for `project`: its own, or the project it is an alias of
        (a folder name the project had before it was named after its git remote)."""
        return self._keeper.aliases.canonical(normalize_project(project))

    def project_of(self, cwd: str | Path) -> Environment:
        """Where `cwd` is (`memem.storage.workspace.environment`: the project is named after
        the repository's remote); memories saved under the folder's name before become an
        alias of it, once."""
        env = environment(cwd)
        aliases.adopt(self.index.connection(), self.settings.state_dir, env.folder, env.project)
        return env

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
        ledger: str | None = None,
    ) -> Slice:
        """The Active Memory Slice for `query`: what a hook would inject, as markdown plus its
        items (id, role, layer, score). `scope` is the project (default: from `cwd`, its
        repository's: `project_of`). With `writeback_preview` the slice lists the writes it proposes;
        with `auto_commit_safe` the safe ones (an explicit "remember that ...") are saved.
        A `briefing` also carries the project's L0 anchors and playbook, as at session start.
        With `ledger` (an MCP tool's name) the injection is recorded under it."""
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
            semantic=self.semantic,
            learning=self.settings.learning,
            ledger=ledger,
        )
        if not auto_commit_safe:
            return built
        applied = []
        for delta in built.deltas:
            if delta.safe and delta.kind == "new_memory":
                applied.append(self.add(delta.content, project=built.project).memory.id)
        return built.evolve(applied=tuple(applied))

    # -- keeping the index in line with the vault (memem.service.reconcile) -------------------

    def reconcile(self, pause: Callable[[], None] | None = None) -> ReconcileReport:
        """Index files added or edited outside memem, drop files that are gone. Files are
        compared by mtime and size, then by content hash; only changed files are parsed.
        `pause()` is called between steps (the engine waits there while it answers a
        request)."""
        return self._keeper.reconcile(pause)

    def rebuild_index(self, progress: Progress | None = None) -> ReconcileReport:
        """Recreate the whole index (FTS, terms, graph) from the vault. A damaged index file is
        moved aside first (`Index.verify`). `progress(phase, done, total)` follows the work
        ("reading", "indexing", "linking")."""
        return self._keeper.rebuild_index(progress)

    def embed(self, progress: Progress | None = None, *, everything: bool = False) -> int:
        """Make the vectors the index's memories lack (`everything`: drop them all and make
        them again), drop the ones no memory uses; returns how many were made. 0 when the
        model is not at hand (`self.semantic.state`, `.reason` say why)."""
        conn = self.index.connection()
        if not self.semantic.load():
            return 0
        if everything:
            made = self.semantic.reembed(conn, progress)
        else:
            self.semantic.refresh(conn)
            made = self.semantic.embed(progress=progress)
        self.semantic.prune()
        return made

    def graph_rebuild(self) -> dict[str, int]:
        """Recompute every edge from the index (no vault reads)."""
        return self._keeper.graph_rebuild()

    def quarantined(self) -> Sequence[QuarantinedMemory]:
        """The review list (`memem quarantine list`): see `memem.service.review.quarantined`."""
        return review.quarantined(self._keeper)

    def release(self, memory_id: str) -> QuarantinedMemory:
        """Index a reviewed quarantined memory: see `memem.service.review.release`."""
        return review.release(self._keeper, memory_id)

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
        """What the index holds: counts by project and layer, edges, size, broken and
        quarantined vault files."""
        return index_status(self.index.connection(), self.settings)
