"""LoCoMo as memem memories: loading, saving into a Store, the plain BM25 baseline, metrics.

    conversations = locomo.load()                     # 10 conversations, questions of cat. 1-4
    ingested = locomo.ingest(store, conversations[0])  # one memory per dialogue turn

The data (Maharana et al., ACL 2024; CC BY-NC 4.0) is read from /work/shared/data/locomo, or
from $MEMEM_LOCOMO; it is never copied into the repository. Each question's `evidence` names
the dialogue turns (`D<session>:<turn>`) holding its answer. Ids that do not name a turn of
the conversation (`D:11:26`, `D8:6; D9:17`, `D30:05`, a turn that does not exist) are skipped
and counted; a question left with no evidence is skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from memem.core import layers, markdown
from memem.core.memory import Memory
from memem.core.text import query_terms
from memem.errors import SecurityError
from memem.service.store import Store

DATA: Final = Path(os.environ.get("MEMEM_LOCOMO", "/work/shared/data/locomo/locomo10.json"))
CATEGORIES: Final = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TITLE_WORDS: Final = 8
_DIA_ID: Final = re.compile(r"D(\d+):(\d+)")
_SESSION: Final = re.compile(r"session_(\d+)")
_WORD: Final = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    session: int
    speaker: str
    text: str
    caption: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    category: int
    evidence: tuple[str, ...]  # dia_ids of turns of this conversation

    @property
    def sessions(self) -> frozenset[int]:
        return frozenset(int(_DIA_ID.fullmatch(e).group(1)) for e in self.evidence)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]
    skipped_ids: tuple[str, ...]  # evidence ids that name no turn
    skipped_questions: int  # categories 1-4, no usable evidence

    def session_of(self, dia_id: str) -> int:
        return int(dia_id[1:].split(":", 1)[0])


def data_digest(path: Path = DATA) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def parse_when(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> an aware datetime (the data has no zone: UTC)."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(path: Path = DATA) -> list[Conversation]:
    conversations = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        conv = sample["conversation"]
        turns: list[Turn] = []
        for key, value in conv.items():
            m = _SESSION.fullmatch(key)
            if not m or not isinstance(value, list):
                continue
            number = int(m.group(1))
            when = parse_when(conv[f"{key}_date_time"])
            for t in value:
                turns.append(
                    Turn(
                        t["dia_id"],
                        number,
                        t["speaker"],
                        t["text"],
                        t.get("blip_caption", ""),
                        when,
                    )
                )
        known = {t.dia_id for t in turns}
        questions: list[Question] = []
        skipped: list[str] = []
        no_evidence = 0
        for qa in sample["qa"]:
            if qa["category"] not in CATEGORIES:
                continue
            evidence = []
            for e in qa.get("evidence", []):
                if _DIA_ID.fullmatch(e) and e in known:
                    evidence.append(e)
                else:
                    skipped.append(e)
            if not evidence:
                no_evidence += 1
                continue
            questions.append(Question(qa["question"], qa["category"], tuple(evidence)))
        conversations.append(
            Conversation(
                sample["sample_id"],
                (conv["speaker_a"], conv["speaker_b"]),
                tuple(turns),
                tuple(questions),
                tuple(skipped),
                no_evidence,
            )
        )
    return conversations


# -- turns as memories -------------------------------------------------------------------------


def content_of(turn: Turn) -> str:
    if turn.caption:
        return f"{turn.text}\n\n[shared an image: {turn.caption}]"
    return turn.text


def title_of(turn: Turn, style: str = "words") -> str:
    """The memory's title for a turn. 'words' (the default): "<speaker>: <first words>";
    'dated': "<speaker>, <session date>: <first words>" (the date a note taker would write,
    so that "what did X do in May 2023?" can match); 'speaker': the speaker's name only."""
    if style == "speaker":
        return turn.speaker
    if style == "dated":
        return f"{turn.speaker}, {turn.created:%-d %B %Y}: {_head(turn.text)}"
    if style != "words":
        raise ValueError(f"unknown title style {style!r}")
    return f"{turn.speaker}: {_head(turn.text)}"


def _head(text: str) -> str:
    words = text.split()
    head = " ".join(words[:TITLE_WORDS]).rstrip(",;:")
    return head + (" …" if len(words) > TITLE_WORDS else "")


def tags_of(turn: Turn) -> tuple[str, ...]:
    return (f"session-{turn.session}", turn.speaker.lower())


@dataclass
class Ingested:
    """One conversation in a Store: every turn's memory id (several turns may share one,
    after dedup) and how the saves went."""

    memory_of: dict[str, str]  # dia_id -> memory id
    outcomes: dict[str, int]
    hidden: dict[str, int]  # turns whose memory search cannot return: "L3", "deprecated"
    state: Path = field(default=Path())
    vault: Path = field(default=Path())

    def to_dict(self) -> dict[str, Any]:
        return {"memory_of": self.memory_of, "outcomes": self.outcomes, "hidden": self.hidden}

    @classmethod
    def from_dict(cls, data: dict[str, Any], state: Path, vault: Path) -> Ingested:
        return cls(data["memory_of"], data["outcomes"], data["hidden"], state, vault)

    def open(self) -> Store:
        return Store.open(
            state_dir=self.state, vault_dir=self.vault, env={"HOME": str(self.state.parent)}
        )


