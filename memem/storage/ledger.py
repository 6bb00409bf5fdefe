"""The injection ledger: what memem put into the model's context, and whether it was used.

Every injection (a hook's slice, an `active_memory_slice` / `context_assemble` call) is one
JSON line in `<state>/ledger/ledger.jsonl`: when, which session and event, a keyed digest of
the prompt (never the prompt), the transcript it belongs to, and each item's id, role, score,
characters and source. Detection (`memem.service.usage`) later appends a decision line per
injection: which memories the assistant used. Readers merge the two.

    {"kind": "injection", "at", "session_id", "event", "prompt_digest", "transcript", "chars",
     "items": [{"id", "role", "score", "chars", "source"}]}
    {"kind": "decision", "at", "injection_at", "session_id", "used": {memory_id: bool}}

A line is appended with one `os.write` on an `O_APPEND` descriptor, so a `kill -9` leaves at
worst a torn last line, which readers skip. The file rotates to `ledger-<ns>.jsonl` at
`ROTATE_BYTES`, `KEEP` of them kept: the ledger is bounded. Directory 0700, files 0600; it
lives in the state dir and never leaves the machine.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from os import PathLike
    from typing import Any, Final

    from memem.core.slice import Slice

DIR: Final = "ledger"
FILE: Final = "ledger.jsonl"
KEY: Final = "key"
ROTATE_BYTES: Final = 2 * 1024 * 1024
KEEP: Final = 4  # rotated files kept, besides the live one
# Items that are not memories (the files a session touched, its goal, a playbook): never
# judged used or not.
NOT_MEMORIES: Final = ("artifacts:", "goal:", "playbook:")
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW


def iso(when: float) -> str:
    """`when` (epoch seconds) as ISO 8601 UTC with milliseconds: 2026-12-04T15:30:00.123Z."""
    ms = round(when * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO date (`2026-12-04`, midnight UTC) or datetime
    (`2026-12-04T15:30`, `...:00.123Z`, `+02:00`; naive means UTC). ValueError otherwise."""
    import datetime as dt  # readers only, never on the hook's path

    raw = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise ValueError(
            f"not an ISO date or datetime: {text!r} (e.g. 2026-12-04 or 2026-12-04T15:30:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def is_memory(item_id: str) -> bool:
    return not item_id.startswith(NOT_MEMORIES)


def ledger_dir(state_dir: str | PathLike[str]) -> str:
    return os.path.join(state_dir, DIR)


def _key(folder: str) -> bytes:
    """The ledger's 32-byte digest key, made on first use (0600). Published with a hard link,
    so two first writers agree on one key and no reader sees half of one."""
    path = os.path.join(folder, KEY)
    try:
        with open(path, "rb") as f:
            key = f.read(64)
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    temp = os.path.join(folder, f".key-{os.getpid()}-{time.monotonic_ns()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, os.urandom(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:  # another process made it first: use theirs
        pass
    finally:
        os.unlink(temp)
    with open(path, "rb") as f:
        key = f.read(64)
    if len(key) != 32:
        raise OSError(f"ledger key {path} is not 32 bytes")
    return key


def digest(state_dir: str | PathLike[str], prompt: str) -> str:
    """The prompt's keyed BLAKE2b digest (hex): the ledger matches a prompt without keeping it,
    and without the key (in the state dir only) nobody can test guesses against it."""
    return digester(state_dir)(prompt)


def digester(state_dir: str | PathLike[str]) -> Callable[[str], str]:
    """`digest` for many prompts, the key read once (a detection pass digests every prompt of
    the transcripts it reads)."""
    try:
        # `hashlib` loads OpenSSL (~3 ms of a hook process); BLAKE2 is its own small module.
        from _blake2 import blake2b
    except ImportError:  # a Python built without it
        from hashlib import blake2b

    folder = ledger_dir(state_dir)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    key = _key(folder)

    def keyed(prompt: str) -> str:
        return blake2b(prompt.encode("utf-8", "replace"), key=key, digest_size=16).hexdigest()

    return keyed


def _append(state_dir: str | PathLike[str], entry: dict[str, Any]) -> None:
    folder = ledger_dir(state_dir)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, FILE)
    # ASCII: any text a caller hands in (a model's session id with an unpaired surrogate, bidi
    # or control characters) is escaped, never a failed write or a raw character in the file.
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, _FLAGS, 0o600)
    try:
        if os.fstat(fd).st_size + len(line) > ROTATE_BYTES:
            os.close(fd)
            fd = -1
            _rotate(folder, path)
            fd = os.open(path, _FLAGS, 0o600)
        os.write(fd, line)
    finally:
        if fd >= 0:
            os.close(fd)


