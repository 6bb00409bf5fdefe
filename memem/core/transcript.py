"""Claude Code session transcripts: from JSONL bytes to the conversation the miner mines. Pure.

A transcript (`~/.claude/projects/<slug>/<session-id>.jsonl`) is one JSON record per line,
appended while the session runs. The miner keeps a byte cursor per session: `parse` reads the
bytes from that cursor, consumes complete lines only and says where it stopped
(`Transcript.end`), so a line the CLI is still writing is read whole by the next call.

Kept, because it is what the human asked and what the assistant concluded:
    - `user` records that are prompts: `message.content` as a string, or its `text` blocks;
    - the `text` blocks of `assistant` records (the prose).
Dropped, because it is not conversation, is someone else's words, or would be mined twice:
    - tool calls and their results (`tool_use`, `tool_result`), `thinking` and
      `redacted_thinking` blocks; a user record holding only tool results yields nothing;
    - records flagged `isMeta` (skill bodies, command expansions, caveats), `isCompactSummary`
      or `isVisibleInTranscriptOnly` (the compaction summary restates earlier turns),
      `isSidechain` (subagents: their findings reach the main chain as a tool result);
    - the CLI's own assistant messages (`isApiErrorMessage`, model `<synthetic>`);
    - every other record type: `attachment` (where hook output lands), `system`,
      `queue-operation`, `api-request*`, `last-prompt`, `cost-state`, ... and future ones;
    - inside the text: `<system-reminder>` blocks, memem's own `<memem-memory>` slices (mining
      them back would be a feedback loop), slash-command wrappers and local command output,
      `<persisted-output>`, shell-mode (`!`) input and output, background-task
      notifications (a user record opening with one is dropped whole), and the CLI's
      "[Request interrupted by user]" markers. A slash command typed with arguments survives
      as `/name args`: the arguments are the human's own words.
A message left empty by this is dropped.

memem's own extraction runs (the claude-cli backend's `claude -p` children) must never be
mined: that would feed memem's prompts back into memory. They are recognised by something a
user cannot type into a prompt: the child runs in its own working directory, MINER_CWD under
memem's state dir, so Claude Code files its sessions in the project folder
`project_slug(<state>/miner-cwd)` and stamps that `cwd` on every record; the miner skips that
folder and that cwd (`memem.mining.miner`). Sessions written by older memem versions, whose child ran
in the daemon's own cwd, are recognised here (`Transcript.headless`) by the marker prompt
those versions sent (`[memem-miner-session] Extract the durable lessons ...`) in a record
that Claude Code marked as a headless run (`entrypoint: "sdk-cli"`, what `claude -p`
writes). A prompt that merely contains MINER_MARKER, typed or pasted in an interactive
session, is mined like any other.

Bad lines (invalid UTF-8, invalid JSON, a JSON value that is not an object, a line over
MAX_LINE_BYTES) are skipped and counted in `Transcript.problems`; nothing here raises on any
input to `parse`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypeAlias

from memem.errors import InvalidInput

Role: TypeAlias = Literal["user", "assistant"]
# Why a consumed line was skipped (or, for the last one, left for the next call).
Problem: TypeAlias = Literal[
    "truncated-last-line", "huge-line", "invalid-utf8", "invalid-json", "not-an-object"
]

MINER_MARKER: Final = "memem-miner-session"
# The opening of the prompt memem's extraction sends (memem.core.extraction.user_prompt).
MINER_PROMPT: Final = f"[{MINER_MARKER}] Extract the durable lessons of this session"
# The claude-cli backend's working directory, under the state dir: see the module docstring.
MINER_CWD: Final = "miner-cwd"
# Branches whose lessons hold for the whole project: mined memories carry no branch there.
DEFAULT_BRANCHES: Final = frozenset({"main", "master", "trunk", "develop"})
# A detached HEAD some tools report as its commit.
_COMMIT: Final = re.compile(r"[0-9a-f]{7,40}")
_HEADLESS_ENTRYPOINT: Final = "sdk-cli"
_SLUG_CHAR: Final = re.compile(r"[^A-Za-z0-9]")
MAX_LINE_BYTES: Final = 2 * 1024 * 1024
MIN_CHUNK_CHARS: Final = 64

_KEPT_TYPES: Final[frozenset[Role]] = frozenset({"user", "assistant"})
# Records flagged so are not the conversation: the miner drops them, and used-or-not
# detection (`memem.core.usage`) never takes one for a prompt the person typed.
DROP_FLAGS: Final = (
    "isSidechain",
    "isMeta",
    "isCompactSummary",
    "isVisibleInTranscriptOnly",
    "isApiErrorMessage",
)
_BOM: Final = b"\xef\xbb\xbf"
_TYPE_FIRST: Final = b'{"type":"'
_KEPT_TYPE_BYTES: Final = frozenset({b"user", b"assistant"})
_SEP: Final = "\n\n"

# Blocks removed with their content. `memem-memory` is memem.core.slice.OPEN/CLOSE, spelled out
# here so the transcript path does not import the slice; a test ties the two together.
_STRIPPED_TAGS: Final = (
    "system-reminder",
    "memem-memory",
    "local-command-stdout",
    "local-command-stderr",
    "local-command-caveat",
    "persisted-output",
    "bash-input",
    "bash-stdout",
    "bash-stderr",
    "task-notification",
)
# A user record that opens with one of these was written by the CLI, not typed: the text that
# follows the block ("Read the output file ...") is the CLI's too.
_INJECTED_PROMPT: Final = "<task-notification>"
_TAGGED: Final = re.compile(rf"<({'|'.join(_STRIPPED_TAGS)})>.*?</\1>\n?", re.DOTALL)
_COMMAND_RUN: Final = re.compile(
    r"(?:<(?P<tag>command-(?:message|name|args))>.*?</(?P=tag)>\s*)+", re.DOTALL
)
_COMMAND_PART: Final = re.compile(r"<(command-(?:message|name|args))>(.*?)</\1>", re.DOTALL)
_INTERRUPTED: Final = re.compile(r"^\[Request interrupted by user[^\]\n]*\][ \t]*$", re.M)
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_BLANK_RUN: Final = re.compile(r"[ \t]*\n(?:[ \t]*\n)+")


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    text: str  # prose only, cleaned
    timestamp: str  # ISO-8601 as in the record ("" if absent)
    uuid: str
    branch: str = ""  # the record's `gitBranch` ("HEAD" when detached or outside git)


@dataclass(frozen=True, slots=True)
class Transcript:
    """What one `parse` call found.

    `end` is the absolute offset just past the last consumed line: the next cursor. `skipped`
    counts consumed lines that were bad; `problems` counts them by reason, plus
    "truncated-last-line" for an unfinished final line that was left for the next call.
    """

    session_id: str | None
    cwd: str | None
    messages: tuple[Message, ...]
    end: int
    skipped: int
    problems: Mapping[Problem, int]
    headless: bool


@dataclass(frozen=True, slots=True)
class Exchange:
    """One user prompt and the assistant prose that answered it (for the search index)."""

    index: int
    user: str
    assistant: str
    timestamp: str


def parse(data: bytes, *, offset: int = 0) -> Transcript:
    """Read the transcript bytes that start at absolute byte `offset` of the file.

    Complete lines (ending in b"\\n", CRLF tolerated) are consumed. A final line without a
    newline is consumed only if it is a whole JSON object; otherwise the session may still be
    writing it, so `end` stops before it and a later call from `end` reads it whole.
    `offset <= end <= offset + len(data)` always holds, and parsing a file in pieces at line
    boundaries yields the same messages as parsing it at once. Never raises.
    """
    problems: Counter[Problem] = Counter()
    messages: list[Message] = []
    session_id: str | None = None
    cwd: str | None = None
    headless = False
    size = len(data)
    pos = len(_BOM) if offset == 0 and data.startswith(_BOM) else 0
    while pos < size:
        newline = data.find(b"\n", pos)
        last = newline < 0
        stop = size if last else newline
        if stop > pos and data[stop - 1] == 0x0D:
            stop -= 1
        if stop - pos > MAX_LINE_BYTES:
            # Never decoded: a record this large is a tool output or a request blob.
            if last:
                problems["truncated-last-line"] += 1
                break
            problems["huge-line"] += 1
        elif not (last or session_id is None or cwd is None) and _never_kept(data, pos, stop):
            pass  # once the session is identified, nothing in this line can matter
        else:
            record = _decode(data[pos:stop])
            if last and not isinstance(record, dict):
                if record:
                    problems["truncated-last-line"] += 1
                break
            if isinstance(record, str):
                if record:
                    problems[record] += 1
            else:
                if session_id is None and isinstance(record.get("sessionId"), str):
                    session_id = record["sessionId"]
                if cwd is None and isinstance(record.get("cwd"), str):
                    cwd = record["cwd"]
                message = _message(record)
                if message is not None:
                    messages.append(message)
                    if (
                        message.role == "user"
                        and record.get("entrypoint") == _HEADLESS_ENTRYPOINT
                        and MINER_PROMPT in message.text
                    ):
                        headless = True
        pos = size if last else newline + 1
    return Transcript(
        session_id=session_id,
        cwd=cwd,
        messages=tuple(messages),
        end=offset + pos,
        skipped=sum(n for reason, n in problems.items() if reason != "truncated-last-line"),
        problems=dict(sorted(problems.items())),
        headless=headless,
    )


def project_slug(cwd: str) -> str:
    """The name of the folder under ~/.claude/projects where Claude Code files the sessions
    run in `cwd`: every character that is not an ASCII letter or digit becomes "-"."""
    return _SLUG_CHAR.sub("-", cwd)


def learned_on(messages: Sequence[Message]) -> str | None:
    """The git branch a part of a session worked on (the last that its messages name), for
    the memories mined from it; None on a default branch (DEFAULT_BRANCHES: what is learned
    there holds for the project), a detached HEAD or outside git."""
    branch = next((m.branch for m in reversed(messages) if m.branch), "")
    if branch in DEFAULT_BRANCHES or branch == "HEAD" or _COMMIT.fullmatch(branch):
        return None
    return branch or None


def clean(text: str) -> str:
    """The prose of one message: injected blocks and wrappers removed, blank runs collapsed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "<" in text:
        text = _TAGGED.sub("", text)
        text = _COMMAND_RUN.sub(_command, text)
    if "[Request interrupted" in text:
        text = _INTERRUPTED.sub("", text)
    # A lone surrogate (a "\ud800" escape in the JSON) would break every UTF-8 encode later.
    text = _SURROGATE.sub("\ufffd", text)
    return _BLANK_RUN.sub(_SEP, text).strip()


