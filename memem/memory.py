"""The memory value: one durable lesson, as stored in one markdown file.

Pure: no files, no clock (callers pass times in), no SQLite. `Memory` normalises its fields on
construction, so every `Memory` that exists is canonical and `parse(render(m)) == m` holds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from memem.errors import InvalidInput

SCHEMA_VERSION: Final = 1
LAYERS: Final = (0, 1, 2, 3)
SOURCE_TYPES: Final = ("mined", "user", "import")
STATUSES: Final = ("active", "deprecated")
GLOBAL_PROJECT: Final = "global"
SHORT_ID_LEN: Final = 8
MAX_TITLE_CHARS: Final = 200
MAX_CONTENT_CHARS: Final = 100_000

_ID_PREFIX_RE: Final = re.compile(r"[0-9a-f]{4,32}")
_NON_SLUG: Final = re.compile(r"[^a-z0-9]+")
_NON_TAG: Final = re.compile(r"[^\w/-]+")
_NON_PROJECT: Final = re.compile(r"[^\w.-]+")
_SPACES: Final = re.compile(r"\s+")


def check_id_prefix(text: str) -> str:
    """Validate a full id or a short-id prefix (4-32 hex digits); return it lowercased."""
    value = text.strip().lower()
    if not _ID_PREFIX_RE.fullmatch(value):
        raise InvalidInput(f"not a memory id: {text!r} (expected 4-32 hex digits)")
    return value


def slugify(text: str, *, max_len: int = 60) -> str:
    """ASCII, lowercase, dash-separated; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "memory"


def normalize_project(name: str | None) -> str:
    """Project names as the vault, index and hooks use them (no path separators)."""
    if name is None:
        return GLOBAL_PROJECT
    cleaned = _NON_PROJECT.sub("-", name.strip()).strip("-.")
    return cleaned[:100] or GLOBAL_PROJECT


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Obsidian-friendly tags: no '#', no spaces, lowercase, de-duplicated in order."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = _NON_TAG.sub("-", str(raw).strip().lstrip("#").lower()).strip("-/")
        if tag:
            seen.setdefault(tag[:64], None)
    return tuple(seen)


def normalize_content(text: str) -> str:
    """LF line ends, no trailing spaces at line ends or at the end, no leading blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def normalize_title(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\x00", "")).strip()[:MAX_TITLE_CHARS]


def to_datetime(value: datetime | date | str) -> datetime:
    """An aware UTC datetime from a datetime, a date or an ISO-8601 string (naive means UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"not an ISO-8601 date or time: {value!r}") from None
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with a Z suffix; microseconds only when present."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def title_from_content(content: str) -> str:
    """A title for untitled content: its first heading or first line, shortened."""
    for line in content.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return normalize_title(line[:80] + ("…" if len(line) > 80 else ""))
    return "Untitled memory"


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        text = str(value).strip().lower()
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class Memory:
    """One memory. Fields mirror the frontmatter; `extra` keeps unknown frontmatter keys."""

    id: str
    title: str
    content: str
    created: datetime
    updated: datetime
    project: str = GLOBAL_PROJECT
    tags: tuple[str, ...] = ()
    layer: int = 2
    importance: int = 3
    status: str = "active"
    source_type: str = "user"
    source_session: str | None = None
    valid_to: datetime | None = None
    related: tuple[str, ...] = ()
    contradicts: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if not isinstance(self.id, str) or not self.id.strip():
            raise InvalidInput("a memory needs an id")
        put("id", self.id.strip().lower())
        put("title", normalize_title(self.title) or title_from_content(self.content))
        put("content", normalize_content(self.content))
        put("project", normalize_project(self.project))
        put("tags", normalize_tags(self.tags))
        put("created", to_datetime(self.created))
        put("updated", to_datetime(self.updated))
        if self.valid_to is not None:
            put("valid_to", to_datetime(self.valid_to))
        put("related", tuple(i for i in _ids(self.related) if i != self.id))
        put("contradicts", tuple(i for i in _ids(self.contradicts) if i != self.id))
        if self.source_session is not None:
            put("source_session", str(self.source_session).strip() or None)
        put("extra", dict(self.extra))
        if self.layer not in LAYERS:
            raise InvalidInput(f"layer must be 0-3, got {self.layer!r}")
        if not 1 <= self.importance <= 5:
            raise InvalidInput(f"importance must be 1-5, got {self.importance!r}")
        if self.status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.source_type not in SOURCE_TYPES:
            raise InvalidInput(
                f"source_type must be one of {', '.join(SOURCE_TYPES)}, got {self.source_type!r}"
            )
        if not self.content:
            raise InvalidInput("a memory needs content")

    @classmethod
    def trusted(cls, **fields: Any) -> Memory:
        """A memory from values that are already canonical (an index row written by `upsert`):
        skips normalisation, which dominates the cost of reading many rows."""
        memory = object.__new__(cls)
        for name in cls.__dataclass_fields__:
            object.__setattr__(memory, name, fields[name])
        return memory

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID_LEN]

    @property
    def filename(self) -> str:
        """`<slug>-<short id>.md`, the name of this memory's file in the vault."""
        return f"{slugify(self.title)}-{self.short_id}.md"

    @property
    def active(self) -> bool:
        return self.status == "active"

    def evolve(self, **changes: Any) -> Memory:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every frontmatter field plus `content` (and `extra` for unknown keys), JSON-ready."""
        return {
            "id": self.id,
            "schema_version": self.schema_version,
            "title": self.title,
            "project": self.project,
            "tags": list(self.tags),
            "layer": self.layer,
            "importance": self.importance,
            "status": self.status,
            "source_type": self.source_type,
            "source_session": self.source_session,
            "created": format_datetime(self.created),
            "updated": format_datetime(self.updated),
            "valid_to": format_datetime(self.valid_to) if self.valid_to else None,
            "related": list(self.related),
            "contradicts": list(self.contradicts),
            "extra": {
                k: v if isinstance(v, str | int | float | bool | None) else str(v)
                for k, v in self.extra.items()
            },
            "content": self.content,
        }
