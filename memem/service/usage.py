"""Deciding, after each turn, which injected memories the assistant used; and the ledger as
the CLI and the MCP tool show it.

`detect` reads the ledger's undecided injections, finds the turn each one fed in the
transcript it names (the prompt's keyed digest, else the time), and once that turn is over (a
later prompt follows, or the injection is older than the settle time) decides each memory
with `memem.core.usage`, records the uses in the utility store (`memem.storage.utility`) and
appends the decision to the ledger. The engine runs it about every minute for every user
(mining opt-in or not: it reads local files and sends nothing); `memem ledger` and
`memory_ledger` run a pass before they show the ledger. An injection whose transcript cannot
be read (an MCP call has none; a deleted file) is closed undecided after `GIVE_UP_SECONDS`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from memem.core import fence
from memem.core import usage as core
from memem.storage import index, ledger
from memem.storage.utility import Use, Utility
from memem.storage.workspace import read_regular

if TYPE_CHECKING:
    from collections.abc import Callable

    from memem.settings import Settings
    from memem.storage.index import Connection

log = logging.getLogger("memem.usage")

TRANSCRIPT_TAIL: Final = 8 * 1024 * 1024
GIVE_UP_SECONDS: Final = 24 * 3600.0
# How far a transcript's prompt time may be from the hook's, when no digest matches.
NEAR_SECONDS: Final = 600.0
SLACK_SECONDS: Final = 2.0


@dataclass
class Detection:
    """What one pass did: injections decided, memories judged used and unused, injections
    closed undecided, and those still waiting for their turn to end."""

    decided: int = 0
    used: int = 0
    unused: int = 0
    abandoned: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


def _epoch(iso: str) -> float | None:
    try:
        return ledger.parse_time(iso)
    except ValueError:
        return None


class _Transcripts:
    """Transcripts read once per pass: their exchanges, with times and prompt digests."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = state_dir
        self.cache: dict[str, list[tuple[float | None, str, core.Exchange]] | None] = {}
        self._digest: Callable[[str], str] | None = None

    def get(self, path: str) -> list[tuple[float | None, str, core.Exchange]] | None:
        if path not in self.cache:
            try:
                data = read_regular(path, TRANSCRIPT_TAIL, tail=True)
            except OSError:
                data = None
            if data is None:
                self.cache[path] = None
            else:
                self._digest = self._digest or ledger.digester(self.state_dir)
                self.cache[path] = [
                    (_epoch(x.at), self._digest(x.turn.prompt), x) for x in core.exchanges(data)
                ]
        return self.cache[path]


def find_turn(
    shot: dict[str, Any], found: list[tuple[float | None, str, core.Exchange]]
) -> core.Exchange | None:
    """The exchange the injection fed: for a prompt, the one with the same prompt digest
    (nearest in time), else the nearest prompt in time, both within NEAR_SECONDS; at session start the first prompt
    after it; before a tool call the prompt whose turn made the call."""
    at = _epoch(str(shot.get("at", "")))
    if at is None or not found:
        return None
    event = shot.get("event")
    if event == "SessionStart":
        after = [x for t, _, x in found if t is not None and t >= at - SLACK_SECONDS]
        return after[0] if after else None
    if event == "PreToolUse":
        before = [x for t, _, x in found if t is not None and t <= at + SLACK_SECONDS]
        return before[-1] if before else None
    # Near in time either way: a repeated prompt ("continue") an hour earlier is another turn.
    near = [(t, d, x) for t, d, x in found if t is None or abs(t - at) <= NEAR_SECONDS]
    same = [(t, x) for t, d, x in near if d == shot.get("prompt_digest")]
    timed = [(t, x) for t, _, x in near if t is not None]
    for candidates in (same, timed):
        if candidates:
            return min(candidates, key=lambda c: abs((c[0] if c[0] is not None else 0) - at))[1]
    return None


def detect(
    settings: Settings, *, now: float | None = None, conn: Connection | None = None
) -> Detection:
    """One pass over the undecided injections (see the module docstring)."""
    now = time.time() if now is None else now
    state = settings.state_dir
    result = Detection()
    shots = ledger.read(state, undecided=True)
    if not shots:
        return result
    opened = None
    if conn is None:
        if not settings.index_path.exists():
            result.pending = len(shots)
            return result
        opened = index.Index(settings.index_path)
        conn = opened.connection()
    transcripts = _Transcripts(state)
    try:
        with Utility.open(state) as utility:
            for shot in shots:
                _decide_one(shot, now, settings, conn, transcripts, utility, result)
    finally:
        if opened is not None:
            opened.close()
    return result


