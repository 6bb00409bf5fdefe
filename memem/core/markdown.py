"""Memory <-> markdown with YAML frontmatter. Pure: strings in, strings out.

A memory file is frontmatter, a blank line, the content, and (when the memory has related
memories) a generated `## Related` list of `[[wikilinks]]` so Obsidian's graph view and
backlinks work. The list is regenerated on every write and ignored on read: `related` in the
frontmatter is the truth.

Parsing tolerates a BOM, CRLF line ends, YAML dates and loosely typed values typed by hand in
Obsidian, and keeps unknown keys. It refuses YAML aliases (a "billion laughs" bomb) and
anything that does not describe a memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final

from memem.core import provenance
from memem.core.memory import Memory, format_datetime, title_from_content, to_datetime
from memem.core.provenance import Provenance
from memem.errors import InvalidInput, TooLarge

MAX_FRONTMATTER_CHARS: Final = 64 * 1024
# Frontmatter nests lists and mappings at most this deep. memem writes depth 1 (a flow list)
# and hand-written notes rarely go past 3; a deeper structure would make every consumer that
# walks it (the YAML constructor, json.dumps into the index, to_dict) recurse, so it is refused
# while it is still a stream of parser events, before anything is built from it.
MAX_FRONTMATTER_DEPTH: Final = 20

FIELDS: Final = (
    "id",
    "schema_version",
    "title",
    "project",
    "branch",
    "private",
    "tags",
    "situations",
    "layer",
    "importance",
    "status",
    "source_type",
    "source_session",
    "created",
    "updated",
    "valid_to",
    "related",
    "contradicts",
    "provenance",
)

_PLAIN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_ ./()+-]*")
_YAML_WORDS: Final = frozenset(
    ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]
)  # compared lowercased: YAML 1.1 reads these as booleans or null
_NEEDS_ESCAPE: Final = re.compile(
    "[^\x09\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# Fields written only when they hold something: a file without them is what older builds
# wrote, and reads the same.
_OPTIONAL: Final = frozenset(["situations", "branch", "private", "provenance"])
_FENCE: Final = re.compile(r"\A---[ \t]*\n")
_RELATED_BLOCK: Final = re.compile(r"(?:\A|\n)## Related\n(?:- \[\[[^\[\]\n]*\]\]\n|\n)*\Z")


# -- rendering ---------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A YAML scalar for `text`: plain when unambiguous, else a double-quoted JSON string."""
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _YAML_WORDS:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _NEEDS_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_quote(v) for v in value) + "]"
    if isinstance(value, Provenance):
        return provenance.render(value)
    return _quote(str(value))


def _extra_yaml(extra: Mapping[str, Any]) -> str:
    import yaml  # only files with unknown keys pay for PyYAML when rendering

    return yaml.safe_dump(
        dict(extra), allow_unicode=True, sort_keys=False, default_flow_style=False, width=10_000
    )


def render(memory: Memory, links: Mapping[str, str] | None = None) -> str:
    """The file text for `memory`. `links` maps related ids to file stems for the wikilinks."""
    lines = ["---"]
    for name in FIELDS:
        if name in _OPTIONAL and not getattr(memory, name):
            continue
        lines.append(f"{name}: {_value(getattr(memory, name))}")
    head = "\n".join(lines) + "\n"
    if memory.extra:
        head += _extra_yaml(memory.extra)
    if len(head) - len("---\n") > MAX_FRONTMATTER_CHARS:
        # `split` would refuse the file: refuse to write it instead.
        raise TooLarge(
            f"the frontmatter would be {len(head) - 4:,} characters; the limit is "
            f"{MAX_FRONTMATTER_CHARS:,} (fewer or shorter tags, a shorter title)"
        )
    body = memory.content + "\n"
    if memory.related or _RELATED_BLOCK.search(body):
        # An empty block still goes out when the content itself ends like one, so that the
        # reader strips ours and never the user's.
        links = links or {}
        items = "".join(f"- [[{links.get(i, i)}]]\n" for i in memory.related)
        body += "\n## Related\n\n" + items
    return head + "---\n\n" + body


# -- parsing -----------------------------------------------------------------------------------


# -- the fast path: frontmatter as memem writes it, read without PyYAML -----------------------
#
# A rebuild reads every file, and PyYAML's constructor costs ~0.3 ms a file. Frontmatter that
# uses only what `render` emits (`key: scalar` lines; scalars null, ints, our timestamps, plain
# words, JSON-style double-quoted strings, flow lists of those) is read here, to exactly the
# values PyYAML would give. Anything else, however small, goes to PyYAML.

_PRINTABLE: Final = re.compile(
    "[\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*"
)
_LINE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (\S.*)")
_INT: Final = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_STAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_JSON_STRING: Final = r'"(?:[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029]|\\["\\bfnrt]|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*"'
_QUOTED: Final = re.compile(_JSON_STRING)
_ITEM: Final = rf"(?:{_JSON_STRING}|[A-Za-z][A-Za-z0-9_ ./()+-]*)"
_FLOW: Final = re.compile(rf"\[(?:{_ITEM}(?:, {_ITEM})*)?\]")
_FLOW_ITEM: Final = re.compile(rf"{_ITEM}")
_NO_VALUE: Final = object()


def _fast_scalar(text: str) -> object:
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _STAMP.fullmatch(text):
        return to_datetime(text)
    if _QUOTED.fullmatch(text):
        return json.loads(text)
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _YAML_WORDS:
        return text
    return _NO_VALUE