def exchanges(messages: Sequence[Message]) -> list[Exchange]:
    """Pair each user prompt with the assistant prose that follows it, in order.

    Consecutive user messages (a prompt sent while the assistant was busy) form one prompt;
    assistant prose before any prompt (a cursor in mid-turn) gets an empty `user`. The
    timestamp is that of the exchange's first message; `index` is the position in the list.
    """
    groups: list[tuple[list[str], list[str], str]] = []
    for message in messages:
        user = message.role == "user"
        if not groups or (user and groups[-1][1]):
            groups.append(([], [], message.timestamp))
        users, replies, _ = groups[-1]
        (users if user else replies).append(message.text)
    return [
        Exchange(index, _SEP.join(users), _SEP.join(replies), stamp)
        for index, (users, replies, stamp) in enumerate(groups)
    ]


def chunks(messages: Sequence[Message], max_chars: int = 12_000) -> list[tuple[Message, ...]]:
    """Consecutive groups of messages, each rendering to at most `max_chars` characters.

    A message too long to render alone within `max_chars` is split into several Messages
    (same role, uuid and timestamp), cut after whitespace where there is some in the second
    half of the window. Nothing is lost or reordered: joining the groups and then the pieces of
    each message gives back `messages` exactly.
    """
    if max_chars < MIN_CHUNK_CHARS:
        raise InvalidInput(f"max_chars must be at least {MIN_CHUNK_CHARS}, got {max_chars}")
    groups: list[tuple[Message, ...]] = []
    group: list[Message] = []
    size = 0
    for piece in (p for m in messages for p in _split(m, max_chars)):
        cost = _rendered_len(piece)
        if group and size + len(_SEP) + cost > max_chars:
            groups.append(tuple(group))
            group, size = [], 0
        size += cost + (len(_SEP) if group else 0)
        group.append(piece)
    if group:
        groups.append(tuple(group))
    return groups


