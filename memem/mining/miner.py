"""The miner: settled Claude Code transcripts become memories, and no part is ever lost.

State lives in `<state>/miner.sqlite3` (memem.storage.miner_state): per session file its byte
cursor, how many chunks of the current part are done, attempts, status and last error; the
opt-in; the circuit breaker; and an FTS5 index of the transcripts' exchanges.

One part of a session (the bytes from its cursor to the last complete line) is mined chunk by
chunk; each chunk's memories are saved through the store's one save path (security scan,
dedup, contradiction, layers) before the chunk is counted done, and the cursor moves only
when the whole part is done. A crash or a failing model at any point leaves the cursor where
it was: the same part is mined again later, and the store's dedup absorbs what was saved.

    pending -> mined                  (cursor moved; the file may grow: pending again)
            -> failed (transient)     retried after a backoff; dead after MAX_FAILURES
            -> dead (permanent)       retried after a long backoff (a day, doubling each
                                      time it dies again, at most a week), at once when
                                      the file changes or on request (`--retry-failed`)
            -> skipped                memem's own `claude -p` sessions (run in
                                      `<state>/miner-cwd`, see memem.core.transcript)

Transient failures are 429, 408, 5xx, timeouts, resets and malformed replies (an HTML page,
cut-off or wrong JSON: `MalformedReply`); each is retried RETRIES_IN_PLACE times at once,
then the session waits `backoff()`; after MAX_FAILURES failed attempts it is dead. A
permanent failure (a 401, a 400, a claude CLI that exits non-zero, anything unknown) makes it
dead at once. Dead is not forever: a 401 works again once the key is fixed, so a dead session
is retried automatically after `dead_backoff()`; one call a day at most is cheap.

Stopping (`Miner.stop`, the daemon's SIGTERM) never waits on the model: no new call starts,
a retry pause wakes at once, and a call in flight is given DRAIN_SECONDS to finish before it
is abandoned (the backend's `cancel()` kills the claude child / closes the HTTP client). An
abandoned chunk is simply not counted done: the cursor has not moved, so nothing is lost.

Everything the miner stores (the exchanges index, errors, project and session names) and
everything it sends to a model goes through `memem.core.security.redact`.

The model sees the chunk's entries numbered and cites the ones each memory came from; the
miner turns them into the memory's provenance (memem.core.provenance: session and entry uuids,
never text). Every model call's tokens go on the receipt in the miner's state; once a UTC
day's total reaches `daily_tokens`, mining pauses (`Outcome.status` "paused"): no call
starts, the cursor and the chunks done stay, and the next day it resumes where it stopped.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from memem.core import provenance
from memem.core.text import clip
from memem.core.transcript import MINER_CWD, project_slug
from memem.errors import MememError, PermanentError, SecurityError, TransientError
from memem.service.provenance import attach
from memem.storage.miner_state import MinerState, SessionRow, scrub

if TYPE_CHECKING:
    from memem.mining.backends import Backend
    from memem.service.store import Store

log = logging.getLogger("memem.mining.miner")

MAX_FAILURES: Final = 5
BACKOFF_BASE: Final = 60.0
BACKOFF_MAX: Final = 6 * 3600.0
RETRIES_IN_PLACE: Final = 2
RETRY_AFTER_MAX: Final = 20.0
MAX_READ: Final = 64 * 1024 * 1024
RETRY_PAUSE: Final = 2.0  # the first in-place retry's pause; doubles
DEAD_BACKOFF: Final = 24 * 3600.0
DEAD_BACKOFF_MAX: Final = 7 * 24 * 3600.0
DRAIN_SECONDS: Final = 5.0  # how long a stop waits for a model call in flight


@dataclass(frozen=True, slots=True)
class Outcome:
    """What mining one session did."""

    path: str
    status: str
    memories: int = 0
    duplicates: int = 0
    refused: int = 0
    error: str = ""


def _storable(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (a lone surrogate) replaced: an error message
    may quote a model's reply, and the miner database must be able to store it."""
    return text.encode("utf-8", "replace").decode("utf-8")


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next attempt: exponential with jitter, at least the
    server's own hint, which is capped at BACKOFF_MAX (a `retry-after: 999999` must not park
    a session longer than a dead one waits)."""
    delay = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)
    delay *= random.uniform(0.5, 1.5)
    hint = retry_after if retry_after is not None and math.isfinite(retry_after) else 0.0
    return float(max(delay, min(hint, BACKOFF_MAX)))


def dead_backoff(attempts: int) -> float:
    """Seconds a dead session waits before it is tried again on its own: a day the first
    time, doubling each further time it dies (`attempts` past MAX_FAILURES), at most a week."""
    rounds = max(attempts - MAX_FAILURES, 0)
    return float(min(DEAD_BACKOFF * 2**rounds, DEAD_BACKOFF_MAX) * random.uniform(1.0, 1.2))


def session_files(directories: Iterable[Path]) -> Iterator[tuple[str, int, float]]:
    """Every `*.jsonl` transcript under the session dirs (one level of project folders;
    subagent transcripts in `<session>/subagents/` are sidechains and are not mined)."""
    for root in directories:
        try:
            projects = list(os.scandir(root))
        except OSError:
            continue
        for project in projects:
            if not project.is_dir(follow_symlinks=False):
                continue
            try:
                entries = list(os.scandir(project.path))
            except OSError:
                continue
            for entry in entries:
                if entry.name.endswith(".jsonl") and entry.is_file(follow_symlinks=False):
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    yield entry.path, st.st_size, st.st_mtime


class Miner:
    """Mines sessions into a store with one backend; one session at a time."""

    def __init__(
        self,
        store: Store,
        state: MinerState,
        backend: Backend,
        *,
        deadline: float | None = None,
        retry_pause: float = RETRY_PAUSE,
        daily_tokens: int = 0,
    ) -> None:
        self.store = store
        # The cap on a UTC day's tokens (settings.miner_daily_tokens; 0: none): once reached,
        # no model call starts until the next day, and the cursor waits where it is.
        self.daily_tokens = daily_tokens
        self.state = state
        self.backend = backend
        self.retry_pause = retry_pause
        self._stop = threading.Event()
        # The claude-cli backend's own working dir (`<state>/miner-cwd`): sessions run there,
        # or filed in its project folder, are memem's own extraction runs (memem.core.transcript).
        self.own_cwd = state.path.parent / MINER_CWD
        # time.monotonic() past which no new model call starts (`daemon run --once` must
        # return in bounded time even when the API hangs).
        self.deadline = deadline

    def stop(self) -> None:
        """Stop soon, from any thread (a signal handler included): no new model call, no
        retry pause, and a call in flight abandoned after DRAIN_SECONDS."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _own_session(self, path: str, cwd: str | None) -> bool:
        """Whether a transcript is one of memem's own `claude -p` runs: run in `own_cwd` (by
        either spelling of the path), or, when no record of this part names its cwd, filed
        under the project folder Claude Code names after `own_cwd`."""
        spellings = {str(self.own_cwd), os.path.realpath(self.own_cwd)}
        if cwd is not None:  # the records say where it ran: a folder-name collision is not it
            return cwd in spellings or os.path.realpath(cwd) in spellings
        return Path(path).parent.name in {project_slug(s) for s in spellings}

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def capped(self, now: float) -> bool:
        """Whether today's (UTC) tokens reached the daily cap: mining pauses, nothing is lost."""
        return self.daily_tokens > 0 and self.state.tokens_today(now) >= self.daily_tokens

    def _receipt(self, now: float) -> None:
        """Add the backend's last call to the token receipt (a backend without one, the
        heuristic, spends none)."""
        take = getattr(self.backend, "take_usage", None)
        used = take() if callable(take) else None
        if used:
            self.state.record_tokens(self.backend.name, used, now)

    def mine(self, path: str, *, now: float | None = None, explicit: bool = False) -> Outcome:
        """Mine the unmined part of one session. Never raises for a model failure: the
        failure is recorded and the cursor stays. Any other error (a bug, a reply the store
        cannot write) is recorded against this session too, with its backoff: a loop over the
        due sessions then moves on to the next one and never calls the model for the same
        session again and again."""
        now = time.time() if now is None else now
        try:
            return self._mine(path, now=now, explicit=explicit)
        except Exception as exc:
            row = self.state.row(path)
            if row is None:  # not even discovered (an unreadable path): nothing to record
                raise
            log.exception("mining a session failed unexpectedly", extra={"path": path})
            return self._failed(row, f"{type(exc).__name__}: {exc}", now, None, 0)

    def _mine(self, path: str, *, now: float, explicit: bool) -> Outcome:
        from memem.core import security, transcript

        if self.capped(now):  # before reading anything: the cursor waits for tomorrow
            return Outcome(path, "paused")
        row = self.state.row(path)
        if row is None:
            st = os.stat(path)
            self.state.discover([(path, st.st_size, st.st_mtime)])
            row = self.state.row(path)
            assert row is not None
        try:
            with open(path, "rb") as handle:
                handle.seek(row.cursor)
                data = handle.read(MAX_READ)
        except OSError as exc:
            self.state.update(
                path,
                status="dead",
                last_error=f"cannot read: {exc}",
                next_attempt=now + dead_backoff(row.attempts),
            )
            return Outcome(path, "dead", error=scrub(str(exc)))
        parsed = transcript.parse(data, offset=row.cursor)
        if parsed.end == row.cursor and len(data) >= MAX_READ:
            # One line longer than the read window: step over it, or the cursor never moves.
            self.state.update(path, cursor=_next_line(path, row.cursor + MAX_READ))
            log.warning("skipped an oversized transcript line", extra={"path": path})
            return self._mine(path, now=now, explicit=explicit)
        # Both travel to the model, the miner's database and the vault: scrubbed like the text
        # (a folder named after a token is rare, but it is a path a secret can take).
        project = security.redact(
            self.store.project_of(parsed.cwd).project if parsed.cwd else (row.project or "global")
        )
        session = security.redact(parsed.session_id or row.session_id or Path(path).stem)
        if parsed.headless or self._own_session(path, parsed.cwd):
            self.state.update(path, status="skipped", cursor=parsed.end, session_id=session)
            return Outcome(path, "skipped")
        # Secrets never reach a model (and the store scrubs again before anything is written).
        messages = [replace(m, text=security.redact(m.text)) for m in parsed.messages]
        self.state.update(path, session_id=session, project=project)
        if not messages:
            self.state.update(path, status="mined", cursor=parsed.end, chunks_done=0, mined_at=now)
            return Outcome(path, "mined")
        self.state.index_exchanges(
            session,
            project,
            row.cursor,
            [(e.user, e.assistant, e.timestamp[:10]) for e in transcript.exchanges(messages)],
        )
        saved = duplicates = refused = 0
        chunks = transcript.chunks(messages)
        for number, chunk in enumerate(chunks):
            if number < row.chunks_done:
                continue  # done before a crash or a failure: its memories are saved
            if self.stopping or self._out_of_time():
                return Outcome(path, "pending", saved, duplicates, refused)
            if self.capped(now):
                log.info("mining paused: the daily token cap is reached", extra={"path": path})
                return Outcome(path, "paused", saved, duplicates, refused)
            try:
                lessons = self._extract(chunk, project, now)
            except TransientError as exc:
                return self._failed(row, str(exc), now, exc.retry_after, saved)
            except PermanentError as exc:
                return self._dead(row, str(exc), now, saved)
            if lessons is None:  # stopping: this chunk is not done, the cursor stays
                return Outcome(path, "pending", saved, duplicates, refused)
            for lesson in lessons:
                try:
                    result = self.store.add(
                        lesson.content,
                        title=lesson.title,
                        project=project,
                        tags=(lesson.type, *lesson.tags),
                        layer=lesson.layer,
                        importance=lesson.importance,
                        source_type="mined",
                        source_session=session,
                        situations=lesson.situations,
                        branch=transcript.learned_on(chunk),
                    )
                except SecurityError:
                    refused += 1
                    continue
                except MememError as exc:
                    log.warning("a mined memory was not saved", extra={"reason": scrub(str(exc))})
                    refused += 1
                    continue
                pointer = provenance.cite(session, [m.uuid for m in chunk], lesson.sources)
                if pointer is not None:
                    attach(self.store, result.memory.id, pointer)
                if result.outcome == "created":
                    saved += 1
                else:
                    duplicates += 1
            self.state.update(path, chunks_done=number + 1, memories=row.memories + saved)
        self.state.update(
            path,
            status="mined",
            cursor=parsed.end,
            chunks_done=0,
            attempts=0,
            last_error=None,
            next_attempt=0,
            mined_at=now,
            memories=row.memories + saved,
        )
        self.state.note_result(True, now)
        refine_playbook(self.store, project)
        log.info(
            "mined a session part",
            extra={
                "path": path,
                "memories": saved,
                "duplicates": duplicates,
                "backend": self.backend.name,
            },
        )
        return Outcome(path, "mined", saved, duplicates, refused)

    def _extract(self, chunk: Any, project: str, now: float) -> list[Any] | None:
        """One chunk through the backend, with a couple of quick retries for a transient
        failure before it is recorded (the backoff across runs handles longer outages).
        None when the miner is stopping: the chunk was not (fully) extracted. Every call's
        tokens go on the receipt, a failed one's too."""
        for attempt in range(RETRIES_IN_PLACE + 1):
            if self.stopping:
                return None
            try:
                try:
                    return self._call(chunk, project)
                finally:
                    self._receipt(now)
            except TransientError as exc:
                too_long = (exc.retry_after or 0) > RETRY_AFTER_MAX
                if attempt == RETRIES_IN_PLACE or too_long or self._out_of_time():
                    raise
                pause = min(exc.retry_after or self.retry_pause * 2**attempt, RETRY_AFTER_MAX)
                if self._stop.wait(pause * random.uniform(0.8, 1.2)):
                    return None
        raise AssertionError("unreachable")

    def _call(self, chunk: Any, project: str) -> list[Any] | None:
        """`backend.extract` on a worker thread that a stop can walk away from: a hung API
        must not hold the daemon's shutdown. None when abandoned."""
        done = threading.Event()
        result: list[Any] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                result.extend(self.backend.extract(chunk, project=project))
            except BaseException as exc:  # handed to the calling thread, which re-raises it
                failure.append(exc)
            finally:
                done.set()

        try:
            # A daemon thread: an abandoned call never keeps the process alive.
            threading.Thread(target=work, name="memem-extract", daemon=True).start()
            while not done.wait(0.1):
                if self.stopping:
                    if done.wait(DRAIN_SECONDS):
                        break
                    self._cancel()
                    log.warning("stopping: abandoned a model call in flight; chunk to redo")
                    return None
        except BaseException:  # Ctrl-C in `memem mine`: no claude child may outlive us
            self._cancel()
            raise
        if failure:
            raise failure[0]
        return result

    def _cancel(self) -> None:
        cancel = getattr(self.backend, "cancel", None)
        if callable(cancel):
            cancel()

    def _failed(
        self, row: SessionRow, error: str, now: float, retry_after: float | None, saved: int
    ) -> Outcome:
        error = scrub(_storable(error))  # it may quote the reply, which may quote the transcript
        attempts = row.attempts + 1
        dead = attempts >= MAX_FAILURES
        self.state.update(
            row.path,
            status="dead" if dead else "failed",
            attempts=attempts,
            last_error=error[:500],
            next_attempt=now + (dead_backoff(attempts) if dead else backoff(attempts, retry_after)),
        )
        status = "dead" if dead else "failed"
        self.state.note_result(False, now)
        log.warning(
            "mining failed, will retry",
            extra={"path": row.path, "error": error, "attempts": attempts},
        )
        return Outcome(row.path, status, saved, error=error)

    def _dead(self, row: SessionRow, error: str, now: float, saved: int) -> Outcome:
        # A permanent failure spends the whole transient budget at once: the next failure
        # after the long backoff doubles it (dead_backoff counts attempts past MAX_FAILURES).
        error = scrub(_storable(error))
        attempts = max(row.attempts + 1, MAX_FAILURES)
        self.state.update(
            row.path,
            status="dead",
            attempts=attempts,
            last_error=error[:500],
            next_attempt=now + dead_backoff(attempts),
        )
        self.state.note_result(False, now)
        log.warning("mining failed permanently", extra={"path": row.path, "error": error})
        return Outcome(row.path, "dead", saved, error=error)


