"""What a prompt is, before anything is recalled for it: chat or a request (`is_trivial`),
and whether it moved to another topic than the session's last one (`topic_shifted`). Pure.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import re

from memem.core.text import STOPWORDS, query_terms, words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final

# Words a prompt can be made of and still be chat rather than a request: acknowledgements,
# reactions, greetings, "go on" and "wait". A prompt of these (and stopwords) alone, up to
# CHAT_MAX_WORDS, is trivial; a single other word makes it a request.
CHAT_WORDS: Final = frozenset(
    [
        "absolutely",
        "afternoon",
        "agreed",
        "ah",
        "aha",
        "ahead",
        "alright",
        "amazing",
        "appreciate",
        "appreciated",
        "awesome",
        "back",
        "bad",
        "brilliant",
        "btw",
        "bunch",
        "bye",
        "cheers",
        "congrats",
        "congratulations",
        "continue",
        "cool",
        "correct",
        "definitely",
        "done",
        "enough",
        "evening",
        "exactly",
        "excellent",
        "fair",
        "fantastic",
        "fine",
        "funny",
        "fyi",
        "good",
        "goodbye",
        "gotcha",
        "great",
        "greetings",
        "haha",
        "hahaha",
        "heh",
        "hehe",
        "helpful",
        "hiya",
        "hm",
        "hmm",
        "howdy",
        "huh",
        "indeed",
        "interesting",
        "job",
        "k",
        "keep",
        "kk",
        "later",
        "lgtm",
        "lmao",
        "lol",
        "lot",
        "lots",
        "love",
        "loved",
        "lovely",
        "makes",
        "maybe",
        "meh",
        "mind",
        "minute",
        "moment",
        "morning",
        "much",
        "nah",
        "neat",
        "never",
        "next",
        "nice",
        "night",
        "nope",
        "now",
        "np",
        "oh",
        "omg",
        "oops",
        "pardon",
        "perfect",
        "pls",
        "plz",
        "proceed",
        "right",
        "sec",
        "second",
        "see",
        "sense",
        "soon",
        "sorry",
        "sounds",
        "sup",
        "sweet",
        "thx",
        "tomorrow",
        "totally",
        "true",
        "ty",
        "ugh",
        "uh",
        "uhh",
        "um",
        "umm",
        "wait",
        "welcome",
        "well",
        "whoa",
        "wonderful",
        "work",
        "worked",
        "works",
        "worries",
        "wow",
        "yay",
        "yo",
        "yup",
    ]
)
CHAT_MAX_WORDS: Final = 8
# Claude Code's own slash commands: their names are not topics.
BUILTIN_COMMANDS: Final = frozenset(
    [
        "add-dir",
        "agents",
        "bug",
        "clear",
        "compact",
        "config",
        "context",
        "cost",
        "doctor",
        "exit",
        "export",
        "help",
        "hooks",
        "ide",
        "init",
        "login",
        "logout",
        "mcp",
        "memory",
        "model",
        "permissions",
        "plugin",
        "resume",
        "review",
        "status",
        "statusline",
        "terminal-setup",
        "usage",
        "vim",
    ]
)
_COMMAND: Final = re.compile(r"/([\w:.-]+)(?=\s|$)")


def is_trivial(prompt: str) -> bool:
    """An acknowledgement, a greeting, a prompt without a letter, a bare slash command, one of
    Claude Code's own commands with chat for arguments: nothing to recall for ("thanks a lot!",
    "ok cool", "good morning", "never mind", "/help", "/clear please", "42", "?"). A custom
    command's name is judged like its arguments ("/deploy now" is a request, and so is
    "/review the payment retries")."""
    text = prompt.strip()
    command = _COMMAND.match(text)
    if command:
        if command.end() == len(text):
            return True
        if command.group(1).lower() in BUILTIN_COMMANDS:
            text = text[command.end() :]
    if not any(c.isalpha() for c in text):
        return True
    found = words(text)
    return len(found) <= CHAT_MAX_WORDS and all(w in CHAT_WORDS or w in STOPWORDS for w in found)


def topic_shifted(previous: Iterable[str], current: Iterable[str], threshold: float) -> bool:
    """True when the prompt's terms share less than `threshold` (Jaccard) with the last one's."""
    a, b = set(previous), set(current)
    if not a or not b:
        return bool(b)
    return len(a & b) / len(a | b) < threshold


# Where a prompt that asks two or three things at once divides: a question mark, a semicolon,
# a line break, a sentence end, or ", and" / ", also" / ", plus" / "and also".
_PARTS = re.compile(r"[?;!\n]+|\.\s+|,\s*(?:and|also|plus)\s+|\s+and\s+also\s+", re.IGNORECASE)
# A part counts when it has at least this many words that carry meaning ("and quickly" is not
# a question of its own); at most MAX_PARTS are kept.
PART_WORDS = 2
MAX_PARTS = 3


def parts(prompt: str) -> list[str]:
    """The separate asks of a prompt that asks several things ("what's the deploy command,
    and who do I ping if checkout breaks?"), or [] when it asks one."""
    found = [p.strip() for p in _PARTS.split(prompt)]
    asks = [p for p in found if len(query_terms(p)) >= PART_WORDS]
    return asks[:MAX_PARTS] if len(asks) > 1 else []
