"""The reply contract: reading a model's answer into lessons. Pure.

The contract is strict on purpose: a reply that breaks it raises `MalformedReply` with the
precise reason and nothing of it is saved. It is transient: a model (or a proxy in front of it)
that answered with garbage once usually answers properly to the same request; the miner bounds
the attempts and dead-letters a chunk whose replies stay malformed.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

from memem.core.lesson import (
    MAX_CONTENT_CHARS,
    MAX_MEMORIES,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    MEMORY_TYPES,
    Lesson,
)
from memem.core.memory import is_layer, normalize_situations
from memem.core.provenance import MAX_ENTRIES as MAX_SOURCES
from memem.errors import MalformedReply

if TYPE_CHECKING:
    from memem.core.memory import Layer

_FENCE: Final = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)(?:\r?\n)?[ \t]*```", re.S)
_OBJECT_START: Final = re.compile(r"^[ \t]*\{", re.M)
_REQUIRED: Final = ("title", "content", "type", "importance")
# A lone surrogate (`"\ud800"` is valid JSON) cannot be encoded as UTF-8: it would crash the
# first write of the memory (vault, index, miner database). json.loads joins valid pairs, so
# any surrogate left in a decoded string is a lone one.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def parse_reply(text: str) -> list[Lesson]:
    """Read a model's reply: `{"memories": [{"title", "content", "type", "tags", "importance",
    "layer", "situations"}]}`, bare or in a fenced ```json block with text around it. `tags`
    may be missing (-> ()), `layer` may be missing or null (-> None); `situations` is never a
    reason to refuse (`_situations`); unknown keys are ignored. Anything else
    raises `MalformedReply` naming the first problem found. Lone surrogates, raw or escaped,
    become U+FFFD."""
    document = _document(_SURROGATE.sub("\ufffd", text))
    if not isinstance(document, dict):
        raise MalformedReply(
            f"reply must be a JSON object with a 'memories' list, got {_kind(document)}"
        )
    if "memories" not in document:
        keys = ", ".join(repr(k) for k in list(document)[:5]) or "none"
        raise MalformedReply(f"reply has no 'memories' key (keys: {keys})")
    memories = document["memories"]
    if not isinstance(memories, list):
        raise MalformedReply(f"'memories' must be a list, got {_kind(memories)}")
    if len(memories) > MAX_MEMORIES:
        raise MalformedReply(f"too many memories: {len(memories)} (at most {MAX_MEMORIES})")
    return [_parse_memory(i, item) for i, item in enumerate(memories)]


def _document(text: str) -> Any:
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise MalformedReply("reply is empty")
    try:
        return json.loads(stripped)
    except RecursionError:
        raise MalformedReply("reply is JSON nested too deeply") from None
    except ValueError as err:
        first_error = err
    fences = [(lang.lower(), body) for lang, body in _FENCE.findall(stripped)]
    # A ```json fence wins over a bare one: models sometimes quote an example first.
    for lang, body in sorted(fences, key=lambda f: f[0] != "json"):
        if lang in ("json", ""):
            try:
                return json.loads(body)
            except RecursionError:
                raise MalformedReply("reply is JSON nested too deeply") from None
            except ValueError as err:
                raise MalformedReply(f"reply's ```{lang} block is not JSON: {err}") from None
    # An object that starts a line, with a sentence before or after it: decode that object.
    decoder = json.JSONDecoder()
    for match in _OBJECT_START.finditer(stripped):
        start = match.end() - 1
        try:
            return decoder.raw_decode(stripped, start)[0]
        except RecursionError:
            raise MalformedReply("reply is JSON nested too deeply") from None
        except ValueError:
            continue
    raise MalformedReply(f"reply is not JSON: {first_error}") from None


def _parse_memory(index: int, item: object) -> Lesson:
    where = f"memory {index}"
    if not isinstance(item, dict):
        raise MalformedReply(f"{where}: expected an object, got {_kind(item)}")
    for key in _REQUIRED:
        if key not in item:
            raise MalformedReply(f"{where}: missing {key!r}")
    title = _string(item, "title", where)
    content = _string(item, "content", where)
    kind = _string(item, "type", where).lower()
    if not title:
        raise MalformedReply(f"{where}: empty 'title'")
    if len(title) > MAX_TITLE_CHARS:
        raise MalformedReply(f"{where}: 'title' is {len(title)} chars (at most {MAX_TITLE_CHARS})")
    if not content:
        raise MalformedReply(f"{where}: empty 'content'")
    if len(content) > MAX_CONTENT_CHARS:
        raise MalformedReply(
            f"{where}: 'content' is {len(content):,} chars (at most {MAX_CONTENT_CHARS:,})"
        )
    if kind not in MEMORY_TYPES:
        raise MalformedReply(
            f"{where}: unknown type {kind!r} (expected one of {', '.join(MEMORY_TYPES)})"
        )
    importance = _integer(item["importance"], "importance", where)
    if not 1 <= importance <= 5:
        raise MalformedReply(f"{where}: 'importance' must be 1-5, got {importance}")
    layer: Layer | None = None
    if item.get("layer") is not None:
        number = _integer(item["layer"], "layer", where)
        if not is_layer(number):
            raise MalformedReply(f"{where}: 'layer' must be 0-3, got {number}")
        layer = number
    return Lesson(
        title=title,
        content=content,
        type=kind,
        tags=_tags(item.get("tags"), where),
        importance=importance,
        layer=layer,
        situations=_situations(item.get("situations")),
        sources=_sources(item.get("sources")),
    )


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise MalformedReply(f"{where}: {key!r} must be a string, got {_kind(value)}")
    return _SURROGATE.sub("\ufffd", value).strip()


def _integer(value: object, key: str, where: str) -> int:
    # 3.0 is an integer written by a sloppy serializer; True and "3" are not integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReply(f"{where}: {key!r} must be an integer, got {_kind(value)}")
    return value


def _tags(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedReply(f"{where}: 'tags' must be a list of strings, got {_kind(value)}")
    if len(value) > MAX_TAGS:
        raise MalformedReply(f"{where}: {len(value)} tags (at most {MAX_TAGS})")
    tags: dict[str, None] = {}
    for tag in value:
        if not isinstance(tag, str):
            raise MalformedReply(f"{where}: 'tags' must be a list of strings, got {_kind(tag)}")
        tag = _SURROGATE.sub("\ufffd", tag).strip()
        if tag:
            tags.setdefault(tag, None)
    return tuple(tags)


def _situations(value: object) -> tuple[str, ...]:
    """The situations a model gave, as far as they make sense: a lone string is one situation,
    entries that are not text are dropped, the rest normalised as a memory's are (one line,
    clipped, at most MAX_SITUATIONS). A lesson is never refused for them: they only help find
    it."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return normalize_situations(_SURROGATE.sub("\ufffd", v) for v in value if isinstance(v, str))


def _sources(value: object) -> tuple[int, ...]:
    """The entry numbers a model cited, as far as they are numbers: a lone number is one,
    anything that is not a positive integer is dropped, at most MAX_SOURCES kept. A lesson is
    never refused for them: they only say where it came from (the miner checks the range)."""
    if not isinstance(value, list):
        value = [value]
    found: dict[int, None] = {}
    for item in value:
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, str) and item.strip().lstrip("[").rstrip("]").isdigit():
            item = int(item.strip().lstrip("[").rstrip("]"))
        if type(item) is int and 0 < item < 1_000_000:
            found.setdefault(item, None)
    return tuple(found)[:MAX_SOURCES]


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"a number ({value!r})"
    return names.get(type(value), type(value).__name__)
