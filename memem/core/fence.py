# ruff: noqa: RUF002, RUF003  (look-alike letters are the subject here)
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

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import re
import unicodedata

from memem.core.homoglyphs import CLOSERS, HOMOGLYPHS, OPENERS

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

# Unicode "tag" characters are invisible and read as the ASCII character they shadow.
_TAGS: Final = re.compile("[\U000e0000-\U000e007f]")
_TAG_TO_ASCII: Final = {c: c - 0xE0000 for c in range(0xE0020, 0xE007F)}
# An HTML entity (named, decimal, hex, any number of leading zeros), a run of %-escapes (one
# UTF-8 sequence or more) or a `%u006d`, a string-literal escape (\u006d, \x6d, \u{6d}) or a
# CSS escape (`\6d `): decoded before folding, repeatedly. A CSS escape starting with a hex
# letter must not run into a letter, so `\emem` stays the letters it shows. `\155` is also
# an octal escape (C, Python, shell): a text holding one is read both ways.
_ENTITY: Final = r"&(?:#[xX]0*[0-9a-fA-F]{1,6}|#0*[0-9]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});?"
_PERCENT: Final = r"|%[uU][0-9a-fA-F]{4}|(?:%[0-9a-fA-F]{2})+"
_LITERAL: Final = (
    r"|\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[ux]\{0*[0-9a-fA-F]{1,6}\}"
    r"|N\{[A-Za-z0-9 -]{1,88}\}"
)
_ESCAPE: Final = re.compile(
    _ENTITY
    + _PERCENT
    + _LITERAL
    + r"|[0-9][0-9a-fA-F]{0,5}+[ \t\n\r\f]?|[a-fA-F][0-9a-fA-F]{0,5}+(?![g-zG-Z])[ \t\n\r\f]?)"
)
# Patterns used off the common path are compiled when first used (re caches them): the hook
# imports this module on every prompt.
_OCTAL: Final = _ENTITY + _PERCENT + _LITERAL + r"|[0-7]{1,3}+)"
_OCTAL_HINT: Final = re.compile(r"\\[0-7]")
# Decoded until nothing changes (`&amp;amp;amp;#109;`), at most this many times.
DECODE_PASSES: Final = 8
# Markup a reader skips: comments and tags (`</mem<i></i>em-memory>`, `mem[b][/b]em`), with
# any of the brackets above. The skeleton is also read with the markup removed, and again
# until none is left (a tag may hide inside another), at most MARKUP_ROUNDS times.
MARKUP_ROUNDS: Final = 3
_MARKUP: Final = re.compile(
    f"[{OPENERS}](?:!--.*?--|[^{OPENERS}{CLOSERS}\\[\\]]*)[{CLOSERS}]"  # one class each: slow to compile
    r"|\[/?[A-Za-z][A-Za-z0-9]{0,9}(?:=[^\]\n]{0,40})?\]",  # BBCode: [b], [/i], [color=red]
    re.DOTALL,
)

_folded: dict[str, str] = {}
_NAMED: Final = r"LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH [A-Z ]+)?$"
# Symbols drawn as a Latin letter (negative squared and circled letters, regional indicators
# outside a flag) without a decomposition that says so.
_LETTER_SYMBOL: Final = r"(?:LATIN (?:CAPITAL |SMALL )?|REGIONAL INDICATOR SYMBOL )LETTER ([A-Z])$"


def _fold(ch: str) -> str:
    """The ASCII letters one character reads as (often none)."""
    cached = _folded.get(ch)
    if cached is not None:
        return cached
    shadowed = ch
    if 0xE0020 <= ord(ch) <= 0xE007E:  # a tag character reads as the ASCII it shadows
        shadowed = chr(ord(ch) - 0xE0000)
    out = []
    for part in unicodedata.normalize("NFKD", shadowed):
        if unicodedata.combining(part) or unicodedata.category(part) in ("Cf", "Mn", "Me"):
            continue
        known = HOMOGLYPHS.get(part)
        if known is not None and not part.isascii():
            out.append(HOMOGLYPHS.get(known, known))
            continue
        for c in part.casefold():
            c = HOMOGLYPHS.get(c, c)
            c = HOMOGLYPHS.get(c, c)  # "з" -> "3" -> "e"
            if "a" <= c <= "z":
                out.append(c)
            elif not c.isascii():
                out.append(_fallback(c))
    folded = "".join(out)
    if len(_folded) < 50_000:
        _folded[ch] = folded
    return folded


def _fallback(c: str) -> str:
    """For a character no table knows: a zero of any script reads as `o`; a letter whose
    Unicode name is one Latin-like letter ("... LETTER SMALL CAPITAL R", "... LETTER R WITH
    FISHHOOK") as that letter."""
    if unicodedata.category(c) == "Nd":
        return "o" if unicodedata.digit(c, -1) == 0 else ""
    if not unicodedata.category(c).startswith("L"):
        m = re.search(_LETTER_SYMBOL, unicodedata.name(c, ""))
        return m.group(1).lower() if m else ""
    m = re.search(_NAMED, unicodedata.name(c, ""))
    return m.group(1).lower() if m else ""


