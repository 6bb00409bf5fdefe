"""Quarantine: vault files whose content the security scan refuses, and the user's releases.

A memory that arrives by a vault edit or an import and carries a threat (prompt injection,
exfiltration) is not indexed as a memory: it is recorded in the index's `quarantine` table
(file, id, reason, content hash), so search, the slice and the hooks never see it, and its
file is left exactly as it is. `memem quarantine release ID` is the user overruling a false
positive after review. A release is remembered here, OUTSIDE the derived index (which
`rebuild-index` recreates), keyed by the memory's id and the file's content hash: an edit
after the release changes the hash, and the new content is scanned again.

The releases file is `<state>/quarantine-releases.json`: `{"<id>": "<sha256 of the file>"}`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

RELEASES_FILE: Final = "quarantine-releases.json"


@dataclass(frozen=True, slots=True)
class QuarantinedMemory:
    """One quarantined vault file: the memory's id, its file name and why it was refused."""

    id: str
    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "file": self.file, "reason": self.reason}


def releases(state_dir: Path) -> dict[str, str]:
    """id -> content hash of every release; an unreadable file releases nothing."""
    try:
        data = json.loads((state_dir / RELEASES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def record_release(state_dir: Path, memory_id: str, content_hash: str) -> None:
    """Remember that the user released `memory_id` with exactly this content (atomic, 0600)."""
    data = releases(state_dir)
    data[memory_id] = content_hash
    fd, tmp = tempfile.mkstemp(prefix=f".{RELEASES_FILE}.", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, state_dir / RELEASES_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