def ingest(
    store: Store, conv: Conversation, *, mode: str = "add", title: str = "words"
) -> Ingested:
    """Save every turn of `conv` in `store` (project = its sample_id).

    mode 'add': through `Store.add`, as a user's save would go (dedup, contradictions, layer
    classification, graph). mode 'files': one file per turn written directly, then
    `rebuild_index` (no dedup, no contradiction check; layers classified the same way)."""
    memory_of: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    if mode == "add":
        for turn in conv.turns:
            try:
                saved = store.add(
                    content_of(turn),
                    title=title_of(turn, title),
                    project=conv.sample_id,
                    tags=tags_of(turn),
                    created=turn.created,
                    source_type="import",
                    source_session=f"{conv.sample_id}-s{turn.session}",
                )
            except SecurityError:
                outcomes["refused"] += 1
                continue
            outcomes["superseding" if saved.superseded else saved.outcome] += 1
            memory_of[turn.dia_id] = saved.memory.id
    elif mode == "files":
        memories_dir = store.vault.memories_dir
        for turn in conv.turns:
            body, head, tags = content_of(turn), title_of(turn, title), tags_of(turn)
            memory = Memory(
                id=os.urandom(16).hex(),
                title=head,
                content=body,
                created=turn.created,
                updated=turn.created,
                project=conv.sample_id,
                tags=tags,
                layer=layers.classify(head, body, tags, 3, conv.sample_id),
                source_type="import",
                source_session=f"{conv.sample_id}-s{turn.session}",
            )
            (memories_dir / memory.filename).write_text(markdown.render(memory), encoding="utf-8")
            memory_of[turn.dia_id] = memory.id
            outcomes["created"] += 1
        store.rebuild_index()
    else:
        raise ValueError(f"unknown ingest mode {mode!r}")
    conn = store.index.connection()
    state = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT id, status, layer FROM memories WHERE project = ?", (conv.sample_id,)
        )
    }
    hidden: Counter[str] = Counter()
    for memory_id in memory_of.values():
        status, layer = state.get(memory_id, ("missing", 0))
        if status != "active":
            hidden[status] += 1
        elif layer == 3:
            hidden["L3"] += 1
    return Ingested(memory_of, dict(outcomes), dict(hidden))


# -- the plain BM25 baseline -------------------------------------------------------------------


class PlainBM25:
    """One FTS5 table of the conversation's turns, each as "<speaker>: <text> [image caption]"
    (what a memory holds, minus memem's title and tags), ranked by bm25().

    Plain: the default tokenizer (unicode61, no stemming) and every word of the question.
    `stemmed=True` is a reference point between plain BM25 and memem: porter stemming and
    the question reduced to memem's query terms (`memem.core.text.query_terms`, stopwords out)."""

    def __init__(self, turns: Sequence[Turn], *, stemmed: bool = False) -> None:
        self.stemmed = stemmed
        tokenize = ", tokenize='porter unicode61'" if stemmed else ""
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(
            f"CREATE VIRTUAL TABLE turns USING fts5(dia_id UNINDEXED, body{tokenize})"
        )
        self.conn.executemany(
            "INSERT INTO turns(dia_id, body) VALUES (?, ?)",
            [(t.dia_id, f"{t.speaker}: {content_of(t)}") for t in turns],
        )

    def search(self, question: str, *, op: str = "OR", limit: int = 10) -> list[str]:
        """dia_ids, best first: the question's words, quoted, joined with `op`."""
        words = query_terms(question) if self.stemmed else _WORD.findall(question)
        if not words:
            return []
        expr = f" {op} ".join('"' + w.replace('"', '""') + '"' for w in words)
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT dia_id FROM turns WHERE turns MATCH ? ORDER BY bm25(turns) LIMIT ?",
                (expr, limit),
            )
        ]

    def close(self) -> None:
        self.conn.close()


# -- metrics -----------------------------------------------------------------------------------


def recall_any(hits: Sequence[bool], k: int = 5) -> float:
    """1 if any of the first `k` results is relevant."""
    return 1.0 if any(hits[:k]) else 0.0


def distinct_cutoff(keys: Sequence[object], k: int) -> int:
    """How many of the first results it takes to cover `k` distinct keys (sessions): the
    cut-off of LongMemEval's `evaluate_retrieval_turn2session`, where a turn ranking is scored
    at session level and the turns of one session count once. All of them if fewer."""
    seen: set[object] = set()
    for n, key in enumerate(keys, start=1):
        seen.add(key)
        if len(seen) >= k:
            return n
    return len(keys)


def ndcg(hits: Sequence[bool], relevant: int, k: int = 10) -> float:
    """Binary-gain NDCG@k; `relevant` is how many relevant items exist in all."""
    if relevant <= 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(hits[:k]) if hit)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(relevant, k)))
    return dcg / ideal