def render(messages: Sequence[Message], *, numbered: bool = False) -> str:
    """The conversation as the model reads it: "User: ..." and "Assistant: ..." blocks;
    `numbered`, each opens with its entry number ("[1] User: ..."), which the miner asks a
    model to cite (memem.core.provenance)."""
    if numbered:
        return _SEP.join(f"[{n}] {_label(m)}{m.text}" for n, m in enumerate(messages, 1))
    return _SEP.join(f"{_label(m)}{m.text}" for m in messages)


def _decode(line: bytes) -> dict[str, Any] | Problem | Literal[""]:
    """The record on one line, or why there is none ("" for a blank line: not a problem)."""
    if not line or line.isspace():
        return ""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid-utf8"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return "invalid-json"
    return value if isinstance(value, dict) else "not-an-object"


def _never_kept(data: bytes, start: int, stop: int) -> bool:
    """A record of a type we never keep, recognised without parsing it.

    Current CLIs serialise `type` first and never escape it, and these records (attachments,
    request blobs) are most of a transcript's bytes. Older CLIs put `type` later: such lines
    simply take the slow path. The closing brace guards against obviously truncated lines.
    """
    if not data.startswith(_TYPE_FIRST, start, stop) or data[stop - 1] != 0x7D:
        return False
    begin = start + len(_TYPE_FIRST)
    close = data.find(b'"', begin, stop)
    return close >= 0 and data[begin:close] not in _KEPT_TYPE_BYTES


