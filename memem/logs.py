"""Logging for entry points: structured JSON lines (structlog) to a rotating file in the state
dir, never stdout.

stdout is a protocol channel for the MCP server and the hooks, so nothing here writes to it.
Library modules log through the standard `logging` module; each entry point calls `setup`
once, before anything else runs.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

MAX_BYTES: Final = 5 * 1024 * 1024
BACKUPS: Final = 3
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(log_dir: Path, *, name: str = "memem", level: int = logging.INFO) -> None:
    """Send every memem log record to `<log_dir>/<name>.log` (rotated). Best effort: a state
    dir that cannot be written must not stop the command itself."""
    root = logging.getLogger("memem")
    root.setLevel(level)
    root.propagate = False
    if root.handlers:
        return
    try:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_dir / f"{name}.log", maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(_formatter())
    root.addHandler(handler)


def _formatter() -> logging.Formatter:
    """structlog's JSON rendering of standard-library records (timestamp, level, logger,
    event, every `extra` field), or a plain JSON formatter where structlog is missing (a hook
    logging a failure runs without site-packages)."""
    try:
        import structlog
    except ImportError:
        return JsonFormatter()
    return structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.format_exc_info,
        ],
    )
