"""Saving: gather, plan, apply. The one path every save takes (the CLI, MCP, the slice's
safe writes, the miner, import).

    draft = plan.draft(...)                 # validated, scrubbed: before anything is read
    with unit(...) as staged:               # one IMMEDIATE transaction (memem.storage.unit)
        found = gather(staged.conn, draft)  # the index reads the decisions need
        decided = plan.plan(draft, found)   # pure: memem.core.plan
        apply(staged, decided)              # index rows and edges; the files after the body

The files are written after the rows, the new memory's first: its rename is the commit point
(see `memem.storage.unit` for what a crash at each step leaves). A save that finds a note of
an interrupted one reconciles first (`Reconciler.heal`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from memem.core import graph, plan
from memem.core.graph import Edge
from memem.core.memory import MAX_TITLE_CHARS, Memory, normalize_project, normalize_title
from memem.core.plan import Draft, Gathered, Known, Plan
from memem.errors import NotFound, TooLarge
from memem.service.reconcile import Reconciler
from memem.storage import events, index, retrieval
from memem.storage.unit import Connection, Unit, unit
from memem.storage.vault import content_hash

log = logging.getLogger("memem.service.saving")


def new_id() -> str:
    """A fresh random memory id: 32 lowercase hex digits."""
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class Saved:
    """What `add` did: `outcome` is "created" or "duplicate" (then `memory` is the existing one),
    or, for an import the scan refused, "quarantined" (`reasons` holds why)."""

    memory: Memory
    outcome: str
    superseded: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    redacted: tuple[str, ...] = ()
    # False when the file was written but the index could not commit: reconcile catches up.
    indexed: bool = True


class Saver:
    """Saves and deprecations over the vault and index `keeper` keeps in line."""

    def __init__(self, keeper: Reconciler, clock: Callable[[], datetime]) -> None:
        self.keeper = keeper
        self.vault = keeper.vault
        self.index = keeper.index
        self.settings = keeper.settings
        self.clock = clock

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
        quarantine: bool = False,
        situations: Iterable[str] = (),
        branch: str | None = None,
        private: bool = False,
    ) -> Saved:
        """Save one memory (`Store.add`). With `quarantine` (an import), content the scan
        refuses is written as it came (secrets redacted) and quarantined, not refused."""
        self.keeper.heal()
        draft = plan.draft(
            content,
            memory_id=new_id(),
            now=self.clock(),
            title=title,
            project=self._project(project),
            tags=tags,
            layer=layer,
            importance=importance,
            created=created,
            source_type=source_type,
            source_session=source_session,
            quarantine=quarantine,
            situations=situations,
            branch=branch,
            private=private,
        )
        if draft.refused is not None:
            return self._quarantine(draft)
        with unit(self.index, self.vault, self.settings.state_dir) as staged:
            decided = plan.plan(draft, self._gather(staged.conn, draft), self.clock())
            if decided.outcome == plan.DUPLICATE:
                return Saved(decided.memory, decided.outcome, redacted=decided.redacted)
            apply(staged, decided)
        memory = decided.memory
        events.append(
            self.settings.events_path,
            "save",
            id=memory.id,
            project=memory.project,
            layer=memory.layer,
            superseded=list(decided.superseded),
            redacted=list(decided.redacted),
        )
        return Saved(
            memory,
            decided.outcome,
            decided.superseded,
            decided.reasons,
            decided.redacted,
            indexed=staged.indexed,
        )

    def _project(self, project: str | None) -> str | None:
        """An alias (an old folder name) saves to the project it names; any other name goes
        to the plan as given (which scrubs and normalises it)."""
        if not project:
            return project
        return self.keeper.aliases.get().get(normalize_project(project), project)

    def _gather(self, conn: Connection, draft: Draft) -> Gathered:
        """The index reads `plan.plan` decides on, inside the save's transaction."""
        memory = draft.memory
        name = self.vault.free_name(memory)
        same = index.by_fingerprint(conn, draft.fingerprint, memory.project)
        if same is not None:
            return Gathered(name, duplicate=same.memory)
        terms = frozenset(index.memory_terms(conn, memory))
        rows = retrieval.like(conn, memory)
        candidates = tuple(Known(r.memory, r.file, r.terms) for r in rows)
        pinned = tuple(
            Known(r.memory, r.file, r.terms)
            for r in (index.anchors(conn, memory.project) if plan.wants_pinned(draft) else ())
        )
        # Files the save may rewrite link to these: the candidates, and what the candidates
        # of its project (it may supersede them) and the anchors (it may demote one) list.
        rewritten = [k for k in candidates if k.memory.project == memory.project] + list(pinned)
        stems = {k.memory.id: _stem(k.file) for k in candidates}
        wanted = {i for k in rewritten for i in k.memory.related} - stems.keys()
        stems.update({i: _stem(f) for i, f in index.files_of(conn, wanted).items()})
        # Only a memory the new edges could push over the cap needs its edges read.
        near_full = graph.MAX_EDGES - plan.NEW_EDGES_PER_MEMORY
        degrees = index.degrees(conn, [k.memory.id for k in candidates])
        edges = {i: index.edges_of(conn, i) for i, n in degrees.items() if n > near_full}
        return Gathered(
            name=name,
            terms=terms,
            candidates=candidates,
            weights=index.weights_with(conn, terms, rows),
            pinned=pinned,
            edges={i: tuple(Edge(*e) for e in found) for i, found in edges.items()},
            stems=stems,
        )

    def _quarantine(self, draft: Draft) -> Saved:
        """Write a refused import into the vault and keep it out of recall until released."""
        decided = plan.plan(draft, Gathered(self.vault.free_name(draft.memory)), self.clock())
        write = decided.writes[0]
        st = self.vault.write_bytes(write.file, write.data)
        digest = content_hash(write.data)
        with self.index.write() as conn:
            index.set_quarantined(
                conn, write.file, write.memory.id, draft.refused or "", digest, st.mtime_ns, st.size
            )
        log.warning(
            "quarantined an imported memory", extra={"file": write.file, "reason": draft.refused}
        )
        return Saved(write.memory, plan.QUARANTINED, reasons=(draft.refused or "",))

    def forget(self, memory_id: str, reason: str | None = None) -> Memory:
        """Deprecate the memory with this full id (`Store.forget`)."""

        def deprecate(memory: Memory) -> Memory:
            nonlocal reason
            if not memory.active:
                return memory
            now = self.clock()
            extra = dict(memory.extra)
            if reason:
                if len(reason) > MAX_TITLE_CHARS:
                    raise TooLarge(
                        f"reason is {len(reason):,} characters; the limit is {MAX_TITLE_CHARS}"
                    )
                reason = plan.scrub(normalize_title(reason))
                extra["deprecated_reason"] = reason
            return memory.evolve(status="deprecated", valid_to=now, updated=now, extra=extra)

        memory, changed = self.rewrite(memory_id, deprecate)
        if changed:
            events.append(self.settings.events_path, "forget", id=memory_id, reason=reason)
        return memory

    def rewrite(self, memory_id: str, change: Callable[[Memory], Memory]) -> tuple[Memory, bool]:
        """Rewrite the memory with this full id as `change` makes it (its file and its row, in
        one save unit): the memory as it is now, and whether it changed."""
        with unit(self.index, self.vault, self.settings.state_dir) as staged:
            row = index.get(staged.conn, memory_id)
            if row is None:
                raise NotFound(f"no memory with id {memory_id!r}")
            changed = change(row.memory)
            if changed == row.memory:
                return row.memory, False
            linked = index.files_of(staged.conn, changed.related)
            write = plan.render(changed, row.file, {i: _stem(f) for i, f in linked.items()})
            staged.stage(write.memory, write.file, write.data, write.fingerprint)
        return changed, True


def apply(staged: Unit, decided: Plan) -> None:
    """Stage a plan's files and rows (the new memory's first), add its edges, prune."""
    for write in decided.writes:
        staged.stage(write.memory, write.file, write.data, write.fingerprint)
    staged.link(decided.edges, decided.pruned)


def _stem(file: str) -> str:
    return file.removesuffix(".md")