def _fast_load(text: str) -> dict[str, Any] | None:
    """The mapping in `text` if it is in memem's own simple form, else None."""
    if not _PRINTABLE.fullmatch(text):
        return None
    data: dict[str, Any] = {}
    for line in text.split("\n"):
        match = _LINE.fullmatch(line)
        if match is None or match.group(1).lower() in _YAML_WORDS:
            return None
        raw = match.group(2)
        if raw.startswith("{"):
            if not provenance.RENDERED.fullmatch(raw):
                return None
            data[match.group(1)] = json.loads(raw)
        elif raw.startswith("["):
            if not _FLOW.fullmatch(raw):
                return None
            items = [_fast_scalar(item) for item in _FLOW_ITEM.findall(raw)]
            if any(item is _NO_VALUE for item in items):
                return None
            data[match.group(1)] = items
        else:
            value = _fast_scalar(raw)
            if value is _NO_VALUE:
                return None
            data[match.group(1)] = value
    return data


def _load_yaml(text: str) -> dict[str, Any]:
    fast = _fast_load(text.strip("\n"))
    if fast is not None:
        return fast
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(yaml.parse(text, loader))
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"invalid YAML frontmatter: {problem}") from None
    except RecursionError:
        raise InvalidInput("frontmatter nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("frontmatter is not a mapping of keys to values")
    return {str(k): v for k, v in data.items()}


def _check_events(parsed: Iterable[Any]) -> None:
    """Refuse aliases (a "billion laughs" bomb) and nesting past MAX_FRONTMATTER_DEPTH, from
    the parser's flat event stream (which never recurses, however deep the text nests)."""
    import yaml

    depth = 0
    for event in parsed:
        if isinstance(event, yaml.AliasEvent):
            raise InvalidInput("YAML aliases are not allowed in frontmatter")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_FRONTMATTER_DEPTH + 1:  # + 1: the frontmatter mapping itself
                raise InvalidInput(
                    f"frontmatter nested more than {MAX_FRONTMATTER_DEPTH} levels deep"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def split(text: str) -> tuple[dict[str, Any], str]:
    """Frontmatter mapping and body of a markdown file's text."""
    from frontmatter.default_handlers import YAMLHandler

    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not _FENCE.match(text):
        return {}, text
    try:
        fm, body = YAMLHandler().split(text)
    except ValueError:
        raise InvalidInput("frontmatter opened with '---' but never closed") from None
    if len(fm) > MAX_FRONTMATTER_CHARS:
        raise InvalidInput(f"frontmatter over {MAX_FRONTMATTER_CHARS} characters")
    return _load_yaml(fm), body


def _int(meta: Mapping[str, Any], name: str, default: int) -> int:
    value = meta.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    try:
        return int(str(value).strip().upper().removeprefix("L"))
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None


def _strings(meta: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = meta.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[,\s]+", value) if part)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v is not None)
    raise InvalidInput(f"{name} must be a list, got {type(value).__name__}")


def _lines(meta: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A list of sentences (`situations`): one string is one sentence (never split at commas
    like tags); entries that are not text (a nested list, a mapping, null) are left out."""
    value = meta.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if isinstance(v, str | int | float | date))
    raise InvalidInput(f"{name} must be a list, got {type(value).__name__}")


# What a hand-edited `private:` may say to mean "not private"; any other value keeps the memory
# private: a typo must not send it to a shared remote.
_NOT_PRIVATE: Final = frozenset(["", "false", "no", "off", "0", "n"])


def _private(meta: Mapping[str, Any]) -> bool:
    value = meta.get("private")
    if value is None or value is False:
        return False
    return str(value).strip().lower() not in _NOT_PRIVATE


def _when(meta: Mapping[str, Any], name: str, default: datetime | None) -> datetime | None:
    value = meta.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, datetime | date | str):
        return to_datetime(value)
    raise InvalidInput(f"{name} must be a date, got {value!r}")


def _text(meta: Mapping[str, Any], name: str, default: str) -> str:
    value = meta.get(name)
    if value is None:
        return default
    if isinstance(value, list | dict):
        raise InvalidInput(f"{name} must be text, got a {type(value).__name__}")
    return str(value)


def parse(text: str, *, fallback_id: str, fallback_time: datetime, fallback_title: str) -> Memory:
    """The memory in a file's text. Missing fields take the fallbacks (a note written in
    Obsidian has no id): the caller derives them from the file's path and mtime.

    Raises InvalidInput with the reason when the text does not describe a memory.
    """
    meta, body = split(text)
    content = body.strip("\n")
    if match := _RELATED_BLOCK.search(content + "\n"):
        content = content[: match.start()]
    created = _when(meta, "created", fallback_time) or fallback_time
    return Memory(
        id=_text(meta, "id", fallback_id),
        title=_text(meta, "title", "") or title_from_content(content) or fallback_title,
        content=content,
        project=_text(meta, "project", "global"),
        tags=_strings(meta, "tags"),
        situations=_lines(meta, "situations"),
        layer=_int(meta, "layer", 2),
        importance=_int(meta, "importance", 3),
        status=_text(meta, "status", "active").strip().lower(),
        source_type=_text(meta, "source_type", "user").strip().lower(),
        source_session=_text(meta, "source_session", "") or None,
        created=created,
        updated=_when(meta, "updated", created) or created,
        valid_to=_when(meta, "valid_to", None),
        related=_strings(meta, "related"),
        contradicts=_strings(meta, "contradicts"),
        schema_version=_int(meta, "schema_version", 1),
        branch=_text(meta, "branch", "") or None,
        private=_private(meta),
        # A value that is not a pointer is dropped here; the vault logs why.
        provenance=provenance.lenient(meta.get("provenance")),
        extra={k: v for k, v in meta.items() if k not in FIELDS},
    )
