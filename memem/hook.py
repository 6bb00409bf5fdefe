"""`memem hook <Event>`: Claude Code hooks. Reads the event's JSON payload on stdin, writes
`hookSpecificOutput.additionalContext` on stdout, and never fails the user's prompt: any
error exits 0 with no output and a log line.

    SessionStart      the project's slice with its L0 anchors (and, after `compact`, what
                      the session kept); a one-line status with MEMEM_SHOW_BANNER=1
    UserPromptSubmit  the slice for the prompt (nothing for a trivial or unrelated prompt)
    PreToolUse        with MEMEM_PRETOOL_GATING=1: memories about the file a Read, Edit or
                      Write is about to touch
    PreCompact        records what the session must keep (re-injected after compaction)

Each slice a hook injects is recorded in the ledger under the event's name, with the
payload's transcript_path (memem.storage.ledger; `memem ledger` shows it).

A hook is a thin client of the engine (memem.engine.client): it passes the payload on and
prints the answer. When no engine answers (not running, restarting, turned off with
MEMEM_ENGINE=off), it answers in-process and starts the engine in the background. That
fallback imports only the standard library, the pure core and the index reader (the three
standard modules it avoids cost ~20 ms a prompt). `tests/test_hook.py` checks what a hook
process loads, on the engine's path and on the fallback's.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

EVENTS: Final = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PreCompact")
FILE_TOOLS: Final = ("Read", "Edit", "Write", "MultiEdit", "NotebookEdit")
MAX_STDIN: Final = 4 * 1024 * 1024
# Claude Code gives a hook 5 s; a locked index is given up on well before (the prompt then
# goes without a slice).
BUSY_TIMEOUT_MS: Final = 500


def _output(event: str, context: str) -> str:
    if not context:
        return ""
    import json

    return json.dumps(
        {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}}
    )


def parse(raw: bytes) -> dict[str, Any]:
    """The event's payload (a JSON object) from the hook's stdin."""
    import json  # not on the engine's path: ~10 ms of a hook process

    payload = json.loads(raw.decode("utf-8", errors="replace") or "{}")
    if not isinstance(payload, dict):
        raise ValueError("hook payload is not a JSON object")
    return payload


def respond(
    event: str,
    payload: Mapping[str, Any],
    env: Mapping[str, str],
    conn: Any = None,
    semantic: Any = None,
) -> str:
    """The hook's stdout for one event (may be empty). `conn`: an open index connection
    (the engine's); by default the index is opened for this call. `semantic`: the engine's
    embedding model and vectors (`memem.service.semantic`); without it recall is lexical."""
    from memem import settings
    from memem.service import recall
    from memem.storage.index import Index

    if event not in EVENTS:
        raise ValueError(f"unknown hook event {event!r}")
    state_dir = settings.state_dir(env)
    index_path = os.path.join(state_dir, settings.INDEX_FILE)
    if conn is None and not os.path.exists(index_path):
        return ""
    cwd = str(payload.get("cwd") or env.get("CLAUDE_PROJECT_DIR") or os.getcwd())
    session_id = str(payload.get("session_id") or "") or None
    transcript = payload.get("transcript_path")
    shift = settings.topic_shift(env, recall.TOPIC_SHIFT)
    common: dict[str, Any] = {
        "state_dir": state_dir,
        "vault_dir": settings.vault_dir(env),
        "cwd": cwd,
        "session_id": session_id,
        "transcript": transcript if isinstance(transcript, str) else None,
        "topic_shift": shift,
        "semantic": semantic,
        "learning": settings.learning(env),
    }
    idx = None if conn is not None else Index(index_path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    try:
        if idx is not None:
            conn = idx.connection()
        if event == "UserPromptSubmit":
            prompt = payload.get("prompt")
            if not isinstance(prompt, str):
                raise ValueError("UserPromptSubmit payload without a text prompt")
            built = recall.build(conn, prompt, ledger=event, **common)
            return _output(event, built.markdown)
        if event == "SessionStart":
            source = str(payload.get("source") or "startup")
            built = recall.build(
                conn,
                "",
                event="compact" if source == "compact" else "start",
                ledger=event,
                **common,
            )
            parts = [built.markdown]
            if env.get("MEMEM_SHOW_BANNER") == "1":
                parts.insert(0, recall.status_line(conn, built.project))
            return _output(event, "\n".join(p for p in parts if p))
        if event == "PreToolUse":
            if env.get("MEMEM_PRETOOL_GATING") != "1" or payload.get("tool_name") not in FILE_TOOLS:
                return ""
            tool_input = payload.get("tool_input")
            path = tool_input.get("file_path") if isinstance(tool_input, dict) else None
            if not isinstance(path, str) or not path:
                return ""
            name = os.path.basename(path)
            built = recall.build(conn, name, event="file", ledger=event, **common)
            return _output(event, built.markdown)
        if event == "PreCompact":
            recall.remember_compaction(
                state_dir, session_id, str(payload.get("custom_instructions") or "")
            )
        return ""
    finally:
        if idx is not None:
            idx.close()


def main(event: str) -> int:
    """Entry point: always exits 0; failures are logged, never shown to the prompt. The
    engine answers when it can; else the hook answers in-process and starts the engine."""
    started = time.perf_counter()
    from memem import settings
    from memem.engine import client

    env = os.environ
    if env.get(settings.MINER_CHILD) == "1":
        return 0  # inside memem's own headless `claude -p`: stay out of the way
    engine = client.enabled(env)
    try:
        raw = sys.stdin.buffer.read(MAX_STDIN)
        out = client.hook(event, raw, env, settings.state_dir(env)) if engine else None
        if out is None:
            out = respond(event, parse(raw), env).encode("utf-8")
        else:
            engine = False  # it answered: it runs
        if out:
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
    except Exception:
        _log_failure(event, env)
    else:
        if env.get("MEMEM_HOOK_LOG") == "1":
            _log_failure(event, env, ok=time.perf_counter() - started)
    if engine:
        try:
            client.start(env)  # the next prompt gets the warm engine
        except Exception:
            _log_failure(event, env)
    return 0


def _log_failure(event: str, env: Mapping[str, str], ok: float | None = None) -> None:
    """One log line in <state>/logs/hooks.log; best effort, silent."""
    try:
        import logging

        from memem import logs
        from memem.settings import Settings

        logs.setup(Settings.from_env(env).log_dir, name="hooks")
        log = logging.getLogger("memem.hook")
        if ok is None:
            log.exception("hook failed", extra={"hook_event": event})
        else:
            log.info("hook ran", extra={"hook_event": event, "ms": round(ok * 1000, 1)})
    except Exception:
        pass
