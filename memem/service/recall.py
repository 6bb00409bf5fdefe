"""Assembling the Active Memory Slice from the index: the I/O half of `memem.core.slice`.

Used by the hooks (on every prompt, so it imports only the standard library, the pure core
and the index reader: no MCP SDK, no LLM SDK, no watchdog, no vault parsing), by the store
(`Store.slice`) and so by the CLI and the MCP tools. Continuity lives in one small JSON file
per session under `<state>/sessions/`.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from memem.core.fence import label
from memem.core.memory import normalize_project
from memem.core.prompts import is_trivial, topic_shifted
from memem.core.ranking import Scored
from memem.core.slice import (
    Environment,
    Slice,
    merge,
    note,
    prefer_branch,
    propose,
    render,
    select,
)
from memem.core.text import query_terms
from memem.core.utility import cut, relevance
from memem.storage import index, retrieval
from memem.storage import projects as aliases
from memem.storage.files import write_atomic
from memem.storage.utility import Utility
from memem.storage.workspace import environment, read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from os import PathLike
    from typing import Final

    from memem.service.semantic import Semantic
    from memem.storage.index import Connection, Row

# Memories the slice's search brings at most (the slice's item cap is 12, anchors and
# neighbours share it).
SEARCH_LIMIT: Final = 8
# Graph neighbours are fetched for the best few hits only, and only strong edges count; a
# neighbour's score is half its hit's, times the edge's.
NEIGHBOURS_OF: Final = 3
NEIGHBOUR_MIN: Final = 0.3
NEIGHBOUR_SHARE: Final = 0.5
# L0 anchors of the project shown at most.
ANCHORS: Final = 8
# What the session kept after compaction, and its playbook, rank just under a goal (1.0).
KEPT_SCORE: Final = 0.95
PLAYBOOK_SCORE: Final = 0.9
# Memory ids a session remembers as injected, and as kept for compaction, at most.
INJECTED_KEPT: Final = 500
KEEP_KEPT: Final = 40
GOAL_CHARS: Final = 2000
TOPIC_SHIFT: Final = 0.2
TRANSCRIPT_TAIL: Final = 256 * 1024
SESSION_LIMIT: Final = 1024 * 1024
PLAYBOOK_CHARS: Final = 4000
# sha256 of each playbook as memem wrote it, by project, in the state dir; a playbook (and
# that file) larger than the limit is not read.
PLAYBOOK_HASHES: Final = "playbooks.json"
HASHES_LIMIT: Final = 1 << 20
KEEP_ROLES: Final = ("goals", "constraints", "decisions", "open_tensions")


class Session:
    """What one Claude Code session has seen, kept between its hook calls."""

    __slots__ = ("anchored", "goal", "injected", "keep", "terms", "updated")

    def __init__(
        self,
        injected: list[str] | None = None,
        terms: list[str] | None = None,
        anchored: bool = False,
        keep: list[str] | None = None,
        goal: str = "",
        updated: float = 0.0,
    ) -> None:
        self.injected = injected or []
        self.terms = terms or []
        self.anchored = anchored
        self.keep = keep or []
        self.goal = goal
        self.updated = updated

    @classmethod
    def load(cls, path: str | None) -> Session:
        if path is None:
            return cls()
        try:
            raw = read_regular(path, SESSION_LIMIT)
            if raw is None:
                return cls()
            data = json.loads(raw)
            return cls(
                injected=[str(i) for i in data.get("injected", [])][-INJECTED_KEPT:],
                terms=[str(t) for t in data.get("terms", [])],
                anchored=bool(data.get("anchored")),
                keep=[str(i) for i in data.get("keep", [])],
                goal=str(data.get("goal", ""))[:GOAL_CHARS],
                updated=float(data.get("updated", 0.0)),
            )
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def save(self, path: str | None) -> None:
        if path is None:
            return
        self.updated = time.time()
        data = json.dumps({n: getattr(self, n) for n in self.__slots__}).encode()
        write_atomic(path, data, durable=False)  # a cache: a power cut may lose it


def session_path(state_dir: str | PathLike[str], session_id: str | None) -> str | None:
    if not session_id:
        return None
    safe = "".join(c for c in session_id if c.isalnum() or c in "-_")[:80]
    return os.path.join(state_dir, "sessions", f"{safe}.json") if safe else None


def _scored(rows: Sequence[Row], source: str, scores: Sequence[float]) -> list[Scored]:
    return [Scored(r.memory, score, source) for r, score in zip(rows, scores, strict=True)]


def searched(
    conn: Connection,
    query: str,
    projects: Sequence[str] | None,
    *,
    max_layer: int = 2,
    include_deprecated: bool = False,
    limit: int = SEARCH_LIMIT,
    semantic: Semantic | None = None,
    utility: Callable[[Sequence[str]], Mapping[str, float]] | None = None,
    include_archived: bool = False,
) -> tuple[list[Scored], str]:
    """THE search, for the slice and for an explicit search alike: (the memories, best first,
    and the ranking that ran: "hybrid" or "lexical"). Ranked with the memories' source
    sessions and, when `semantic` has the model at hand, their closeness in meaning; nothing
    at all unless the best of them clears the relevance floor (`memem.core.ranking`). Only the
    scope differs: the slice asks for this project and global memories, active, L0-L2 (the
    defaults); `Store.search` for any project or one, L0-L3, archived ones too, deprecated ones
    on request. `utility` (`factors_of`) weighs in each memory's record of use."""
    dense = None
    if semantic is not None and query.strip():
        dense = semantic.nearest(
            conn,
            query,
            projects=projects,
            max_layer=max_layer,
            include_deprecated=include_deprecated,
        )
    found = retrieval.search(
        conn,
        query_terms(query),
        projects=projects,
        max_layer=max_layer,
        include_deprecated=include_deprecated,
        limit=limit,
        dense=dense,
        dense_floor=semantic.floor if semantic is not None else 1.0,
        dense_weight=semantic.weight if semantic is not None else 0.0,
        utility=utility,
        include_archived=include_archived,
    )
    return found, "lexical" if dense is None else "hybrid"