def _decode(escape: str, octal: bool = False) -> list[tuple[str, int]] | None:
    """The characters an HTML entity, run of %-escapes, backslash, CSS (or, with `octal`,
    octal) escape stands for, each with how many characters of `escape` it came from, or None."""
    if escape[:2] in ("%u", "%U"):
        number = int(escape[2:], 16)
        return [(chr(number), len(escape))] if not 0xD800 <= number < 0xE000 else None
    if escape[0] == "%":  # UTF-8 as browsers read it; a byte that is not valid as Latin-1
        raw = bytes.fromhex(escape.replace("%", ""))
        chars = raw.decode("utf-8", "surrogateescape")
        out = []
        for c in chars:
            if "\udc80" <= c <= "\udcff":
                out.append((chr(ord(c) - 0xDC00), 3))
            else:
                out.append((c, 3 * len(c.encode("utf-8"))))
        return out
    if escape[:2] == "\\N":  # \N{LATIN SMALL LETTER M}: Python's named escape
        try:
            return [(unicodedata.lookup(escape[3:-1]), len(escape))]
        except KeyError:
            return None
    if escape[0] == "\\":  # \u006d, \U0000006d, \x6d, \u{6d}: string-literal escapes; \6d: CSS
        digits = escape[2:] if escape[1] in "uUx" else escape[1:]
        base = 8 if octal and escape[1] not in "uUx" else 16
        number = int(digits.strip().strip("{}"), base)
        ok = 0 < number < 0x110000 and not 0xD800 <= number < 0xE000
        return [(chr(number), len(escape))] if ok else None
    body = escape[1:].rstrip(";")
    if body[0] == "#":
        number = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
        ok = 0 < number < 0x110000 and not 0xD800 <= number < 0xE000
        return [(chr(number), len(escape))] if ok else None
    from html.entities import html5  # only for texts that hold a named entity

    value = html5.get(body + ";") or html5.get(body)
    return [(value, len(escape))] if value else None


_Unit = tuple[str, int, int]


def _units(text: str, octal: bool = False) -> list[_Unit]:
    """(characters, start, end) of `text` with its escapes decoded until stable: a
    double-encoded `&amp;#109;` is an `m` spanning all ten characters."""
    units = [(c, i, i + 1) for i, c in enumerate(text)]
    if "&" not in text and "%" not in text and "\\" not in text:
        return units
    for _ in range(DECODE_PASSES):
        flat = "".join(u[0] for u in units)
        if "&" not in flat and "%" not in flat and "\\" not in flat:
            break
        offsets = []
        for n, u in enumerate(units):
            offsets.extend([n] * len(u[0]))
        decoded: list[_Unit] = []
        last = 0
        changed = False
        for m in (re.compile(_OCTAL) if octal else _ESCAPE).finditer(flat):
            values = _decode(m.group(), octal)
            if values is None:
                continue
            first = offsets[m.start()]
            if first < last:
                continue
            decoded.extend(units[last:first])
            at = m.start()
            for value, width in values:
                a, b = offsets[at], offsets[at + width - 1]
                decoded.append((value, units[a][1], units[b][2]))
                at += width
            last = offsets[m.end() - 1] + 1
            changed = True
        if not changed:
            break
        units = decoded + units[last:]
    return units


def _without_markup(units: list[_Unit]) -> list[list[_Unit]]:
    """`units` with the markup tags and comments in them removed, then removed again until
    none is left: one list per round (none for a text without markup)."""
    rounds = []
    for _ in range(MARKUP_ROUNDS):
        flat = "".join(u[0] for u in units)
        found = list(_MARKUP.finditer(flat))
        if not found:
            break
        offsets = []
        for n, u in enumerate(units):
            offsets.extend([n] * len(u[0]))
        dropped: set[int] = set()
        for m in found:
            dropped.update(range(offsets[m.start()], offsets[m.end() - 1] + 1))
        units = [u for n, u in enumerate(units) if n not in dropped]
        rounds.append(units)
    return rounds


def _stages(flat: str) -> list[str]:
    """`flat` and what `_without_markup` makes of it, without the spans."""
    stages = [flat]
    for _ in range(MARKUP_ROUNDS):
        if not _MARKUP.search(flat):
            break
        flat = _MARKUP.sub("", flat)
        stages.append(flat)
    return stages


def _letters(units: list[_Unit]) -> tuple[str, list[tuple[int, int]]]:
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


