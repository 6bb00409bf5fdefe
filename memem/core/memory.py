"""The memory value: one durable lesson, as stored in one markdown file.

Pure: no files, no clock (callers pass times in), no SQLite. `Memory` normalises its fields on
construction, so every `Memory` that exists is canonical and `parse(render(m)) == m` holds.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, date, datetime

from memem.core.text import clip
from memem.core.value import Value
from memem.errors import InvalidInput, TooLarge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, Final, Literal, TypeAlias, TypeGuard

    # The fixed value sets of a memory. Types only: the hook imports this module and must not
    # load `typing`; the tuples below are what run time checks against.
    Layer: TypeAlias = Literal[0, 1, 2, 3]
    Status: TypeAlias = Literal["active", "deprecated", "archived"]
    Source: TypeAlias = Literal["mined", "user", "import"]

SCHEMA_VERSION: Final = 1
LAYERS: Final[tuple[Layer, ...]] = (0, 1, 2, 3)
SOURCE_TYPES: Final[tuple[Source, ...]] = ("mined", "user", "import")
# archived: retention took it out of automatic recall (explicit search still finds it).
STATUSES: Final[tuple[Status, ...]] = ("active", "deprecated", "archived")
GLOBAL_PROJECT: Final = "global"
SHORT_ID_LEN: Final = 8
# The limits every front-end meets before anything is written (Store.add checks them with
# `check_limits`): a memory that passes them renders to a file that parses again, with its
# frontmatter under markdown.MAX_FRONTMATTER_CHARS.
MAX_TITLE_CHARS: Final = 200
MAX_CONTENT_CHARS: Final = 100_000
MAX_TAGS: Final = 20
MAX_TAG_CHARS: Final = 64
MAX_ID_CHARS: Final = 128
# Situations: the questions or tasks a memory answers ("How do I run the migrations?"), a few
# short lines that the index and the embedding model read beside the title.
MAX_SITUATIONS: Final = 5
MAX_SITUATION_CHARS: Final = 200
# A branch name as git allows it is short; a longer one is cut (a hand-edited file is read, never
# refused for it).
MAX_BRANCH_CHARS: Final = 200
# A title made from the first line of untitled content: a line, not a paragraph.
TITLE_FROM_CONTENT_CHARS: Final = 81

_ID_PREFIX_RE: Final = re.compile(r"[0-9a-f]{4,32}")
# An id as a person may write it in a file (`id: my-note`) is an identifier, never text: it is shown beside the fence, in file names and in
# commands, so it holds ASCII letters, digits and a few separators only (ids are lowercased).
_EXACT_ID_RE: Final = re.compile(rf"[a-z0-9][a-z0-9._:+@-]{{0,{MAX_ID_CHARS - 1}}}")
_NON_SLUG: Final = re.compile(r"[^a-z0-9]+")
_NON_TAG: Final = re.compile(r"[^\w/-]+")
_NON_PROJECT: Final = re.compile(r"[^\w.-]+")
# A name no secret rule can match (the shortest token, Alibaba's LTAI..., is 16 characters and
# every other rule needs a space or punctuation outside this set) and with nothing to fold.
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{0,15}")
_SPACES: Final = re.compile(r"\s+")


def is_layer(value: object) -> TypeGuard[Layer]:
    """Whether `value` is a layer: an int 0-3 (not a bool, not 2.0)."""
    return type(value) is int and value in LAYERS


def is_status(value: object) -> TypeGuard[Status]:
    return value in STATUSES


def is_source(value: object) -> TypeGuard[Source]:
    return value in SOURCE_TYPES


def check_id(text: str) -> tuple[str, bool]:
    """Validate what a user gave as an id: `(id, is_prefix)`. A 4-32 hex-digit string may be a
    short-id prefix; anything else must be an exact id as written in a file (`my-note`)."""
    if not isinstance(text, str):
        raise InvalidInput("a memory id must be text")
    value = text.strip().lower()
    if _ID_PREFIX_RE.fullmatch(value):
        return value, True
    if _EXACT_ID_RE.fullmatch(value):
        return value, False
    raise InvalidInput(
        f"not a memory id: {text[:MAX_ID_CHARS]!r} (expected 4-32 hex digits or an exact id "
        f"of at most {MAX_ID_CHARS} letters, digits and . _ : + @ -)"
    )


def check_limits(
    title: str | None, content: str, tags: Iterable[str], *, tag_lengths: bool = True
) -> tuple[str, ...]:
    """Refuse (TooLarge) a title, content or tags over the limits; return the tags as a tuple.
    Never truncates: a cut would hide what the user asked to keep (or half of a secret).
    `tag_lengths=False` checks only how many tags there are (before they are scrubbed)."""
    if len(content) > MAX_CONTENT_CHARS:
        raise TooLarge(
            f"content is {len(content):,} characters; the limit is {MAX_CONTENT_CHARS:,}. "
            "Split it into several memories."
        )
    if title is not None and len(_SPACES.sub(" ", title).strip()) > MAX_TITLE_CHARS:
        raise TooLarge(f"title is {len(title):,} characters; the limit is {MAX_TITLE_CHARS}")
    values = tuple(str(t) for t in tags)
    if len(values) > MAX_TAGS:
        raise TooLarge(f"{len(values):,} tags; the limit is {MAX_TAGS}")
    for n, tag in enumerate(values if tag_lengths else (), start=1):
        # The message leaves the tag out: it may be a secret the scrub has not seen yet.
        if len(tag.strip().lstrip("#")) > MAX_TAG_CHARS:
            raise TooLarge(
                f"tag {n} is {len(tag):,} characters; the limit is {MAX_TAG_CHARS} per tag"
            )
    return values


def slugify(text: str, *, max_len: int = 60) -> str:
    """ASCII, lowercase, dash-separated; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "memory"