def _decide_one(
    shot: dict[str, Any],
    now: float,
    settings: Settings,
    conn: Connection,
    transcripts: _Transcripts,
    utility: Utility,
    result: Detection,
) -> None:
    state = settings.state_dir
    at = str(shot.get("at", ""))
    session = shot.get("session_id")
    age = now - (_epoch(at) or 0.0)
    ids = [str(i.get("id")) for i in shot["items"] if ledger.is_memory(str(i.get("id")))]
    path = shot.get("transcript")
    found = transcripts.get(path) if isinstance(path, str) and path and ids else None
    turn = find_turn(shot, found) if found else None
    if turn is None:
        if not ids or age >= GIVE_UP_SECONDS:
            ledger.decide(state, at, session, {}, now=now)
            result.abandoned += 1
        else:
            result.pending += 1
        return
    if not turn.closed and age < settings.settle_seconds:
        result.pending += 1
        return
    rows = index.get_many(conn, ids)
    memories = [(m.id, m.title, m.content) for m in (r.memory for r in rows.values())]
    used = core.decide(memories, turn.turn)
    try:
        scores = {str(i.get("id")): i.get("score") for i in shot["items"]}
        utility.record_uses(
            [Use(mid, at, flag, _score(scores.get(mid))) for mid, flag in used.items()]
        )
    except Exception as exc:  # a locked or damaged utility store: tried again next pass
        result.errors.append(f"{type(exc).__name__}: {exc}")
        return
    ledger.decide(state, at, session, used, now=now)
    result.decided += 1
    result.used += sum(used.values())
    result.unused += sum(not v for v in used.values())


def _score(value: Any) -> float:
    """An item's relevance as the ledger holds it (1.0 when missing or not a number)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 1.0


def ledger_view(
    settings: Settings,
    *,
    session_id: str | None = None,
    since: str | None = None,
    limit: int | None = 20,
    conn: Connection | None = None,
) -> list[dict[str, Any]]:
    """The ledger as `memem ledger --json` and `memory_ledger` show it, after a detection
    pass. `since`: an ISO date or datetime (ValueError with a clear message otherwise)."""
    floor = ledger.parse_time(since) if since else None
    try:
        detect(settings, conn=conn)
    except Exception:  # the ledger is shown even when detection cannot run
        log.exception("usage detection failed")
    shots = ledger.read(settings.state_dir, session_id=session_id or None, since=floor, limit=limit)
    keys = ("at", "session_id", "event", "prompt_digest", "transcript", "chars", "decided")
    return [{**{k: s.get(k) for k in keys}, "items": s["items"]} for s in shots]


def _mark(used: object) -> str:
    return "yes" if used is True else "no" if used is False else "?"


def _number(value: object) -> float:
    """A ledger number as shown (0 for what is not a finite one: a hand-edited line)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def render(shots: list[dict[str, Any]], *, id_chars: int = 12) -> str:
    """A readable table per injection, oldest first. Every field is shown as one plain line
    (no control, format or bidi characters, nothing that reads as the fence): a session id comes from whoever called
    `active_memory_slice` (the model), and the table reaches a terminal or the model."""
    blocks = []
    for s in shots:
        items = [i for i in s["items"] if isinstance(i, dict)]
        used = sum(1 for i in items if i.get("used") is True)
        judged = sum(1 for i in items if i.get("used") is not None)
        head = (
            f"{fence.line(str(s.get('at')), 40)}  {fence.line(str(s.get('event')), 40)}  "
            f"session {fence.line(str(s.get('session_id') or ''), 64) or '-'}  "
            f"{len(items)} items, {int(_number(s.get('chars'))):,} chars, "
            + (f"used {used}/{judged}" if s.get("decided") else "undecided")
        )
        lines = [head, f"  {'used':<5}{'score':>6}{'chars':>7}  {'role':<14}{'source':<10}id"]
        for i in items:
            lines.append(
                f"  {_mark(i.get('used')):<5}{_number(i.get('score')):>6.2f}"
                f"{int(_number(i.get('chars'))):>7}  {fence.line(str(i.get('role')), 13):<14}"
                f"{fence.line(str(i.get('source')), 9):<10}"
                f"{fence.line(str(i.get('id')), id_chars)}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
