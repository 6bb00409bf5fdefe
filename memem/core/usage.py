"""Was an injected memory used? One memory against one turn, decided from the turn's trace. Pure.

A turn is what the assistant did after one prompt: its reply text, its tool calls (commands,
paths, values) and the files it changed (`Turn`). A memory counts as used when its
*distinctive* content shows in that trace:

- an explicit citation of its id (in full, or its first 8 characters);
- its code spans (`pnpm -F dashboard test`) run or written, whole or by their rare parts;
- its rare terms: identifiers, flags, paths, values, versions (`-race`, `2*time.Second`,
  `PathValue`, `5432`) and uncommon words, in the reply or the tool calls.

What the prompt already said does not count, nor the project's folder name (the memory was recalled *because* it shares the
prompt's words, so they prove nothing), nor do generic words (a stop list of English and
everyday programming words). A file that was only Read is not acting on it. A reply that says
it sets the memory aside ("ignore", "does not apply") is not use.

The weights and the threshold were tuned on the `tune` half of
benchmarks/data/usage_turns.jsonl only (benchmarks/bench_usage.py measures both halves).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from memem.core.transcript import DROP_FLAGS

# A token: letters, digits and the joiners code uses inside a name, a flag, a path or a value.
_TOKEN: Final = re.compile(r"[A-Za-z0-9_$@%*+=.:/\\-]*[A-Za-z0-9_%*]")
_CODE_SPAN: Final = re.compile(r"`([^`\n]{2,200})`")
_WORD: Final = re.compile(r"[a-z]+")
_SPLIT: Final = re.compile(r"[./:=@\\\-_*+(),]+")
# A plain word this short, or a special token this short, proves nothing.
MIN_WORD: Final = 4
MIN_SPECIAL: Final = 2
# Evidence weights and the bar a memory must clear to count as used.
SPECIAL_WEIGHT: Final = 2.0
WORD_WEIGHT: Final = 1.0
SPAN_WEIGHT: Final = 3.0
THRESHOLD: Final = 3.0
CITE_PREFIX: Final = 8
# A generated id: random hex (a prefix of one is cited only with this many distinct symbols).
_HEX_ID: Final = re.compile(r"[0-9a-f]{16,}")
_HEX_TOKEN: Final = re.compile(rf"(?<![0-9A-Za-z])[0-9a-f]{{{CITE_PREFIX},}}(?![0-9A-Za-z])")
_PREFIX_SYMBOLS: Final = 4
# More memories than this cited by id in one turn: a storm, the citations count for nothing.
CITE_STORM: Final = 3
# Tools whose input is acting on something (Read, Glob and Grep look; they do not act).
ACTING_TOOLS: Final = frozenset({"Bash", "Edit", "MultiEdit", "Write", "NotebookEdit"})
_SENTENCE: Final = re.compile(r"(?<=[.!?;])\s+|\n+")
_SET_ASIDE: Final = re.compile(
    r"\b(ignor(e|ed|ing)|set(ting)? (it )?aside|does ?n[o']t apply|not relevant|outdated|"
    r"no longer (true|applies))\b",
    re.I,
)

_STOP_WORDS: Final = """
    about above after again against also always another anything because been before being
    below between both could does doing done down during each either else every from further
    have having here into itself just like make made many more most much must need needs never
    next none only other over same should since some such than that their them then there
    these they this those through under until upon very want were what when where whether
    which while will with within without would your yours instead still really first last
    use used uses using run runs running ran add added adds file files code test tests
    change changed changes new old now set sets get gets call calls called line lines work
    works working fix fixed fixes value values name names type types true false null none
    default note notes check checks checked keep kept make sure thing things way ways time
    times case cases part parts point even well good best better right left one two three
    want wants see seen show shows look looks read reads write writes written take takes
"""
STOP: Final = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True, slots=True)
class Turn:
    """What the assistant did after one prompt."""

    prompt: str
    reply: str
    tool_calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    files: tuple[str, ...] = ()
    cwd: str = ""  # the project's folder: its name is in every path, so it proves nothing

    def acted(self) -> str:
        """The text of what the turn did: tool inputs of the acting tools and changed files."""
        parts: list[str] = []
        for name, given in self.tool_calls:
            if name in ACTING_TOOLS:
                parts.extend(_strings(given))
        parts.extend(self.files)
        return "\n".join(parts)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _special(token: str) -> bool:
    """Code-shaped: a flag, path, dotted or snake name, CamelCase, a value with digits."""
    inner = token[1:]
    return (
        any(c in token for c in "-_./:=@$%*+\\")
        or any(c.isdigit() for c in token)
        or (any(c.isupper() for c in inner) and any(c.islower() for c in token))
    )


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_WORD:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> dict[str, float]:
    """The memory text's distinctive terms with their weights (lower-cased)."""
    found: dict[str, float] = {}
    for token in _TOKEN.findall(text):
        token = token.strip(".:/").rstrip("-")
        if _special(token) and len(token) >= MIN_SPECIAL:
            found[token.lower()] = SPECIAL_WEIGHT
        for word in _WORD.findall(token.lower()):
            if len(word) >= MIN_WORD and word not in STOP:
                found.setdefault(_stem(word), WORD_WEIGHT)
    return found


def _vocabulary(text: str) -> set[str]:
    lowered = text.lower()
    vocab = {t.strip(".:/").rstrip("-").lower() for t in _TOKEN.findall(text)}
    vocab |= {_stem(w) for w in _WORD.findall(lowered)}
    return vocab


