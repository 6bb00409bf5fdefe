"""The offline extractor: lessons found in a conversation without a model. Pure.

It reads the user's explicit statements ("remember that ...", "always ...", "we use ..."),
the user's corrections of the assistant, and error-then-fix pairs; everything else (questions,
chatter, code, secrets, what is only true for this session) yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final

from memem.core.lesson import MAX_MEMORIES, Lesson, MemoryType
from memem.core.text import STOPWORDS, clip
from memem.core.transcript import Message

HEURISTIC_CONTENT_CHARS: Final = 500
TITLE_CHARS: Final = 70

_CODE_BLOCK: Final = re.compile(r"```.*?(?:```|\Z)", re.S)
_CODE_LINE: Final = re.compile(
    r"^(?:\s{4,}|\t|\s*(?:\$ |>>> |>|#!|File \"|Traceback |at \S+\(|[{}\[\]]\s*$))"
)
_SENTENCE_END: Final = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<!etc\.)(?<!vs\.)(?<=[.!?])\s+")
_BULLET: Final = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_EMPHASIS: Final = re.compile(r"(\*\*|__)(.+?)\1")
_SPACES: Final = re.compile(r"\s+")
_WORDS: Final = re.compile(r"[A-Za-z0-9_]+")
_LETTER_WORDS: Final = re.compile(r"[^\W\d_]{2,}")  # "0:0" says nothing
_INLINE_CODE: Final = re.compile(r"`([A-Za-z][\w./-]{1,30})`")
_QUOTES: Final = "\"'\u2018\u2019\u201c\u201d"
_ALWAYS_OR_NEVER: Final = re.compile(r"\b(?:always|never)\b", re.I)

# A statement made for this session only is not a lesson.
_EPHEMERAL: Final = re.compile(
    r"\b(?:right now|for now|for the moment|at the moment|this time|today|tonight|tomorrow|"
    r"yet|this session|this conversation|this chat|this task|this pr|just now|never ?mind)\b",
    re.I,
)
_CHATTER: Final = re.compile(
    r"\b(?:thanks|thank you|thx|sorry|lol|haha|cheers|hello|hi there|good (?:morning|night)|"
    r"no worries|no problem|sounds good|looks good|lgtm|awesome|well done|great job|"
    r"nice work|happy to help)\b",
    re.I,
)
# A credential's value is never a lesson (and must not reach the vault through one).
_SECRET: Final = re.compile(
    r"\b(?:password|passwd|passphrase|api[ _-]?key|secret|token|credentials?)\b[^.]{0,20}?"
    r"(?:[:=]\s*\S{6,}|\bis\s+[`'\"]?(?=[\w./+=-]*\d)[\w./+=-]{8,})",
    re.I,
)
_REQUEST: Final = re.compile(
    r"^(?:can|could|would|will|should|shall|do|does|did|is|are|why|how|what|when|where|which|"
    r"who|let's|let me|i'll|i will|i'm going to)\b",
    re.I,
)
# "never do that again", "we use it for ...": true, but meaningless without the transcript.
_DEICTIC_START: Final = re.compile(r"^(?:it|this|that|these|those|them|so|one)\b", re.I)
_DEICTIC_END: Final = re.compile(r"\b(?:that|this|it|them)(?: again| here| there)?[.!]*$", re.I)

_LEAD: Final = (
    r"^(?:(?:please|also|and|but|so|oh|btw|fyi:?|ps:?|important:?|note:?|one more thing:?),?\s+)*"
)
_LEADING_FILLER: Final = re.compile(_LEAD, re.I)
_REMEMBER: Final = re.compile(
    _LEAD + r"(?:remember|keep in mind|don'?t forget|do not forget|for future reference,?)"
    r"\s+(?:that\s+|to\s+)?(?P<rest>.+)",
    re.I,
)
_HABIT: Final = (
    r"(?!(?:know|knew|remember|forget|got|get|understand|thought|think|said|say|asked|meant|"
    r"liked|wanted|had|did|do|seem|manage)\b)"
)
_ALWAYS_NEVER: Final = re.compile(
    _LEAD
    + r"(?:(?:we|you|i)\s+(?:should\s+|must\s+)?)?(?:always|never)\s+"
    + _HABIT
    + r"(?P<rest>.+)",
    re.I,
)
_DONT: Final = re.compile(
    _LEAD + r"(?:don'?t|do not)\s+(?!(?:worry|bother|mind|care|think|know|understand|see|get|"
    r"mean|hesitate|panic|stress|apologi[sz]e|be sorry|you)\b)(?P<rest>.+)",
    re.I,
)
_WE_USE: Final = re.compile(
    _LEAD + r"(?:we|this (?:project|repo|repository|team|codebase|service))\s+"
    r"(?:use|uses|rely on|relies on|target|targets|"
    r"(?:deploy|build|release|ship|test|run)s? (?:with|via|through|to|on))\s+(?P<rest>.+)",
    re.I,
)
_DECIDED: Final = re.compile(
    _LEAD + r"we(?:'ve| have)?\s+(?:decided|chose|went with|settled on|switched to|"
    r"agreed)\b\s*(?P<rest>.+)",
    re.I,
)
_PREFER: Final = re.compile(
    _LEAD + r"(?:(?:i|we)(?:'d| would)?\s+(?:really\s+|strongly\s+)?(?:prefer|rather)|prefer)"
    r"\s+(?P<rest>.+)",
    re.I,
)
_STATEMENTS: Final[tuple[tuple[re.Pattern[str], MemoryType, bool], ...]] = (
    (_DECIDED, "decision", False),
    (_ALWAYS_NEVER, "convention", False),
    (_PREFER, "preference", False),
    (_DONT, "convention", False),
    (_WE_USE, "convention", True),  # True: the type is refined from the wording
)

_CORRECTION: Final = re.compile(
    r"^(?:no[,.!:;]|nope[,.!]?|actually[,:]?|wrong[,.!:]|incorrect[,.!:]|not quite[,.!]?|"
    r"that'?s (?:wrong|not right|not correct|incorrect|not it|not true)[,.!:;]?|"
    r"that is (?:wrong|not right|not correct|incorrect|not true)[,.!:;]?)\s*(?P<rest>.*)",
    re.I,
)
# A correction has to say what is right: "actually, that looks fine" says nothing.
_DIRECTIVE: Final = re.compile(
    r"\b(?:use|uses|instead|should|shouldn'?t|must|need|needs|not|never|always|prefer|rather|"
    r"only|is|are|was|lives?|runs?)\b|n't\b",
    re.I,
)
_CORRECTION_SENTENCES: Final = 3
_APPROVAL: Final = re.compile(
    r"^(?:this|that|it)(?:'s|\s+is|\s+looks|\s+works|\s+seems)\s+(?:\w+\s+)?"
    r"(?:fine|good|great|ok|okay|perfect|correct|right|working|better)\b",
    re.I,
)

_ERROR: Final = re.compile(
    r"\b(?:error|errors|exception|traceback|fails?|failed|failing|failure|crash(?:es|ed)?|"
    r"segfault|panic(?:s|ked)?|broke|broken|exit code [1-9]|stack trace)\b",
    re.I,
)
_NOT_AN_ERROR: Final = re.compile(
    r"\b(?:no (?:errors?|failures?)|without (?:errors?|failing)|if (?:it|this|that) fails|"
    r"any errors?|(?:all|tests?) pass(?:ed|es)?)\b",
    re.I,
)
_FIX: Final = re.compile(
    r"\b(?:fixed (?:it |this |that )?by|(?:the )?fix (?:was|is)|the (?:root )?(?:cause|problem|"
    r"issue|culprit) (?:was|is|turned out)|turned out (?:to be|that)|it was because|"
    r"resolved (?:it |this )?by|solved (?:it |this )?by|the solution (?:was|is))\b",
    re.I,
)
_ERROR_LINE: Final = re.compile(
    r"^(?:E\s+)?((?:[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)|error(?:\[\w+\])?|"
    r"FAILED|fatal|panic)\b[:\s].*)$",
    re.M,
)
_POINTER: Final = re.compile(
    r"\b(?:this|these|the following|this (?:error|exception|traceback)|the error below)$", re.I
)
_FIX_WINDOW: Final = 4  # messages between an error and the fix that explains it

_TYPE_HINTS: Final[tuple[tuple[MemoryType, re.Pattern[str]], ...]] = (
    ("decision", re.compile(r"\b(?:because|so that|instead of|rather than|decided|chose)\b", re.I)),
    ("workaround", re.compile(r"\b(?:workaround|work around|until)\b", re.I)),
    (
        "quirk",
        re.compile(r"\b(?:quirk|for some reason|silently|undocumented|doesn'?t support)\b", re.I),
    ),
    (
        "environment",
        re.compile(
            r"\b(?:port|host|version|installed|env(?:ironment)? var\w*|path|directory|server|"
            r"staging|production|prod|python \d|node \d|docker|runs on|lives? (?:in|at|under))\b",
            re.I,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    message: int
    text: str
    error_line: str  # the last exception line of the message's code blocks, if any


def heuristic(messages: Sequence[Message]) -> list[Lesson]:
    """Lessons found without a model, from the user's messages and the assistant's prose:

    - the user's explicit statements: "remember that ...", "always ...", "never ...",
      "don't ...", "we use ...", "we decided ...", "I prefer ...";
    - the user's corrections of the assistant ("no, ...", "actually, ...", "that's wrong, ...")
      with what the assistant had said;
    - error-then-fix pairs: a sentence about an error, exception, traceback or failing test,
      followed within a few messages by "fixed by ...", "the fix was ...", "the problem was ...".

    Questions, requests, code blocks, chatter, secrets, statements only true for this session,
    sentences under 15 characters and duplicates yield nothing. Importance is 3, or 4 for
    "remember", "always" and "never"; the layer is left to memem's classifier. At most
    `MAX_MEMORIES` lessons, in transcript order (error-then-fix pairs last)."""
    sentences = list(_sentences(messages))
    by_message: dict[int, list[str]] = {}
    for sentence in sentences:
        by_message.setdefault(sentence.message, []).append(sentence.text)

    found: list[Lesson] = []
    seen: set[str] = set()

    def add(lesson: Lesson | None) -> None:
        if lesson is None or len(found) >= MAX_MEMORIES:
            return
        key = " ".join(_WORDS.findall(lesson.title.lower()))
        if key not in seen:
            seen.add(key)
            found.append(lesson)

    for index, message in enumerate(messages):
        if message.role != "user":
            continue
        texts = by_message.get(index, [])
        used = 0
        if index > 0 and messages[index - 1].role == "assistant":
            lesson, used = _correction(texts, by_message.get(index - 1, []))
            add(_cited(lesson, index, index + 1))  # sources: 1-based, as the model's are
        for text in texts[used:]:
            add(_cited(_statement(text), index + 1))
    for lesson in _error_fixes(sentences):
        add(lesson)
    return found


def _sentences(messages: Sequence[Message]) -> Iterator[_Sentence]:
    for index, message in enumerate(messages):
        if message.role not in ("user", "assistant"):
            continue
        error_line = ""
        for block in reversed(_CODE_BLOCK.findall(message.text)):
            lines = _ERROR_LINE.findall(block)
            if lines:
                error_line = clip(lines[-1].strip(), 160)
                break
        for text in _split(message.text):
            yield _Sentence(index, text, error_line)


def _split(text: str) -> Iterator[str]:
    """The prose sentences of a message: no code blocks, code-looking lines or quotes."""
    prose = _CODE_BLOCK.sub("\n", text.replace("\r\n", "\n"))
    for line in prose.split("\n"):
        if not line.strip() or _CODE_LINE.match(line):
            continue
        line = _EMPHASIS.sub(r"\2", _BULLET.sub("", line)).strip()
        for sentence in _SENTENCE_END.split(line):
            sentence = _SPACES.sub(" ", sentence).strip()
            if sentence:
                yield sentence


def _statement(sentence: str) -> Lesson | None:
    if not _substantial(sentence):
        return None
    if match := _REMEMBER.match(sentence):
        rest = match["rest"]
        if len(rest.strip()) >= 15 and _meaningful(rest, words=3):
            return _lesson(rest, _sentence_case(_clean(rest)), _refine(rest, "convention"), 4)
        return None
    for pattern, kind, refine in _STATEMENTS:
        match = pattern.match(sentence)
        if match and _meaningful(match["rest"]):
            # The whole sentence is the lesson: "never" and "we use" carry its meaning.
            core = _LEADING_FILLER.sub("", sentence)
            return _lesson(
                core,
                _sentence_case(_clean(core)),
                _refine(core, kind) if refine else kind,
                4 if _ALWAYS_OR_NEVER.search(core) else 3,
            )
    return None


def _shared_words(a: str, b: str) -> bool:
    """Whether two sentences share a content word (compared on its first five letters, so
    "service" meets "services"; stopwords and filler do not count)."""

    def keys(text: str) -> set[str]:
        found = re.findall(r"[a-z0-9][a-z0-9_-]+", text.lower())
        return {w[:5] for w in found if w not in STOPWORDS and w not in _COMMON}

    return bool(keys(a) & keys(b))


_COMMON: Final = frozenset(
    ["use", "run", "make", "sure", "now", "also", "just", "like", "will", "would", "should"]
)


def _correction(texts: Sequence[str], previous: Sequence[str]) -> tuple[Lesson | None, int]:
    """A lesson from a user message (`texts`, its sentences) that corrects the assistant's
    message before it (`previous`), and how many of its sentences the correction used."""
    if not texts or (match := _CORRECTION.match(texts[0])) is None:
        return None, 0
    core, used = match["rest"].strip(), 1
    # "No, use pnpm. Never run npm here.": the sentences after the first one are part of the
    # correction, up to the first that is not (a question, a request, chatter).
    while used < min(len(texts), _CORRECTION_SENTENCES) and _substantial(texts[used]):
        core, used = f"{core} {texts[used]}".strip(), used + 1
    if (
        not _substantial(core)
        or _APPROVAL.match(core)
        or not _DIRECTIVE.search(core)
        or not _meaningful(core, words=4)
    ):
        return None, 0
    content = _sentence_case(_clean(core))
    # What the user reacts to is usually the last thing the assistant said (its proposal or
    # its question), not the first.
    said = next((s for s in reversed(previous) if len(s) >= 15 and not _CHATTER.search(s)), "")
    # Quote it only when it is about the same thing: "No, don't use pip in CI" after "I'll run
    # make migrate first" corrects nothing the assistant said, it states a rule.
    if said and _shared_words(said, core):
        content += f' (Corrects the assistant, which had said: "{clip(said, 160)}")'
    importance = 4 if _ALWAYS_OR_NEVER.search(core) else 3
    return _lesson(core, content, _refine(core, "convention"), importance), used


def _error_fixes(sentences: Sequence[_Sentence]) -> Iterator[Lesson]:
    pending: _Sentence | None = None  # the last error not yet explained
    skip = -1  # a fix sentence already merged into the one before it
    for position, sentence in enumerate(sentences):
        text = sentence.text
        if position == skip:
            continue
        if pending is not None and sentence.message - pending.message > _FIX_WINDOW:
            pending = None
        is_error = bool(_ERROR.search(text)) and not _NOT_AN_ERROR.search(text)
        if not _substantial(text):
            continue
        if not _FIX.search(text):
            if is_error:
                pending = sentence
            continue
        fix = _lower_first(_clean(text))
        # "The problem was X. Fixed by Y.": the cause and the fix belong together.
        following = sentences[position + 1] if position + 1 < len(sentences) else None
        if (
            following is not None
            and following.message == sentence.message
            and _FIX.search(following.text)
            and _substantial(following.text)
        ):
            fix = f"{fix.rstrip('.')}; {_lower_first(_clean(following.text))}"
            skip = position + 1
        if pending is not None:
            lesson = _lesson(text, f"{_symptom(pending)}; {fix}", "bugfix", 3)
            yield replace(lesson, sources=(pending.message + 1, sentence.message + 1))
            pending = None
        elif is_error and len(text) >= 40:
            # "The error was a missing migration, fixed by ..." carries both halves.
            yield replace(
                _lesson(text, _sentence_case(fix), "bugfix", 3), sources=(sentence.message + 1,)
            )


def _symptom(sentence: _Sentence) -> str:
    """The error sentence, with the exception line of its code block when it has one."""
    error = _clean(sentence.text).rstrip(":;,. ")
    line = sentence.error_line
    if line and line not in error:
        # "The tests fail with this:" -> "The tests fail with `OperationalError: ...`"
        replaced = _POINTER.sub(f"`{line}`", error)
        error = replaced if replaced != error else f"{error} (`{line}`)"
    return _sentence_case(error)


def _substantial(sentence: str) -> bool:
    """Worth reading at all: long enough, not a question or request, no chatter, not only
    true for this session, no secret."""
    return (
        len(sentence) >= 15
        and not sentence.rstrip().endswith("?")
        and not _REQUEST.match(sentence)
        and not _CHATTER.search(sentence)
        and not _EPHEMERAL.search(sentence)
        and not _SECRET.search(sentence)
    )


def _meaningful(rest: str, *, words: int = 2) -> bool:
    """What follows a trigger ("never ...") says something on its own."""
    count = len(_LETTER_WORDS.findall(rest))
    return (
        len(rest.strip()) >= 10
        and count >= words
        and not _DEICTIC_START.match(rest.strip())
        # "don't touch it", "never do that again"; but "protoc overwrites them" has a referent
        and not (count < 6 and _DEICTIC_END.search(rest.strip()))
    )


def _refine(text: str, default: MemoryType) -> MemoryType:
    for kind, pattern in _TYPE_HINTS:
        if pattern.search(text):
            return kind
    return default


def _cited(lesson: Lesson | None, *sources: int) -> Lesson | None:
    return None if lesson is None else replace(lesson, sources=sources)


def _lesson(core: str, content: str, kind: MemoryType, importance: int) -> Lesson:
    return Lesson(
        title=_title(core),
        content=clip(content, HEURISTIC_CONTENT_CHARS),
        type=kind,
        tags=tuple(dict.fromkeys(t.lower() for t in _INLINE_CODE.findall(content)))[:3],
        importance=importance,
        layer=None,
    )


def _clean(text: str) -> str:
    """One line, surrounding quotes and leading punctuation removed, ending with punctuation."""
    text = _SPACES.sub(" ", text).strip().lstrip(".,;:!?-\u2013\u2014 ")
    if len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if text and text[-1] not in ".!)`\"'":
        text += "."
    return text


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    # "Fixed by" -> "fixed by", but "SQLite was ..." and "CI failed" keep their capitals.
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _title(text: str) -> str:
    """The first sentence, at most `TITLE_CHARS` (cut at a word boundary where there is one)."""
    sentences = [s for s in _SENTENCE_END.split(_clean(text)) if _WORDS.search(s)]
    first = _clean(sentences[0] if sentences else text).rstrip(".!")
    return _sentence_case(clip(first, TITLE_CHARS)) or "Untitled lesson"
