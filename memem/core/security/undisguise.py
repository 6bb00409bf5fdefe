"""The second look: the disguises a skeleton keeps, undone on a copy of the text.

When the first look finds no threat, the scanner looks again at the text with invisible TAG
characters and ``\\uXXXX`` / ``\\xNN`` escapes decoded, spaced, dotted and emphasised letters
joined and leetspeak folded (`undisguised`), then at the readable text hidden in base64 runs
(`decoded_base64`). Those transforms also change innocent text ("python3", "GITHUB_TOKEN"),
which is why the first look never sees them and why secrets are never matched on them. TAG
characters outside a flag emoji are a threat by themselves (`hidden_tags`): they have no use
in a note but to hide text from the person reading it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from memem.core.security.rules import cached_skeleton

# Disguises that split words rather than change letters: "i g n o r e", "o.v.e.r", "i-g-n",
# "alw**ays**", "_rev_eal". Undone only for a second look at the text, when the first found nothing, since
# they also undo snake_case and spaced tables.
_SPACED_LETTERS: Final = re.compile(
    r"(?<!\S)(?:\S[ \t]){2,}\S(?!\S)|(?<![\w.-])(?:\w\.){3,}\w(?![\w-])|(?<![\w.-])(?:\w-){3,}\w(?![\w-])"
)
_EMPHASIS: Final = re.compile(r"(?<=\w)[*~]+(?=\w)|(?<![\w*~])[*~]+(?=\w)|(?<=\w)[*~]+(?![\w*~])")
# "_rev_eal", "_saf_ety": a word opening with "_" has its underscores dropped. snake_case
# names (GITHUB_TOKEN, access_key_id) are left alone: they are most of the underscores in notes.
_UNDERSCORED: Final = re.compile(r"(?<![\w*~])_+[A-Za-z0-9]\w{0,100}")
_BLANKS: Final = re.compile(r"[ \t]+")


def _squeezed(text: str) -> str:
    text = _EMPHASIS.sub("", text)
    if "_" in text:
        text = _UNDERSCORED.sub(lambda m: m.group().replace("_", ""), text)
    text = _SPACED_LETTERS.sub(lambda m: m.group()[::2], text)
    return _BLANKS.sub(" ", text)


# Invisible Unicode TAG characters spell ASCII (U+E0041 is an invisible "A"); a flag emoji
# (a black flag, tag letters, CANCEL TAG) is their one legitimate use in prose.
_TAG_RUN: Final = re.compile("[\U000e0020-\U000e007e]+")
_FLAG_EMOJI: Final = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,12}\U000e007f")
# Backslash escapes a renderer or a shell decodes: \u0069, \x69.
_BACKSLASH_ESCAPE: Final = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
# Leetspeak: a word mixing letters with digits or @/$ that stand for letters. Pure hex (hashes,
# ids) and words starting with "$" (shell variables) are left alone.
_LEET_WORD: Final = re.compile(
    r"(?<![\w$@|!])(?=[\w@$|!]{0,60}?[A-Za-z])(?=[\w@$|!]{0,60}?[013457@$!])[\w@$|!]{2,60}"
    r"(?![\w$@|!])"
)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_LEET: Final = str.maketrans("013457@$", "oieastas")
# Version and unit suffixes ("python3", "v1", "ps1", "S3") hold one leet-looking digit at an
# end; a leet word holds two ("h45", "70ld") or one between letters ("y0u"), and no 2, 6, 8, 9
# ("sha256", "x86", "i18n", base64).
_LEET_CHAR: Final = re.compile(r"[013457]|(?<=[A-Za-z0-9])[@$!](?=[A-Za-z0-9])")
_BANG: Final = re.compile(r"(?<=[A-Za-z0-9])!(?=[A-Za-z0-9])")
_LEET_INSIDE: Final = re.compile(r"[A-Za-z][013457!][A-Za-z]")
_NOT_LEET_DIGIT: Final = re.compile(r"[2689]")
# "1" reads as "l" between vowels, doubled or after a vowel at the end ("ru1es", "a11", "mode1"),
# else as "i" ("1gn0r3", "pr3v10u5").
_ONE_AS_L: Final = re.compile(r"(?<=[aeouAEOU430])1(?=[aeiouAEIOU4301]|$)|(?<=1)1|1(?=1)")
# A run of base64 long enough to hold a sentence.
BASE64_RUN: Final = re.compile(r"(?<![\w+/-])[A-Za-z0-9+/_-]{20,4000}={0,2}(?![\w+/=-])")


def hidden_tags(text: str) -> str:
    """The ASCII spelled by invisible TAG characters outside flag emoji, "" when none."""
    if max(text, default=" ") < "\U000e0000":
        return ""
    outside = _FLAG_EMOJI.sub("", text)
    return " ".join(
        "".join(chr(ord(c) - 0xE0000) for c in m.group()) for m in _TAG_RUN.finditer(outside)
    )


def _is_leet(word: str, weak: bool) -> bool:
    """Whether `word` reads as leetspeak: two leet characters or one between letters; with
    `weak` (the text holds such a word already), any one ("n0", "4ny", "t0")."""
    if _HEX.fullmatch(word) or _NOT_LEET_DIGIT.search(word):
        return False
    return weak or len(_LEET_CHAR.findall(word)) >= 2 or _LEET_INSIDE.search(word) is not None


def _unleet(word: str) -> str:
    return _BANG.sub("i", _ONE_AS_L.sub("l", word)).translate(_LEET)


def undisguised(text: str) -> str:
    """`text` with the disguises that a skeleton keeps undone, for a second look only: TAG
    characters decoded, backslash escapes decoded, spaced, dotted and emphasised words joined,
    leetspeak folded. Each of these also changes innocent text, so the first look never sees it."""
    if max(text, default=" ") >= "\U000e0000":
        text = _TAG_RUN.sub(lambda m: "".join(chr(ord(c) - 0xE0000) for c in m.group()), text)
    if "\\" in text:
        text = _BACKSLASH_ESCAPE.sub(lambda m: chr(int(m[1] or m[2], 16)), text)
    text = _squeezed(cached_skeleton(text).text)
    if not any(_is_leet(m.group(), False) for m in _LEET_WORD.finditer(text)):
        return text
    return _LEET_WORD.sub(
        lambda m: _unleet(m.group()) if _is_leet(m.group(), True) else m.group(), text
    )


def decoded_base64(text: str) -> str:
    """The readable text hidden in base64 runs of `text`, one per line; "" when none."""
    out: list[str] = []
    for m in BASE64_RUN.finditer(text):
        run = m.group().rstrip("=")
        if len(out) >= 20:
            break
        try:
            raw = base64.b64decode(
                run + "=" * (-len(run) % 4), altchars=b"-_" if "-" in run or "_" in run else None
            )
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-8", "replace")
        # Text, not bytes: printable ASCII throughout, half of it letters. Random bytes fail.
        printable = sum(" " <= c <= "~" or c in "\t\n" for c in decoded)
        letters = sum(c.isalpha() for c in decoded)
        if " " in decoded and printable >= 0.95 * len(decoded) and letters >= 0.5 * len(decoded):
            out.append(decoded)
    return "\n".join(out)