def factors_of(state_dir: str | PathLike[str]) -> Callable[[Sequence[str]], dict[str, float]]:
    """Memory ids -> their ranking factors from the utility store (none without one)."""

    def factors(ids: Sequence[str]) -> dict[str, float]:
        with Utility.open(state_dir) as store:
            return store.factors(ids)

    return factors


def anchors(conn: Connection, project: str) -> list[Scored]:
    return _scored(rows := index.anchors(conn, project, ANCHORS), "anchor", [1.0] * len(rows))


def neighbours(conn: Connection, hits: Sequence[Scored], projects: Sequence[str]) -> list[Scored]:
    """Strong graph neighbours of the best hits (one hop), active, not archival, in scope."""
    scored: dict[str, float] = {}
    for hit in hits[:NEIGHBOURS_OF]:
        hit_id = hit.memory.id
        for src, dst, _type, score in index.edges_of(conn, hit_id):
            other = dst if src == hit_id else src
            if score >= NEIGHBOUR_MIN:
                share = hit.score * score * NEIGHBOUR_SHARE
                scored[other] = max(scored.get(other, 0.0), share)
    rows = [
        r
        for r in index.get_many(conn, list(scored)).values()
        if r.memory.active and r.memory.layer <= 2 and r.memory.project in projects
    ]
    return _scored(rows, "graph", [scored[r.memory.id] for r in rows])


def _playbook_hashes(state_dir: str | PathLike[str]) -> dict[str, str]:
    data = read_regular(os.path.join(state_dir, PLAYBOOK_HASHES), HASHES_LIMIT)
    try:
        loaded = json.loads(data) if data else {}
    except (ValueError, RecursionError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str)}


def record_playbook(state_dir: str | PathLike[str], project: str, text: str) -> None:
    """Remember the sha256 of the playbook memem just wrote for `project`
    (`<state>/playbooks.json`): only that text is injected at session start."""
    import hashlib

    hashes = _playbook_hashes(state_dir)
    hashes[project] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = os.path.join(state_dir, PLAYBOOK_HASHES)
    write_atomic(path, json.dumps(hashes, sort_keys=True).encode())


