# ruff: noqa: RUF001, RUF002  (this module is about look-alike characters)
"""One normalisation of text for matching, shared by the security scanner and project names.

An attacker hides a word from a literal filter by writing it differently but so that it reads
the same: a zero-width space inside it (``ig\\u200bnore``), a Cyrillic or Greek letter that looks
Latin (``ѕhop``, ``іgnore``), fullwidth or mathematical letters (``ｉｇｎｏｒｅ``, ``𝐢𝐠𝐧𝐨𝐫𝐞``),
accents (``ïgnore``), typographic dashes and quotes, or HTML/URL escapes (``&#105;gnore``,
``%69gnore``). `canonical` undoes what changes how text looks without changing what it says;
`skeleton` also drops accents and decodes escapes, for matching only.

`skeleton_map` returns the skeleton with a map back to the original text, so a matcher can run
on the skeleton and report or redact the original characters (`Skeleton.span`).

Unicode NFKC folds compatibility forms (fullwidth, mathematical, circled, ligatures, the long
s); a small table folds the letters of other scripts that look like Latin ones, since Unicode
keeps those apart on purpose. Case is kept: callers fold case themselves.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = ["Skeleton", "canonical", "fold_lookalike_words", "skeleton", "skeleton_map"]

# Letters of other scripts that look like a Latin letter, and typographic variants of ASCII
# punctuation. NFKC runs first, so fullwidth and mathematical forms need no entry.
# Not `memem.core.homoglyphs` (the fence's table) on purpose: that one folds whatever any font
# may pass off as a letter of the fence's name, lower case only (italic `т` as `m`, the digit 3
# as `e`); this one reads text as a person would, keeping case, since a wrong fold here refuses
# or redacts an innocent note.
_LOOKALIKES: Final = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ӏ": "l", "ь": "b", "ɡ": "g", "ո": "n", "ս": "u", "օ": "o", "հ": "h", "ց": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    "Ү": "Y", "ү": "y", "Һ": "H", "Ԁ": "D", "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "α": "a", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "η": "n", "ϲ": "c", "μ": "u", "ϳ": "j", "ω": "w",
    "Ϲ": "C", "Ϳ": "J",
    # Latin letters outside ASCII that NFKC keeps
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʀ": "R", "ᴀ": "A", "ᴄ": "C", "ᴅ": "D", "ᴇ": "E",
    "ɪ": "I", "ᴋ": "K", "ᴍ": "M", "ɴ": "N", "ᴏ": "O", "ᴘ": "P", "ᴛ": "T", "ᴜ": "U", "ᴠ": "V",
    "ᴡ": "W", "ᴢ": "Z", "ƽ": "s", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
    # dashes, quotes, slashes, spaces and line breaks NFKC keeps
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\ufe58": "-", "\u2043": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'",
    "\u201b": "'", "\u2032": "'", "\u00b4": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"', "\u2044": "/",
    "\u2215": "/", "\u29f8": "/", "\u2028": "\n", "\u2029": "\n", "\u0085": "\n",
    "\u01c0": "|", "\u2223": "|", "\uff5c": "|", "\u2502": "|",
}  # fmt: skip
_KEPT_CONTROLS: Final = frozenset("\n\t\r")
# What `skeleton` decodes: an HTML character reference or a %XX escape.
_ESCAPE: Final = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,30});?|%[0-9A-Fa-f]{2}"
)
# What may change: anything outside printable ASCII (plus tab and newlines), and escapes.
_SPECIAL: Final = re.compile(r"[^\t\n\r\x20-\x7e]+")
_SPECIAL_OR_ESCAPE: Final = re.compile(rf"{_SPECIAL.pattern}|{_ESCAPE.pattern}")


@functools.lru_cache(maxsize=8192)
def _char(c: str, strip_marks: bool) -> str:
    """One character in canonical form: "" for a format or control character."""
    if c in _KEPT_CONTROLS:
        return c
    if c in _LOOKALIKES:
        return _LOOKALIKES[c]
    category = unicodedata.category(c)
    if category in ("Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp") or c in "\u115f\u1160\u3164\uffa0":
        return ""  # zero-width, bidi controls, soft hyphen, Hangul fillers, unassigned
    if category.startswith("M") and strip_marks:
        return ""
    folded = unicodedata.normalize("NFKD" if strip_marks else "NFKC", c)
    if folded == c:
        return c
    return "".join(_char(x, strip_marks) for x in folded)


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A skeleton and the spans of the original text its changed pieces came from.

    `edits` holds (skeleton start, skeleton end, original start, original end) for every piece
    that differs, in order; text between edits is the same in both.
    """

    text: str
    edits: tuple[tuple[int, int, int, int], ...]
    starts: tuple[int, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `self.text[start:end]` came from."""
        return self._position(start, True), self._position(end, False)

    def _position(self, pos: int, is_start: bool) -> int:
        if not self.edits:
            return pos
        # The last edit that begins before `pos`; a deletion sitting at `pos` counts for a
        # start (the deleted character is left out of the span) but not for an end.
        i = bisect.bisect_right(self.starts, pos) - 1
        while i >= 0:
            s0, s1, o0, o1 = self.edits[i]
            if s0 < pos < s1:
                return o0 if is_start else o1
            if pos >= s1 and (is_start or s0 < pos):
                return o1 + (pos - s1)
            i -= 1
        return pos


def skeleton_map(text: str, *, decode: bool = True) -> Skeleton:
    """`skeleton(text)` (or, with ``decode=False``, without decoding escapes) and its map."""
    pattern = _SPECIAL_OR_ESCAPE if decode else _SPECIAL
    plain = not decode or ("&" not in text and "%" not in text)
    if plain and text.isascii() and _SPECIAL.search(text) is None:
        return Skeleton(text, ())
    pieces: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    pos = size = 0
    for m in pattern.finditer(text):
        pieces.append(text[pos : m.start()])
        size += m.start() - pos
        piece = m.group()
        if piece[0] in "&%":
            decoded = html.unescape(piece) if piece[0] == "&" else chr(int(piece[1:], 16))
            out = _skeleton_chars(decoded, True) if decoded != piece else piece
            if out != piece:
                edits.append((size, size + len(out), m.start(), m.end()))
            pieces.append(out)
            size += len(out)
        else:
            for i, c in enumerate(piece, m.start()):
                out = _char(c, True)
                if out != c:
                    edits.append((size, size + len(out), i, i + 1))
                pieces.append(out)
                size += len(out)
        pos = m.end()
    pieces.append(text[pos:])
    # Decoding may not need to be applied twice; one pass is what a renderer does too.
    return Skeleton("".join(pieces), tuple(edits), tuple(e[0] for e in edits))


def _skeleton_chars(text: str, strip_marks: bool) -> str:
    return "".join(_char(c, strip_marks) for c in text)


def skeleton(text: str) -> str:
    """`text` as it reads: NFKC, no format or control characters (tab and newlines stay),
    look-alike letters and typographic punctuation folded to ASCII, accents dropped, HTML and
    %XX escapes decoded. Case is kept. For matching only, never for storing."""
    return skeleton_map(text).text


def canonical(text: str) -> str:
    """`text` with what only changes its look undone: NFKC, format and control characters
    removed, look-alike letters and punctuation folded to ASCII. Accents, case and the letters
    of other scripts stay, so "café" stays "café" but "ѕhop" (Cyrillic ѕ) becomes "shop"."""
    if text.isascii() and _SPECIAL.search(text) is None:
        return text
    return unicodedata.normalize(
        "NFC", "".join(c if c.isascii() and c.isprintable() else _char(c, False) for c in text)
    )


_WORD: Final = re.compile(r"[^\W\d_]+")


def fold_lookalike_words(text: str) -> str:
    """`text` in NFKC without format or control characters, each word folded by `canonical`
    unless it is a word of another script that does not read as Latin: "ѕhop" (one Cyrillic
    letter) and "ѕһор" (all Cyrillic, every letter Latin-looking) become "shop", while "проект"
    and "café" stay themselves."""

    def word(m: re.Match[str]) -> str:
        w = m.group()
        folded = canonical(w)
        return folded if folded.isascii() or any(c.isascii() for c in w) else w

    visible = "".join(
        c for c in text if c in _KEPT_CONTROLS or not unicodedata.category(c).startswith("C")
    )
    return _WORD.sub(word, unicodedata.normalize("NFKC", visible))
