"""Words: tokenising user text into search terms. Pure.

The index's FTS5 tokenizer (`porter unicode61 remove_diacritics 2`) does the stemming and
diacritic folding; here we only decide which words of a prompt or question are worth asking
for. Question words, pronouns and chat filler are stopwords: a question must still find its
answer, so they must not dilute the query.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import re
import unicodedata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

MAX_QUERY_TERMS: Final = 24

_APOSTROPHES: Final = "'\u2019"
_WORD: Final = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES}][^\W_]+)*", re.UNICODE)

STOPWORDS: Final = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "just",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "will",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "y",
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "sure",
        "tell",
        "know",
        "remember",
        "recall",
        "think",
        "get",
        "got",
        "go",
        "going",
        "gonna",
        "want",
        "wanna",
        "like",
        "really",
        "something",
        "anything",
        "thing",
        "things",
        "one",
        "ones",
        "anyone",
        "someone",
        "us",
        "via",
        "etc",
        "eg",
        "ie",
    ]
)


def fold(text: str) -> str:
    """Lowercase with diacritics removed, as the index folds them."""
    if text.isascii():
        return text.lower()
    # Lower-cased after the decomposition too: a compatibility letter (a math bold capital)
    # decomposes to a capital, and the fold of a fold must be the fold.
    decomposed = unicodedata.normalize("NFKD", text.lower()).lower()
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Every word of `text`, folded, in order (apostrophes kept inside words)."""
    return [w.replace("\u2019", "'") for w in _WORD.findall(fold(text))]


def query_terms(text: str, *, limit: int = MAX_QUERY_TERMS) -> list[str]:
    """The distinct words of `text` worth searching for: no stopwords, no single letters."""
    seen: dict[str, None] = {}
    for word in words(text):
        word = word.split("'")[0] if "'" in word and word not in STOPWORDS else word
        if len(word) < 2 and not word.isdigit():
            continue
        if word in STOPWORDS:
            continue
        seen.setdefault(word, None)
        if len(seen) >= limit:
            break
    return list(seen)


def quote_fts(term: str) -> str:
    """A term as an FTS5 string literal: safe for MATCH whatever it contains (SQLite would end
    the string at a NUL and cannot encode a lone surrogate, so both are dropped)."""
    term = term.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")
    return '"' + term.replace('"', '""') + '"'


ELLIPSIS: Final = "…"
# How far back `clip` looks for a word boundary: a finished word reads better, but what a cut
# keeps (the target an attack names, a title's subject) matters more than a tidy end.
WORD_SLACK: Final = 12


def clip(text: str, limit: int, *, one_line: bool = True, tail: bool = False) -> str:
    """`text` cut to at most `limit` characters, marked with "…" where it was cut: the one
    truncation in memem. `one_line` folds every run of whitespace (newlines too) into a space
    first. A cut falls on a word boundary when one is within the last WORD_SLACK characters
    (a long word is cut, not dropped), and drops the punctuation it leaves dangling. `tail` keeps the end instead of the start (an error's last
    lines)."""
    text = " ".join(text.split()) if one_line else text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    if tail:
        cut = text[-room:]
        space = cut.find(" ")
        if 0 <= space < min(room // 3, WORD_SLACK):
            cut = cut[space + 1 :]
        return ELLIPSIS + cut.lstrip()
    cut = text[:room]
    space = cut.rfind(" ")
    if space > room - min(room // 3, WORD_SLACK) - 1 and text[room] != " ":
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ELLIPSIS