def _rotate(folder: str, path: str) -> None:
    """Move the full live file aside and drop the oldest rotated ones past `KEEP`."""
    import contextlib

    with contextlib.suppress(FileNotFoundError):  # another writer rotated it just now
        if os.stat(path).st_size > 0:
            os.replace(path, os.path.join(folder, f"ledger-{time.time_ns()}.jsonl"))
    for old in _rotated(folder)[:-KEEP]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, old))


def _rotated(folder: str) -> list[str]:
    """Rotated files, oldest first."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []

    def ns(name: str) -> int:
        stem = name[len("ledger-") : -len(".jsonl")]
        return int(stem) if stem.isdigit() else -1

    return sorted((n for n in names if n.startswith("ledger-") and n.endswith(".jsonl")), key=ns)


# The slice's names for where an item came from, as the ledger says them to the user.
SOURCES: Final = {"graph": "neighbour"}


def record_slice(
    state_dir: str | PathLike[str],
    slice: Slice,
    *,
    event: str,
    session_id: str | None,
    prompt: str,
    transcript: str | None = None,
    now: float | None = None,
) -> None:
    """Append one injection line for `slice` (nothing for a slice that injected nothing)."""
    if slice.abstained or not slice.items:
        return
    items = [
        {
            "id": i.id,
            "role": i.role,
            "score": round(i.score, 4),
            "chars": len(i.title) + len(i.text),
            "source": SOURCES.get(i.source, i.source),
        }
        for i in slice.items
    ]
    entry = {
        "kind": "injection",
        "at": iso(time.time() if now is None else now),
        "session_id": session_id or None,
        "event": event,
        "prompt_digest": digest(state_dir, prompt),
        "transcript": transcript or None,
        "chars": len(slice.markdown),
        "items": items,
    }
    _append(state_dir, entry)


def decide(
    state_dir: str | PathLike[str],
    injection_at: str,
    session_id: str | None,
    used: dict[str, bool],
    *,
    now: float | None = None,
) -> None:
    """Append the decision for the injection at `injection_at` in `session_id`: for each memory
    id, whether the assistant used it. An empty `used` closes the injection undecided."""
    entry = {
        "kind": "decision",
        "at": iso(time.time() if now is None else now),
        "injection_at": injection_at,
        "session_id": session_id or None,
        "used": {str(k): bool(v) for k, v in used.items()},
    }
    _append(state_dir, entry)


def _lines(state_dir: str | PathLike[str]) -> list[dict[str, Any]]:
    """Every well-formed line, oldest first; torn or foreign lines are skipped."""
    folder = ledger_dir(state_dir)
    found: list[dict[str, Any]] = []
    for name in [*_rotated(folder), FILE]:
        try:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read(ROTATE_BYTES * 2)
        except (FileNotFoundError, IsADirectoryError):
            continue
        for raw in data.splitlines():
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError):
                continue  # a line torn by a kill -9 mid-write
            if isinstance(entry, dict) and entry.get("kind") in ("injection", "decision"):
                found.append(entry)
    return found


def read(
    state_dir: str | PathLike[str],
    *,
    session_id: str | None = None,
    since: float | None = None,
    limit: int | None = None,
    undecided: bool = False,
) -> list[dict[str, Any]]:
    """Injections, newest last: each item carries `used` (true, false, or null while
    undecided, and always null for what is not a memory), and the injection `decided` (a
    decision line closed it). `since`: epoch seconds; `limit`: the newest N;
    `undecided`: only injections no decision closed yet."""
    lines = _lines(state_dir)
    decisions: dict[tuple[Any, Any], dict[str, Any]] = {}
    for entry in lines:
        if entry.get("kind") == "decision" and isinstance(entry.get("used"), dict):
            key = (entry.get("injection_at"), entry.get("session_id"))
            decisions.setdefault(key, {}).update(entry["used"])
    floor = iso(since) if since is not None else None
    out: list[dict[str, Any]] = []
    for entry in lines:
        if entry.get("kind") != "injection" or not isinstance(entry.get("items"), list):
            continue
        if session_id is not None and entry.get("session_id") != session_id:
            continue
        if floor is not None and str(entry.get("at", "")) < floor:
            continue
        decided = decisions.get((entry.get("at"), entry.get("session_id")))
        if undecided and decided is not None:
            continue
        used = decided or {}
        items = []
        for item in entry["items"]:
            if not isinstance(item, dict):
                continue
            judged = is_memory(str(item.get("id", "")))
            items.append({**item, "used": used.get(str(item.get("id"))) if judged else None})
        out.append({**entry, "items": items, "decided": decided is not None})
    return out[-limit:] if limit else out