def cited(memory_id: str, text: str) -> bool:
    """The turn names the memory by id: in full, or (a generated hex id) by its first 8
    characters or more, as a token of its own. An id is whatever a synced or hand-written
    file says, so a short one ("e"), a word-like prefix ("settings-...") or a low-entropy hex
    one ("00000000...") would read as cited in almost any reply: those never count by
    prefix, and an id shorter than 8 characters never counts."""
    if len(memory_id) < CITE_PREFIX:
        return False
    whole = rf"(?<![0-9a-z._:+@-]){re.escape(memory_id)}(?![0-9a-z_:+@-]|\.[0-9a-z])"
    if re.search(whole, text):
        return True
    head = memory_id[:CITE_PREFIX]
    if not _HEX_ID.fullmatch(memory_id) or len(set(head)) < _PREFIX_SYMBOLS:
        return False
    return any(memory_id.startswith(t) for t in _HEX_TOKEN.findall(text))


def score(memory_id: str, title: str, content: str, turn: Turn, *, citations: bool = True) -> float:
    """How much of the memory's distinctive content the turn shows (citation: infinite,
    unless `citations` is off)."""
    said = turn.reply
    did = turn.acted()
    everything = f"{said}\n{did}"
    if citations and cited(memory_id, everything):
        return float("inf")
    asked = _vocabulary(f"{turn.prompt}\n{turn.cwd}")
    shown = _vocabulary(everything)
    total = 0.0
    for term, weight in terms(f"{title}\n{content}").items():
        if term in asked:
            continue
        if term in shown:
            total += weight
    lowered = everything.lower()
    for span in _CODE_SPAN.findall(content):
        span = span.strip().lower()
        if len(span) >= 6 and span not in turn.prompt.lower() and span in lowered:
            total += SPAN_WEIGHT
    return total


def used(
    memory_id: str,
    title: str,
    content: str,
    turn: Turn,
    threshold: float = THRESHOLD,
    *,
    citations: bool = True,
) -> bool:
    """Whether the turn used the memory: its distinctive content shows, and the reply does not
    say it set the memory aside."""
    found = score(memory_id, title, content, turn, citations=citations)
    if found < threshold:
        return False
    return not set_aside(memory_id, title, content, turn.reply)


def set_aside(memory_id: str, title: str, content: str, reply: str) -> bool:
    """The reply says, in one sentence naming the memory (its id, or its rare words), that it
    ignores the memory or that the memory does not apply."""
    mine = {t for t, w in terms(f"{title}\n{content}").items() if w == WORD_WEIGHT}
    for sentence in _SENTENCE.split(reply):
        if not _SET_ASIDE.search(sentence):
            continue
        if cited(memory_id, sentence) or mine & _vocabulary(sentence):
            return True
    return False


def decide(memories: Sequence[tuple[str, str, str]], turn: Turn) -> dict[str, bool]:
    """`used` for each (id, title, content) injected into `turn`. A turn that names more than
    CITE_STORM of them by id (a reply that lists the ids it was shown, as a planted memory
    may ask) proves nothing by citation: each is then judged by its content alone."""
    everything = f"{turn.reply}\n{turn.acted()}"
    storm = sum(cited(mid, everything) for mid, _, _ in memories) > CITE_STORM
    return {
        mid: used(mid, title, content, turn, citations=not storm)
        for mid, title, content in memories
    }


@dataclass(frozen=True, slots=True)
class Exchange:
    """One prompt of a transcript and what the assistant did until the next one. `closed`: a
    later prompt follows (the turn is over)."""

    at: str  # the prompt record's ISO timestamp ("" if absent)
    turn: Turn
    closed: bool


_EDITING: Final = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})


def _prompt_text(record: Mapping[str, Any]) -> str | None:
    """The text of a user record that is a prompt the person typed, else None."""
    if record.get("type") != "user" or any(record.get(flag) for flag in DROP_FLAGS):
        return None
    message = record.get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            b.get("text", "")
            for b in content
            if isinstance(b, Mapping) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if texts:
            return "\n".join(texts)
    return None  # tool results only: part of the turn, not a new prompt


def exchanges(data: bytes) -> list[Exchange]:
    """The prompts of a transcript (JSONL bytes, possibly a tail starting mid-line), each with
    the assistant's reply text, tool calls and edited files until the next prompt. Bad lines
    are skipped; nothing raises."""
    import json

    found: list[Exchange] = []
    current: dict[str, Any] | None = None

    def close(closed: bool) -> None:
        if current is not None:
            turn = Turn(
                current["prompt"],
                "\n".join(current["reply"]),
                tuple(current["tools"]),
                tuple(dict.fromkeys(current["files"])),
                current["cwd"],
            )
            found.append(Exchange(current["at"], turn, closed))

    for raw in data.splitlines():
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        prompt = _prompt_text(record)
        if prompt is not None:
            close(True)
            current = {
                "prompt": prompt,
                "at": str(record.get("timestamp") or ""),
                "cwd": str(record.get("cwd") or ""),
                "reply": [],
                "tools": [],
                "files": [],
            }
            continue
        if current is None or record.get("type") != "assistant" or record.get("isSidechain"):
            continue
        message = record.get("message")
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                current["reply"].append(block["text"])
            elif block.get("type") == "tool_use" and isinstance(block.get("name"), str):
                given = block.get("input")
                given = given if isinstance(given, Mapping) else {}
                current["tools"].append((block["name"], given))
                path = given.get("file_path") or given.get("notebook_path")
                if block["name"] in _EDITING and isinstance(path, str):
                    current["files"].append(path)
    close(False)
    return found