def _next_line(path: str, start: int) -> int:
    """The offset just past the first newline at or after `start` (the file's end if none)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        while block := handle.read(1024 * 1024):
            at = block.find(b"\n")
            if at >= 0:
                return position + at + 1
            position += len(block)
    return position


def refine_playbook(store: Store, project: str) -> None:
    """`<vault>/memem/playbooks/<project>.md`: the project's anchors, conventions and recent
    decisions and fixes, regenerated from its memories after each mined session."""
    from memem.service import recall
    from memem.storage import index

    conn = store.index.connection()
    rows = index.project_memories(conn, project, 60)
    if not rows:
        return
    sections = {0: "What this project is", 1: "Conventions", 2: "Knowledge"}
    lines = [
        f"# {project} playbook",
        "",
        "Generated by memem from this project's memories; edit the memories, not this file.",
        "",
    ]
    for layer, heading in sections.items():
        group = [r for r in rows if r.memory.layer == layer][:20]
        if group:
            lines += [f"## {heading}", ""]
            lines += [f"- {clip(r.memory.content, 300)} ([[{Path(r.file).stem}]])" for r in group]
            lines.append("")
    store.vault.ensure()
    text = "\n".join(lines)
    store.vault.write_text(store.vault.playbooks_dir / f"{project}.md", text)
    # Recall injects a playbook only as written here: a hand edit is not scanned.
    recall.record_playbook(store.settings.state_dir, project, text)