def normalize_project(name: str | None) -> str:
    """Project names as the vault, index and hooks use them (no path separators).

    A secret in the name is redacted like one in the content, and look-alike letters are
    folded (`fold_lookalike_words`), so "shop" spelt with a Cyrillic s (U+0455) is "shop".
    """
    if name is None:
        return GLOBAL_PROJECT
    if not _PLAIN_NAME.fullmatch(name):
        # Imported here: the hook names its project after a directory on every prompt and
        # must not pay for loading the scanner when the name is a plain short word.
        from memem.core.normalize import fold_lookalike_words
        from memem.core.security import redact

        name = fold_lookalike_words(redact(name))
    cleaned = _NON_PROJECT.sub("-", name.strip()).strip("-.")
    return cleaned[:100] or GLOBAL_PROJECT


def embedding_text(title: str, content: str, situations: Iterable[str] = ()) -> str:
    """What the embedding model reads of a memory: its title, its situations one a line, then
    its content (the model reads the first 256 word pieces, so what says most comes first)."""
    return "\n".join((title, *situations, content))


def normalize_situation(text: str) -> str:
    """One situation as stored: one line (whitespace collapsed), NULs dropped."""
    return _SPACES.sub(" ", text.replace("\x00", "")).strip()


def normalize_situations(situations: Iterable[str]) -> tuple[str, ...]:
    """Distinct one-line situations in order, at most MAX_SITUATIONS of at most
    MAX_SITUATION_CHARS each (clipped: a hand-edited file is read, never refused for them).
    Their secrets are the scan's, as the content's are (`memem.core.plan` on a save,
    `memem.storage.vault.vet` on a file), except that a situation is redacted before it is
    cut: the cut could leave half a secret that the scan no longer recognises."""
    seen: dict[str, None] = {}
    for raw in situations:
        text = normalize_situation(str(raw))
        if len(text) > MAX_SITUATION_CHARS:
            from memem.core.security import redact  # see normalize_project

            text = clip(redact(text), MAX_SITUATION_CHARS)
        if text:
            seen.setdefault(text, None)
    return tuple(seen)[:MAX_SITUATIONS]


def normalize_branch(name: str | None) -> str | None:
    """The git branch a memory was learned on as stored: one line, None when empty."""
    if name is None:
        return None
    text = _SPACES.sub(" ", str(name).replace("\x00", "")).strip()
    return text[:MAX_BRANCH_CHARS] or None


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Obsidian-friendly tags: no '#', no spaces, lowercase, de-duplicated in order; a secret in
    a tag is redacted like one in the content."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = _normal_tag(str(raw))
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