def _message(record: Mapping[str, Any]) -> Message | None:
    role = record.get("type")
    if role not in _KEPT_TYPES or any(record.get(flag) is True for flag in DROP_FLAGS):
        return None
    body = record.get("message")
    if not isinstance(body, dict) or (role == "assistant" and body.get("model") == "<synthetic>"):
        return None
    raw = _prose(body.get("content"))
    if role == "user" and raw.lstrip().startswith(_INJECTED_PROMPT):
        return None
    text = clean(raw)
    if not text:
        return None
    timestamp, uuid = record.get("timestamp"), record.get("uuid")
    return Message(
        # Narrowed by the `_KEPT_TYPES` check above.
        role="user" if role == "user" else "assistant",
        text=text,
        timestamp=timestamp if isinstance(timestamp, str) else "",
        uuid=uuid if isinstance(uuid, str) else "",
        branch=branch if isinstance(branch := record.get("gitBranch"), str) else "",
    )


def _prose(content: object) -> str:
    """The text blocks of a message's content; tool calls, results, thinking, images go."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return _SEP.join(
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )


def _command(match: re.Match[str]) -> str:
    """A slash-command wrapper becomes what the human typed, if they typed arguments."""
    parts = {tag: value.strip() for tag, value in _COMMAND_PART.findall(match.group())}
    name, args = parts.get("command-name", "").lstrip("/"), parts.get("command-args", "")
    return f"/{name} {args}{_SEP}" if name and args else ""


def _split(message: Message, max_chars: int) -> Iterator[Message]:
    budget = max(max_chars - len(_label(message)), 1)
    text = message.text
    if len(text) <= budget:
        yield message
        return
    start = 0
    while start < len(text):
        stop = _cut(text, start, budget)
        yield replace(message, text=text[start:stop])
        start = stop


def _cut(text: str, start: int, budget: int) -> int:
    """Where the piece starting at `start` ends: after a break late in the window if any."""
    limit = start + budget
    if len(text) <= limit:
        return len(text)
    floor = start + budget // 2
    for sep in ("\n\n", "\n", " ", "\t"):
        at = text.rfind(sep, floor, limit)
        if at >= 0:
            return at + len(sep)
    return limit


def _label(message: Message) -> str:
    return f"{message.role.capitalize()}: "


def _rendered_len(message: Message) -> int:
    return len(_label(message)) + len(message.text)
