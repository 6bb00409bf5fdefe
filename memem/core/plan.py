"""Planning a save: every decision of `Store.add`, as pure functions over frozen values.

    draft = plan.draft(content, ..., memory_id=new_id, now=now)   # validated, scrubbed
    found = <the store gathers: fingerprint match, similar memories, weights, edges, names>
    decided = plan.plan(draft, found, now)                          # what to write
    <the store applies it: index rows, then the files, the new memory's rename first>

`draft` validates and scrubs the caller's fields (one pass of `normalize_content`, one security
scan of each field). `plan` decides whether the draft is a duplicate (the same fingerprint,
or near the same words as a memory of its project), which memories it supersedes (it
contradicts them), its layer (the per-project L0 cap, a demotion when the caller asked for
L0), its graph edges and the excess edges of its neighbours to prune, and renders every file
the save writes. No files, no SQL, no clock: the store passes what it read and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from memem.core import conflict, graph, layers
from memem.core.graph import Edge
from memem.core.memory import (
    LAYERS,
    MAX_SITUATION_CHARS,
    MAX_SITUATIONS,
    Memory,
    check_limits,
    normalize_content,
    normalize_project,
    normalize_situation,
    normalize_tags,
    normalize_title,
    title_from_content,
    to_datetime,
)
from memem.errors import InvalidInput, SecurityError, TooLarge

# Related ids a memory's file lists (its strongest edges first).
RELATED_IN_FILE = 8
# The most edges a save adds to one other memory: a topical or same-project edge and a
# same-session one, or (to a memory it supersedes) `supersedes` and `contradicts`. A memory
# with room for that many more cannot lose an edge to the save (`Gathered.edges`).
NEW_EDGES_PER_MEMORY = 2
CREATED = "created"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"


def scrub(text: str, found: list[str] | None = None) -> str:
    """`text` with its secrets redacted: the one gate every field bound for a file, the index
    or the event log passes (content, title and so the file name, project, tags, situations,
    a forget reason). Raises SecurityError when the scan refuses it; appends redacted kinds to
    `found`."""
    from memem.core import security  # only writes pay for compiling its patterns

    scanned = security.scan(text)
    if scanned.refused:
        raise SecurityError(f"refused: {scanned.reason()}")
    if found is not None:
        found.extend(f.kind for f in scanned.redactions)
    return scanned.text


@dataclass(frozen=True, slots=True)
class Draft:
    """The memory a caller asked to save, validated and scrubbed, before any comparison.
    `refused` (an import only) is why the scan refused it: `memory` then holds the text as it
    came, secrets redacted, to be written and quarantined."""

    memory: Memory
    redacted: tuple[str, ...] = ()
    explicit_layer: bool = False
    refused: str | None = None

    @property
    def fingerprint(self) -> str:
        return conflict.fingerprint(self.memory.content)


def draft(
    content: str,
    *,
    memory_id: str,
    now: datetime,
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
) -> Draft:
    """The draft of a save. Raises TooLarge or InvalidInput for bad fields, SecurityError when
    the scan refuses one, unless `quarantine` (an import: the document is the user's, not a
    model's), which returns the draft with `refused` set instead. `branch`: the git branch
    the memory was learned on; `private`: it never leaves this machine."""
    made = _draft(
        content, memory_id, now, title, project, tags, layer, importance, created, source_type,
        source_session, quarantine, situations,
    )  # fmt: skip
    if not branch and not private:
        return made
    found = list(made.redacted)
    memory = made.memory.evolve(branch=scrub(branch, found) if branch else None, private=private)
    return replace(made, memory=memory, redacted=tuple(found))


def _draft(
    content: str,
    memory_id: str,
    now: datetime,
    title: str | None,
    project: str | None,
    tags: Iterable[str],
    layer: int | None,
    importance: int | None,
    created: datetime | date | str | None,
    source_type: str,
    source_session: str | None,
    quarantine: bool,
    situations: Iterable[str],
) -> Draft:
    if not isinstance(content, str):
        raise InvalidInput("content must be text")
    if isinstance(tags, str):
        tags = [t for t in tags.split(",")]
    tags = tuple(str(t) for t in tags)
    check_limits(None, content, tags, tag_lengths=False)  # sizes first: they bound the scan
    lines = _situations(situations)
    content = normalize_content(content)
    if not content:
        raise InvalidInput("content is empty")
    if layer is not None and layer not in LAYERS:
        raise InvalidInput(f"layer must be 0-3, got {layer!r}")
    if importance is not None and not (isinstance(importance, int) and 1 <= importance <= 5):
        raise InvalidInput(f"importance must be 1-5, got {importance!r}")
    when = to_datetime(created) if created is not None else now
    try:
        return _scrubbed(
            content, memory_id, now, when, title, project, tags, layer, importance, source_type,
            source_session, lines,
        )  # fmt: skip
    except SecurityError as exc:
        if not quarantine:
            raise
        reason = str(exc).removeprefix("refused: ")
    from memem.core import security

    text = security.scan(content).text
    memory = Memory(
        id=memory_id,
        title=security.scan(normalize_title(title or "")).text or title_from_content(text),
        content=text,
        project=normalize_project(project),
        tags=tags,
        situations=[security.scan(line).text for line in lines],
        layer=layer if layer is not None else 2,
        importance=importance or 3,
        created=when,
        updated=now,
        source_type=source_type,
    )
    return Draft(memory, refused=reason)


def _situations(situations: Iterable[str]) -> tuple[str, ...]:
    """The caller's situations, one line each, empty ones left out; TooLarge over the limits
    (a situation is never cut short: the cut could fall inside a secret)."""
    if isinstance(situations, str):
        situations = [situations]
    lines = tuple(line for line in (normalize_situation(str(s)) for s in situations) if line)
    if len(lines) > MAX_SITUATIONS:
        raise TooLarge(f"{len(lines):,} situations; the limit is {MAX_SITUATIONS}")
    for n, line in enumerate(lines, start=1):
        # The message leaves the text out: it may be a secret the scrub has not seen yet.
        if len(line) > MAX_SITUATION_CHARS:
            raise TooLarge(
                f"situation {n} is {len(line):,} characters; the limit is {MAX_SITUATION_CHARS}"
            )
    return lines


def _scrubbed(
    content: str,
    memory_id: str,
    now: datetime,
    created: datetime,
    title: str | None,
    project: str | None,
    tags: tuple[str, ...],
    layer: int | None,
    importance: int | None,
    source_type: str,
    source_session: str | None,
    situations: tuple[str, ...],
) -> Draft:
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
    memory = Memory(
        id=memory_id,
        title=title or title_from_content(content),
        content=content,
        project=normalize_project(project),
        tags=tags,
        situations=_scrubbed_lines(situations, found),
        layer=layer if layer is not None else 2,
        importance=importance or 3,
        created=created,
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
    return Draft(memory, tuple(found), explicit_layer=layer is not None)


def _scrubbed_lines(lines: tuple[str, ...], found: list[str]) -> list[str]:
    """Situations scrubbed as one text, one a line (a scan costs mostly its fixed part); none
    when a redaction joined lines."""
    if not lines:
        return []
    scrubbed = scrub("\n".join(lines), found).split("\n")
    return scrubbed if len(scrubbed) == len(lines) else []


@dataclass(frozen=True, slots=True)
class Known:
    """An indexed memory the store found for a draft: its file and its analysed terms."""

    memory: Memory
    file: str
    terms: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Gathered:
    """What the store read for a draft, inside the save's transaction.

    `duplicate`: the memory of the draft's project with the same fingerprint. `terms`: the
    draft's analysed terms; `candidates`: the memories sharing most weight with it, best
    first; `weights`: the IDF weight of every term of both. `pinned`: the project's active
    L0 memories (read only when the draft is L0). `edges`: the indexed edges, by id, of each
    candidate with fewer than NEW_EDGES_PER_MEMORY free places under `graph.MAX_EDGES` (one
    absent has room for what the save adds). `stems`: file stems by id, for the wikilinks of
    every file the save may rewrite. `name`: the free file name for the draft."""

    name: str
    duplicate: Memory | None = None
    terms: frozenset[str] = frozenset()
    candidates: tuple[Known, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    pinned: tuple[Known, ...] = ()
    edges: Mapping[str, tuple[Edge, ...]] = field(default_factory=dict)
    stems: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Write:
    """One memory file a save writes, rendered, with the index row's fingerprint."""

    memory: Memory
    file: str
    data: bytes
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a save does. `memory` is the new memory, or the existing one for a duplicate.
    `writes` are the files, the new memory's first (its rename is the commit point);
    `edges` are added, `pruned` removed; `superseded` are the ids it deprecates, with
    `reasons` (one each)."""

    outcome: str
    memory: Memory
    writes: tuple[Write, ...] = ()
    edges: tuple[Edge, ...] = ()
    pruned: tuple[Edge, ...] = ()
    superseded: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    redacted: tuple[str, ...] = ()
    refused: str | None = None


def wants_pinned(draft: Draft) -> bool:
    """Whether `plan` needs the project's L0 memories: only an L0 draft meets the cap."""
    return draft.memory.layer == 0


def plan(draft: Draft, found: Gathered, now: datetime) -> Plan:
    """Every decision of one save (see the module docstring)."""
    new = draft.memory
    if draft.refused is not None:
        write = render(new, found.name, {})
        return Plan(QUARANTINED, new, (write,), refused=draft.refused)
    if found.duplicate is not None:
        return Plan(DUPLICATE, found.duplicate, redacted=draft.redacted)
    superseded: list[tuple[Known, str]] = []
    claim = conflict.Claim.of(new.content)
    for known in found.candidates:
        if known.memory.project != new.project:
            continue
        reason = conflict.contradiction(
            claim, conflict.Claim.of(known.memory.content), found.terms, known.terms, found.weights
        )
        if reason:
            superseded.append((known, reason))
        elif conflict.is_near_duplicate(found.terms, known.terms, found.weights):
            return Plan(DUPLICATE, known.memory, redacted=draft.redacted)
    gone = {known.memory.id for known, _ in superseded}
    layer, demoted = _layer(draft, found.pinned, gone, now)
    new = new.evolve(layer=layer)
    edges = graph.propose(
        new,
        found.terms,
        [(k.memory, k.terms) for k in found.candidates if k.memory.id not in gone],
        found.weights,
    )
    for known, _ in superseded:
        edges += [
            Edge(new.id, known.memory.id, "supersedes", 1.0),
            Edge(new.id, known.memory.id, "contradicts", 1.0),
        ]
    memory = new.evolve(related=related(edges, new.id), contradicts=tuple(sorted(gone)))
    writes = [render(memory, found.name, found.stems)]
    writes += [render(k.memory.evolve(layer=1, updated=now), k.file, found.stems) for k in demoted]
    writes += [
        render(k.memory.evolve(status="deprecated", valid_to=now, updated=now), k.file, found.stems)
        for k, _ in superseded
    ]
    return Plan(
        CREATED,
        memory,
        tuple(writes),
        tuple(edges),
        tuple(pruned(edges, found.edges, memory.id)),
        tuple(sorted(gone)),
        tuple(reason for _, reason in superseded),
        draft.redacted,
    )


def _layer(
    draft: Draft, pinned: Sequence[Known], gone: set[str], now: datetime
) -> tuple[int, list[Known]]:
    """The draft's layer after the per-project L0 cap, and the anchor demoted to make room."""
    if draft.memory.layer != 0:
        return draft.memory.layer, []
    anchors = [k for k in pinned if k.memory.id not in gone]
    if len(anchors) < layers.L0_CAP:
        return 0, []
    if not draft.explicit_layer:
        return 1, []
    # The user asked for L0: make room by demoting the least important, oldest anchor.
    return 0, [min(anchors, key=lambda k: (k.memory.importance, k.memory.created))]


def related(edges: Sequence[Edge], memory_id: str) -> tuple[str, ...]:
    """The ids a memory's file lists as related: its strongest edges' other ends."""
    ranked = sorted(edges, key=lambda e: -e.score)
    return tuple(dict.fromkeys(e.other(memory_id) for e in ranked))[:RELATED_IN_FILE]


def pruned(
    edges: Sequence[Edge], existing: Mapping[str, Sequence[Edge]], memory_id: str
) -> list[Edge]:
    """The weakest edges to drop once `edges` (all of `memory_id`) are added: each other end
    keeps at most `graph.MAX_EDGES`. `existing` holds the indexed edges of each other end."""
    drop: list[Edge] = []
    for other in dict.fromkeys(e.other(memory_id) for e in edges):
        drop += graph.excess(with_added(existing.get(other, ()), edges, other), other)
    return drop


def with_added(existing: Iterable[Edge], added: Iterable[Edge], memory_id: str) -> list[Edge]:
    """A memory's edges once `added` are in: a pair already linked keeps the higher score.
    In the index's order (outgoing by target, then incoming by source), so that pruning picks
    the same edge among equal scores as it would reading them back."""
    merged: dict[tuple[str, str, str], Edge] = {}
    for edge in (*existing, *(e for e in added if memory_id in (e.src, e.dst))):
        have = merged.get(edge.key())
        if have is None or have.score < edge.score:
            merged[edge.key()] = edge
    out = sorted((e for e in merged.values() if e.src == memory_id), key=lambda e: (e.dst, e.type))
    into = sorted((e for e in merged.values() if e.src != memory_id), key=lambda e: (e.src, e.type))
    return out + into


def render(memory: Memory, file: str, stems: Mapping[str, str]) -> Write:
    """`memory` rendered for its `file`; `stems` gives the file stem of each linked id."""
    from memem.core import markdown  # read commands that find nothing changed never need it

    links = {i: stems[i] for i in memory.related if i in stems}
    data = markdown.render(memory, links).encode("utf-8")
    return Write(memory, file, data, conflict.fingerprint(memory.content))
