# ruff: noqa: RUF001, RUF002  (look-alike letters are the subject here)
"""Keeping memory-derived text inside the slice's fence. Pure.

The slice is one block between `<memem-memory>` and `</memem-memory>`, labelled as reference
data. Anything that reads as one of those tags inside the block would end it early (or open a
second one) and let what follows reach the prompt as plain text. So before the block is
wrapped, every span that could be read as the fence's name is replaced, whatever its
spelling: a reader (a model, a terminal, a browser) may fold case, drop spaces and zero-width
characters, decode HTML entities, %-escapes or `\\u` escapes (twice), apply NFKC, read
text after a right-to-left override backwards, or take look-alike letters (Cyrillic `е`,
fullwidth `ｍ`, `rn` for `m`) for ASCII. The *skeleton* of a text applies all of those at
once and keeps only the letters a-z, each mapped back to the span of the original it came
from; a span whose skeleton spells the fence's name (either way round) is neutralised. Only
the name is replaced (`</memem-memory>` becomes `</[fence tag removed]>`), so `List<String>`
and HTML snippets in memories are left alone.

Lines memem writes outside the block (the SessionStart banner) and the header inside it carry
names (project, branch) through `label`, which keeps them to one short line of name
characters.
"""

from __future__ import annotations

import re
import unicodedata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# "memem-memory" as its skeleton: letters only; `rn` reads as `m` in many fonts.
# Also backwards: after a right-to-left override the letters are shown in reverse.
_M: Final = "(?:m|rn)"
_W: Final = "(?:m|nr)"
NAME: Final = re.compile(f"{_M}e{_M}e{_M}{_M}e{_M}ory|yro{_W}e{_W}{_W}e{_W}e{_W}")
REPLACEMENT: Final = "[fence tag removed]"
LABEL_CHARS: Final = 80

# Look-alikes NFKD and casefold leave alone, folded to the ASCII letter they pass for
# (lowercase: applied after casefold). Digits that pass for letters are folded too.
HOMOGLYPHS: Final = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "г": "r",
    "д": "d",
    "е": "e",
    "з": "3",
    "і": "i",
    "ј": "j",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "п": "n",
    "р": "p",
    "с": "c",
    "т": "m",  # italic т is an m
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ѡ": "w",
    "ү": "y",
    "һ": "h",
    "ӏ": "l",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "μ": "m",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "ո": "n",
    "ռ": "n",
    "հ": "h",
    # Latin small capitals and other IPA look-alikes
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ı": "i",
    "ȷ": "j",
    "ɱ": "m",
    "ɯ": "m",
    "ʍ": "w",
    # digits
    "0": "o",
    "1": "l",
    "3": "e",
}
# An HTML entity (named, decimal, hex) or a %-escape: decoded before folding, repeatedly.
_ESCAPE: Final = re.compile(
    r"&(?:#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});?|%[0-9a-fA-F]{2}"
    r"|\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\})"
)
DECODE_PASSES: Final = 3

_folded: dict[str, str] = {}


def _fold(ch: str) -> str:
    """The ASCII letters one character reads as (often none)."""
    cached = _folded.get(ch)
    if cached is not None:
        return cached
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part) or unicodedata.category(part) in ("Cf", "Mn", "Me"):
            continue
        for c in part.casefold():
            c = HOMOGLYPHS.get(c, c)
            c = HOMOGLYPHS.get(c, c)  # "з" -> "3" -> "e"
            if "a" <= c <= "z":
                out.append(c)
    folded = "".join(out)
    if len(_folded) < 50_000:
        _folded[ch] = folded
    return folded


def _decode(escape: str) -> str | None:
    """The text an HTML entity, %-escape or backslash escape stands for, or None."""
    if escape[0] == "%":
        return chr(int(escape[1:], 16))
    if escape[0] == "\\":  # \u006d, \U0000006d, \x6d, \u{6d}: string-literal escapes
        number = int(escape[2:].strip("{}"), 16)
        return chr(number) if 0 < number < 0x110000 else None
    body = escape[1:].rstrip(";")
    if body[0] == "#":
        number = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
        return chr(number) if 0 < number < 0x110000 else None
    from html.entities import html5  # only for texts that hold a named entity

    return html5.get(body + ";") or html5.get(body)


