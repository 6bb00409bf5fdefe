"""The append-only event log (`events.jsonl` in the state dir): what memem did, one JSON line each.

Every string in a record passes the secret redaction on its way in (`security.redact`), so
nothing a caller passes (a project, a reason, a path) puts a secret in the log.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("memem.storage.events")

# A field nested deeper than this is logged as its type name: records are flat by design.
MAX_DEPTH = 4


def _redacted(value: Any, depth: int = 0) -> Any:
    from memem.core import security

    if isinstance(value, str):
        return security.redact(value)
    if depth >= MAX_DEPTH:
        return type(value).__name__
    if isinstance(value, dict):
        return {str(k): _redacted(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return security.redact(str(value))


def append(path: Path, event: str, **fields: Any) -> None:
    record = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
        **{k: _redacted(v) for k, v in fields.items()},
    }
    line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        # The log records what was done; failing to record it (a full disk) must not turn
        # a done save into a reported failure.
        log.warning("could not append to the event log", exc_info=True)