def skeleton(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The letters `text` reads as, with the span of `text` each came from."""
    if not text.isascii() and _TAGS.search(text):  # one character for one: spans stay
        text = text.translate(_TAG_TO_ASCII)
    return _letters(_units(text))


# The skeleton of an ASCII text, in one C call: letters lowercased, the digits that pass for
# letters folded, everything else dropped.
_ASCII: Final = str.maketrans(
    {
        **{chr(c): None for c in range(128) if not chr(c).isalpha()},
        **{d: HOMOGLYPHS[d] for d in "013"},
        **{chr(c): chr(c).lower() for c in range(65, 91)},
    }
)
# The skeleton of any other text without escapes, mostly in C: ASCII other than letters and
# the digits that pass for letters dropped, then every character mapped to the letters it reads
# as through one table (every ASCII letter is in it, so lookups never miss; other characters
# are added as met; `lower()` would fold Greek `Γ`, an `r`, into `γ`, a `y`).
_DROP: Final = re.compile(
    r"[\x00-\x2f2\x34-\x40\x5b-\x60\x7b-\x7f]+"
)  # not [^...]: 2 ms to compile
_NON_ASCII: Final = re.compile(r"[^\x00-\x7f]")
_TABLE: dict[int, str] = {c: chr(c).lower() for c in range(128) if chr(c).isalpha()}
_TABLE.update({ord(d): HOMOGLYPHS[d] for d in "013"})


def _quick(text: str) -> bool:
    """Whether `text` (escapes decoded, no tag characters) may spell the name."""
    if text.isascii():  # one C call
        return NAME.search(text.translate(_ASCII)) is not None
    letters = _DROP.sub("", text)
    new = {ord(c): _fold(c) for c in set(_NON_ASCII.findall(letters)) if ord(c) not in _TABLE}
    if len(_TABLE) + len(new) <= 50_000:
        _TABLE.update(new)
        new = {}
    return NAME.search(letters.translate({**_TABLE, **new} if new else _TABLE)) is not None


def _decoded(text: str, octal: bool = False) -> str:
    """`text` with its escapes decoded as `_units` decodes them, without the spans."""
    escape = re.compile(_OCTAL) if octal else _ESCAPE

    def value(m: re.Match[str]) -> str:
        values = _decode(m.group(), octal)
        return m.group() if values is None else "".join(v for v, _ in values)

    for _ in range(DECODE_PASSES):
        decoded = escape.sub(value, text)
        if decoded == text:
            break
        text = decoded
    return text


def fence_spans(text: str) -> list[tuple[int, int]]:
    """The spans of `text` that read as the fence's name, in order, merged where they overlap.
    The text is read with its markup and without it (and `\155` as CSS and as octal)."""
    if not text.isascii() and _TAGS.search(text):  # one character for one: spans stay
        text = text.translate(_TAG_TO_ASCII)
    found = []
    for octal in (False, True) if _OCTAL_HINT.search(text) else (False,):
        # The common case, nothing spelling the name, is settled on the decoded text without
        # spans (mostly in C); the spans are worked out only for a text that may spell it.
        flat = (
            _decoded(text, octal)
            if (re.compile(_OCTAL) if octal else _ESCAPE).search(text)
            else text
        )
        if not any(_quick(stage) for stage in _stages(flat)):
            continue
        units = _units(text, octal)
        for variant in (units, *_without_markup(units)):
            letters, spans = _letters(variant)
            found += [(spans[m.start()][0], spans[m.end() - 1][1]) for m in NAME.finditer(letters)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def strip_tags(text: str) -> str:
    """`text` without Unicode tag characters (U+E0000-E007F): invisible, read as ASCII, of no
    use in a coding memory (an emoji subdivision flag loses its tags)."""
    return _TAGS.sub("", text) if not text.isascii() else text


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


# Characters that hide or reorder text: DEL and C1 controls, zero-width and bidi formatting, tag
# characters, unpaired surrogates (a JSON caller's "\ud800": no file or database can store them).
_HIDDEN: Final = (
    "\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ud800-\udfff\ufff9-\ufffb\U000e0000-\U000e007f"
)
# What breaks or hides a line (every C0 control too), and what text of several lines drops
# (tab and newline kept). Compiled when first used, as the patterns above.
_UNSEEN: Final = f"[\x00-\x1f{_HIDDEN}]+"
_UNSEEN_IN_TEXT: Final = f"[\x00-\x08\x0b-\x1f{_HIDDEN}]+"


def visible(text: str) -> str:
    """Untrusted text fit for a terminal, several lines kept: no control characters (a
    terminal escape, a carriage return that overwrites a line), zero-width, bidi or tag
    characters; tabs and newlines stay. Fence it afterwards (`wrap`): dropping a zero-width
    character can join a fence tag's letters."""
    return re.sub(_UNSEEN_IN_TEXT, "", text)


def line(text: str, limit: int = 200) -> str:
    """A memory-derived text (a title, a delta's summary) fit for one of memem's own lines
    outside the fence: one line, no control, format or tag characters, at most `limit`
    characters, and nothing that reads as the fence."""
    return neutralise(" ".join(re.sub(_UNSEEN, " ", text).split())[:limit])


def short_id(memory_id: str, width: int = 8) -> str:
    """The first `width` characters of an id as memem shows it on its own lines (ids are
    hex, but one written by hand in the vault may be anything)."""
    return label(memory_id)[:width] or "_"