def skeleton(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The letters `text` reads as, with the span of `text` each came from."""
    # Units: (characters, start, end) of the original; escapes are decoded in passes, so a
    # double-encoded `&amp;#109;` is an `m` spanning all ten characters.
    units = [(c, i, i + 1) for i, c in enumerate(text)]
    if "&" in text or "%" in text or "\\" in text:
        for _ in range(DECODE_PASSES):
            flat = "".join(u[0] for u in units)
            if "&" not in flat and "%" not in flat and "\\" not in flat:
                break
            offsets = []
            for n, u in enumerate(units):
                offsets.extend([n] * len(u[0]))
            decoded: list[tuple[str, int, int]] = []
            last = 0
            changed = False
            for m in _ESCAPE.finditer(flat):
                value = _decode(m.group())
                if value is None:
                    continue
                first, end = offsets[m.start()], offsets[m.end() - 1]
                if first < last:
                    continue
                decoded.extend(units[last:first])
                decoded.append((value, units[first][1], units[end][2]))
                last = end + 1
                changed = True
            if not changed:
                break
            units = decoded + units[last:]
    letters: list[str] = []
    spans: list[tuple[int, int]] = []
    for chars, start, end in units:
        for c in chars:
            folded = _folded.get(c)
            if folded is None:
                folded = _fold(c)
            for letter in folded:
                letters.append(letter)
                spans.append((start, end))
    return "".join(letters), spans


# The skeleton of the ASCII characters of a text without escapes, in one C call: letters
# lowercased, the digits that pass for letters folded, everything else dropped.
_ASCII: Final = str.maketrans(
    {
        **{chr(c): None for c in range(128) if not chr(c).isalpha()},
        **{d: HOMOGLYPHS[d] for d in "013"},
        **{chr(c): chr(c).lower() for c in range(65, 91)},
    }
)


def fence_spans(text: str) -> list[tuple[int, int]]:
    """The spans of `text` that read as the fence's name, in order."""
    if not _ESCAPE.search(text):  # the common case: the skeleton in C, spans only if needed
        letters = text.translate(_ASCII)
        if not letters.isascii():
            letters = letters.translate({ord(c): _fold(c) for c in set(letters) if ord(c) > 127})
        if not NAME.search(letters):
            return []
    letters, spans = skeleton(text)
    return [(spans[m.start()][0], spans[m.end() - 1][1]) for m in NAME.finditer(letters)]


def neutralise(text: str) -> str:
    """`text` with every span that reads as the fence's name replaced (see the module doc)."""
    for _ in range(8):  # a replacement never makes a new one; the loop is the proof
        found = fence_spans(text)
        if not found:
            return text
        parts = []
        last = 0
        for start, end in found:
            parts.append(text[last:start])
            parts.append(REPLACEMENT)
            last = end
        parts.append(text[last:])
        text = "".join(parts)
    return REPLACEMENT


def wrap(body: str, open_tag: str, close_tag: str) -> str:
    """`body` between the tags (`<name>` and `</name>`), neutralised, including where its first
    or last letters and a tag's would read as another tag together (a body ending in
    "yromem" reads, with the closing tag's "memem", as the name backwards)."""
    # The text is searched without the tags' outer letters ("emem-memory>" ... "</memem-memor"):
    # the tags alone then spell nothing, so every span found involves the body.
    head, tail = open_tag[2:], close_tag[:-2]
    start = len(head) + 1
    for _ in range(8):
        probe = f"{head}\n{body}\n{tail}"
        end = start + len(body)
        cut = [(max(a, start), min(b, end)) for a, b in fence_spans(probe)]
        if not cut:
            return f"{open_tag}\n{body}\n{close_tag}"
        parts = []
        last = 0
        for a, b in cut:
            parts.append(body[last : a - start])
            parts.append(REPLACEMENT)
            last = b - start
        parts.append(body[last:])
        body = "".join(parts)
    return f"{open_tag}\n{REPLACEMENT}\n{close_tag}"


_NOT_NAME: Final = re.compile(r"[^\w.+@/-]+")


def label(name: str, limit: int = LABEL_CHARS) -> str:
    """A name (project, branch) fit for one of memem's own lines: name characters only (no
    markup, entities, control or format characters, newlines), at most `limit` of them, and
    nothing that reads as the fence."""
    cleaned = _NOT_NAME.sub("_", name).strip("_")[:limit]
    return neutralise(cleaned)