@functools.lru_cache(maxsize=4096)
def _normal_tag(raw: str) -> str:
    """One tag normalized: the same few tags recur across a vault, and a rebuild parses every
    file (the secret scan of each is a pure function of the text, so a remembered one is the
    same)."""
    from memem.core.security import redact  # see normalize_project

    return _NON_TAG.sub("-", redact(raw).strip().lstrip("#").lower()).strip("-/")[:MAX_TAG_CHARS]


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
            return normalize_title(clip(line, TITLE_FROM_CONTENT_CHARS))
    return "Untitled memory"


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct ids in order; what is not an id (a hand-edited link that holds text) is left
    out, so it can never reach a slice, a wikilink or a command line."""
    seen: dict[str, None] = {}
    for value in values:
        text = str(value).strip().lower()
        if _EXACT_ID_RE.fullmatch(text):
            seen.setdefault(text, None)
    return tuple(seen)


class Memory(Value):
    """One memory. Fields mirror the frontmatter; `extra` keeps unknown frontmatter keys."""

    __slots__ = (
        "branch",
        "content",
        "contradicts",
        "created",
        "extra",
        "id",
        "importance",
        "layer",
        "private",
        "project",
        "related",
        "schema_version",
        "situations",
        "source_session",
        "source_type",
        "status",
        "tags",
        "title",
        "updated",
        "valid_to",
    )

    id: Final[str]
    title: Final[str]
    content: Final[str]
    created: Final[datetime]
    updated: Final[datetime]
    project: Final[str]
    tags: Final[tuple[str, ...]]
    situations: Final[tuple[str, ...]]
    layer: Final[Layer]
    importance: Final[int]
    status: Final[Status]
    source_type: Final[Source]
    source_session: Final[str | None]
    valid_to: Final[datetime | None]
    related: Final[tuple[str, ...]]
    contradicts: Final[tuple[str, ...]]
    schema_version: Final[int]
    extra: Final[Mapping[str, Any]]
    # The git branch the memory was learned on (None: no branch, true on every branch).
    branch: Final[str | None]
    # Never leaves this machine (sync pushes no private memory).
    private: Final[bool]

    def __init__(
        self,
        id: str,
        title: str,
        content: str,
        created: datetime | date | str,
        updated: datetime | date | str,
        project: str = GLOBAL_PROJECT,
        tags: Iterable[str] = (),
        layer: int = 2,
        importance: int = 3,
        status: str = "active",
        source_type: str = "user",
        source_session: str | None = None,
        valid_to: datetime | date | str | None = None,
        related: Iterable[str] = (),
        contradicts: Iterable[str] = (),
        schema_version: int = SCHEMA_VERSION,
        extra: Mapping[str, Any] | None = None,
        situations: Iterable[str] = (),
        branch: str | None = None,
        private: bool = False,
    ) -> None:
        """Normalises every field, so a Memory is canonical; InvalidInput for bad values. The
        layer, status and source type are taken as any int or str and checked here: this is
        where a file's or a caller's value becomes a `Layer`, `Status` or `Source`."""
        if not isinstance(id, str) or not id.strip():
            raise InvalidInput("a memory needs an id")
        self.id = id.strip().lower()
        if not _EXACT_ID_RE.fullmatch(self.id):
            raise InvalidInput(
                f"id {self.id[:40]!r} is not an identifier (at most {MAX_ID_CHARS} ASCII "
                "letters, digits and . _ : + @ -)"
            )
        self.content = normalize_content(content)
        self.title = normalize_title(title) or title_from_content(self.content)
        self.created = to_datetime(created)
        self.updated = to_datetime(updated)
        self.project = normalize_project(project)
        self.tags = normalize_tags(tags)
        self.situations = normalize_situations(situations)
        self.importance = importance
        self.source_session = (str(source_session).strip() or None) if source_session else None
        self.valid_to = to_datetime(valid_to) if valid_to is not None else None
        self.related = tuple(i for i in _ids(related) if i != self.id)
        self.contradicts = tuple(i for i in _ids(contradicts) if i != self.id)
        self.schema_version = schema_version
        self.extra = dict(extra or {})
        self.branch = normalize_branch(branch)
        if not isinstance(private, bool):
            raise InvalidInput(f"private must be true or false, got {private!r}")
        self.private = private
        if not is_layer(layer):
            raise InvalidInput(f"layer must be 0-3, got {layer!r}")
        if not 1 <= importance <= 5:
            raise InvalidInput(f"importance must be 1-5, got {importance!r}")
        if not is_status(status):
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if not is_source(source_type):
            raise InvalidInput(
                f"source_type must be one of {', '.join(SOURCE_TYPES)}, got {source_type!r}"
            )
        self.layer = layer
        self.status = status
        self.source_type = source_type
        if not self.content:
            raise InvalidInput("a memory needs content")

    @classmethod
    def trusted(cls, **fields: Any) -> Memory:
        """A memory from values that are already canonical (an index row written by `upsert`):
        skips normalisation, which dominates the cost of reading many rows."""
        memory = object.__new__(cls)
        for name in cls.__slots__:
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

    def to_dict(self) -> dict[str, Any]:
        """Every frontmatter field plus `content` (and `extra` for unknown keys), JSON-ready."""
        return {
            "id": self.id,
            "schema_version": self.schema_version,
            "title": self.title,
            "project": self.project,
            "branch": self.branch,
            "private": self.private,
            "tags": list(self.tags),
            "situations": list(self.situations),
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