def _note(state_dir: str | PathLike[str], event: str, path: str) -> None:
    """A warning in memem's log; in a hook, where no entry point has set logging up (and stderr
    must stay quiet), one JSON line appended to `<state>/logs/hooks.log`."""
    import logging

    log = logging.getLogger("memem.service.recall")
    if log.hasHandlers():
        log.warning(event, extra={"path": path})
        return
    entry = {
        "ts": time.time(),
        "level": "warning",
        "logger": log.name,
        "event": event,
        "path": path,
    }
    with contextlib.suppress(OSError):
        os.makedirs(os.path.join(state_dir, "logs"), mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | os.O_NOFOLLOW
        fd = os.open(os.path.join(state_dir, "logs", "hooks.log"), flags, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
        finally:
            os.close(fd)


def playbook(
    vault_dir: str | PathLike[str], project: str, state_dir: str | PathLike[str]
) -> list[Scored]:
    """The project's playbook, if it is memem's own unedited output. It is generated from
    memories that passed the scan; a hand edit (or a file memem never wrote) has not, and
    would reach the model as trusted context at every session start, so it is skipped."""
    import hashlib  # session start and compaction only: not on the prompt path

    path = os.path.join(vault_dir, "memem", "playbooks", f"{project}.md")
    data = read_regular(path, HASHES_LIMIT + 1)
    if data is None:
        return []
    expected = _playbook_hashes(state_dir).get(project)
    if len(data) > HASHES_LIMIT or hashlib.sha256(data).hexdigest() != expected:
        _note(state_dir, "playbook not injected: not as memem wrote it (edited by hand?)", path)
        return []
    text = data.decode("utf-8", errors="replace")[:PLAYBOOK_CHARS]
    body = text.split("---", 2)[-1].strip() if text.startswith("---") else text.strip()
    if not body:
        return []
    book = note(f"playbook:{project}", f"{project} playbook", body, layer=0, project=project)
    return [Scored(book, PLAYBOOK_SCORE, "playbook")]


def touched_files(transcript: str | None, limit: int = 8) -> list[str]:
    """Files the session read or changed, newest first, from the transcript's tail."""
    if not transcript:
        return []
    data = read_regular(transcript, TRANSCRIPT_TAIL, tail=True)
    if data is None:
        return []
    tail = data.decode("utf-8", errors="replace").splitlines()
    found: list[str] = []
    for line in reversed(tail):
        if '"tool_use"' not in line or "file_path" not in line:
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
            continue
        message = entry.get("message") if isinstance(entry, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            given = block.get("input") if isinstance(block, dict) else None
            path = given.get("file_path") if isinstance(given, dict) else None
            if isinstance(path, str) and path not in found:
                found.append(path)
        if len(found) >= limit:
            break  # newest first: the rest of the tail is older
    return found[:limit]


def build(
    conn: Connection,
    query: str,
    *,
    state_dir: str | PathLike[str],
    vault_dir: str | PathLike[str],
    project: str | None = None,
    cwd: str | None = None,
    session_id: str | None = None,
    transcript: str | None = None,
    event: str = "prompt",
    deltas: bool = False,
    topic_shift: float = TOPIC_SHIFT,
    task_mode: str | None = None,
    semantic: Semantic | None = None,
    learning: bool = False,
    ledger: str | None = None,
) -> Slice:
    """The slice for `query`. `event` is "prompt", "start" (session start: anchors and the
    playbook), "compact" (after compaction: anchors and what the session kept) or "file"
    (about to touch a file: memories that mention it). With `learning` each memory's record
    of use weighs in the ranking, and a weak match that is seldom used is left out
    (`memem.core.utility`). With `ledger` (the hook event or MCP tool name), what the slice
    injects is recorded under that name (`memem.storage.ledger`)."""
    env = environment(cwd) if cwd else Environment()
    if project:
        scope = aliases.canonical(aliases.aliases(state_dir), normalize_project(project))
    else:
        scope = env.project or "global"
        # Memories saved under the folder's name before the project was named after its
        # remote are this project's (recorded once; a busy index tries at the next prompt).
        with contextlib.suppress(OSError, index.SQLiteError):
            aliases.adopt(conn, state_dir, env.folder, env.project)
    path = session_path(state_dir, session_id)
    session = Session.load(path)
    terms = query_terms(query)
    seen: set[str] = set(session.injected)
    if event == "prompt" and is_trivial(query):
        return Slice("", True, reason="trivial prompt", project=scope)
    if event == "prompt" and topic_shifted(session.terms, terms, topic_shift):
        # A new topic: what was injected earlier is worth repeating, but for the project's L0
        # anchors, which session start and compaction keep in context.
        seen &= {r.memory.id for r in index.anchors(conn, scope, ANCHORS)}
    groups: list[list[Scored]] = []
    hits: list[Scored] = []
    ranking = "lexical"
    if terms:
        projects = sorted({scope, "global"})
        factors: dict[str, float] = {}
        weak: dict[str, float] = {}

        def weigh(ids: Sequence[str]) -> Mapping[str, float]:
            with Utility.open(state_dir) as store:
                found, rates = store.learned(ids)
            factors.update(found)
            weak.update(rates)
            return factors

        utility = weigh if learning else None
        matches, ranking = searched(conn, query, projects, semantic=semantic, utility=utility)
        top = max((m.score for m in matches), default=1.0) or 1.0
        hits = [m.evolve(score=m.score / top) for m in matches]
        plain = relevance([(h.memory.id, h.score) for h in hits], factors)
        hits = [
            h
            for h in hits
            if not cut(
                h.score,
                factors.get(h.memory.id, 1.0),
                weak.get(h.memory.id, 1.0),
                plain[h.memory.id],
            )
        ]
        groups.append(hits)
        if hits:
            groups.append(neighbours(conn, hits, projects))
    anchors_due = event in ("start", "compact") or not session.anchored
    if anchors_due:
        groups.append(anchors(conn, scope))
        if event in ("start", "compact"):
            groups.append(playbook(vault_dir, scope, state_dir))
    if event == "compact":
        kept = index.get_many(conn, session.keep)
        groups.append(_scored(list(kept.values()), "kept", [KEPT_SCORE] * len(kept)))
        if session.goal:
            goal = note(
                f"goal:{session_id}",
                "What this session asked to keep",
                session.goal,
                layer=0,
                project=scope,
                tags=("goal",),
            )
            groups.append([Scored(goal, 1.0, "kept")])
    # A prompt or file gets a slice only when memory has something relevant to it (its
    # anchors then ride along once); session start and compaction bring the anchors anyway.
    if not hits and (event in ("prompt", "file") or not any(groups)):
        session.terms = terms or session.terms
        session.save(path)
        return Slice("", True, reason="nothing relevant in memory", project=scope, ranking=ranking)
    files = touched_files(transcript) if hits else []
    if files:
        touched = note(
            f"artifacts:{session_id or 'cli'}",
            "Files this session touched",
            "\n".join(files),
            layer=2,
            project=scope,
        )
        groups.append([Scored(touched, 0.0, "artifact")])
    # The cwd's branch, when the slice is for the cwd's project.
    branch = env.branch if scope == env.project else ""
    items = select(
        prefer_branch(merge(*groups), branch),
        seen=seen if event != "compact" else set(),
        task_mode=task_mode,
    )
    if not [i for i in items if i.source != "artifact"]:
        session.terms = terms or session.terms
        session.save(path)
        return Slice(
            "",
            True,
            reason="everything relevant was already injected",
            project=scope,
            ranking=ranking,
        )
    # The header names the slice's scope, and the branch; render marks the items of others.
    where = Environment(project=scope, branch=branch)
    text = render(items, where)
    session.injected += [i.id for i in items if i.id not in session.injected]
    session.terms = terms or session.terms
    session.anchored = session.anchored or anchors_due
    session.keep = list(
        dict.fromkeys(
            [*session.keep, *(i.id for i in items if i.role in KEEP_ROLES or i.source == "anchor")]
        )
    )[-KEEP_KEPT:]
    session.save(path)
    built = Slice(
        text,
        False,
        tuple(items),
        tuple(propose(query, items)) if deltas else (),
        project=scope,
        ranking=ranking,
    )
    if ledger:
        from memem.storage import ledger as injections

        with contextlib.suppress(OSError):  # the slice goes out even if the ledger cannot
            injections.record_slice(
                state_dir,
                built,
                event=ledger,
                session_id=session_id,
                prompt=query,
                transcript=transcript,
            )
    return built


def remember_compaction(
    state_dir: str | PathLike[str], session_id: str | None, instructions: str
) -> None:
    """PreCompact: keep the user's compaction instructions as the session's goal; the items
    already marked to keep (goals, constraints, decisions, tensions, anchors) stay marked."""
    path = session_path(state_dir, session_id)
    if path is None:
        return
    session = Session.load(path)
    if instructions.strip():
        session.goal = instructions.strip()[:GOAL_CHARS]
    session.save(path)


def status_line(conn: Connection, scope: str) -> str:
    mine, everything = index.scope_counts(conn, scope)
    # Outside the fence: the project name goes through `label` (one line, no markup).
    return f"memem: {mine} memories for {label(scope)}, {everything} in all"
