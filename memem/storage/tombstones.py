"""Tombstones: the record of memories purged for good, `<state>/tombstones.jsonl`.

A purge (`Store.purge`) is the only hard delete. Its tombstone (id, when, why) stays so that
sync pushes it (`tombstones/<id>.json` in a channel's remote) and never takes the memory back
from a remote that still has it; an incoming tombstone purges the memory here as well and is
recorded the same way. One JSON object a line, rewritten whole and atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from memem.storage.files import write_atomic

FILE: Final = "tombstones.jsonl"
MAX_REASON_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A purged memory: its id, when it was purged (ISO-8601 UTC) and why."""

    id: str
    at: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "at": self.at, "reason": self.reason}

    def to_json(self) -> bytes:
        """The remote's `tombstones/<id>.json`: the same bytes on every device."""
        return (json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Any) -> Tombstone | None:
        """A tombstone from parsed JSON, None when it is not one."""
        if not isinstance(data, dict):
            return None
        memory_id, at, reason = data.get("id"), data.get("at"), data.get("reason", "")
        if not isinstance(memory_id, str) or not memory_id or not isinstance(at, str):
            return None
        return cls(memory_id, at, str(reason)[:MAX_REASON_CHARS])

    @classmethod
    def from_json(cls, data: bytes) -> Tombstone | None:
        try:
            return cls.from_dict(json.loads(data.decode("utf-8")))
        except (ValueError, RecursionError):
            return None


def read(state_dir: Path) -> dict[str, Tombstone]:
    """Every tombstone by id (a line that is not one is skipped)."""
    try:
        text = (state_dir / FILE).read_text("utf-8", "replace")
    except FileNotFoundError:
        return {}
    found: dict[str, Tombstone] = {}
    for line in text.splitlines():
        if line.strip():
            stone = Tombstone.from_json(line.encode())
            if stone is not None:
                found.setdefault(stone.id, stone)
    return found


def add(state_dir: Path, stone: Tombstone) -> Tombstone:
    """Record `stone`, unless its id has one already (returned then)."""
    known = read(state_dir)
    if stone.id in known:
        return known[stone.id]
    lines = [json.dumps(t.to_dict(), sort_keys=True) for t in (*known.values(), stone)]
    write_atomic(state_dir / FILE, ("\n".join(lines) + "\n").encode())
    return stone
