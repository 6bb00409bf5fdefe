"""Validate the retrieval benchmark sets of benchmarks/data/ (see benchmarks/data/README.md).

    PYTHONPATH=. python -m benchmarks.check_data [--data DIR] [--verbose]

Checks the schema, unique ids, that every target exists, the minimum counts, the split
balance, and for `coding_recall.json` the paraphrase rule: a question shares AT MOST ONE
content word with its target's title + content, and its keywords share at least one.
Words are memem's own (`memem.core.text.query_terms`: folded, stopwords and single letters out),
stemmed by the index's FTS5 tokenizer (`memem.storage.index.analyze`), so "thumbnails" and
"thumbnail" count as one word, exactly as the lexical search would see them.

Prints every violation and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memem.core.text import query_terms
from memem.storage.index import analyze

Row = dict[str, Any]
DATA = Path(__file__).resolve().parent / "data"
SPLITS = ("tune", "holdout")
PROMPT_KINDS = ("natural", "two-part", "unrelated")

# Minimum sizes the brief asks for; the files may hold more.
MIN_TARGETS = 48
MIN_DISTRACTORS = 320
MIN_PROJECTS = 8
MIN_FW_MEMORIES, MAX_FW_MEMORIES = 12, 18
MIN_NATURAL_PER_MEMORY = 2
MIN_TWO_PART = 12
MIN_UNRELATED = 10
MIN_CUES = 30
MIN_IMPLICIT_MEMORIES = 90
# How many content words a prompt may share with the memory it should recall: a coding
# question and a first-week "natural" prompt paraphrase (at most one word in common); an
# implicit cue alludes to the situation, so it may name the topic, but only just.
MAX_SHARED_QUESTION = 1
MAX_SHARED_NATURAL = 1
MAX_SHARED_CUE = 2


class Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []
        # One in-memory connection: analyze() makes its scratch tables there once.
        self.conn = sqlite3.connect(":memory:")

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def stems(self, text: str) -> set[str]:
        # A huge limit: the memory side must be complete, not the first N words.
        terms = query_terms(text, limit=10_000)
        return set(analyze(self.conn, " ".join(terms))) if terms else set()

    def shared(self, a: str, b: str) -> set[str]:
        return self.stems(a) & self.stems(b)


def load(path: Path, checker: Checker) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        checker.fail(path.name, f"cannot read: {exc}")
        return None


def require(checker: Checker, where: str, item: Any, fields: Mapping[str, type]) -> bool:
    if not isinstance(item, dict):
        checker.fail(where, "not an object")
        return False
    ok = True
    for name, kind in fields.items():
        value = item.get(name)
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            checker.fail(where, f"field {name!r} missing or not a non-empty {kind.__name__}")
            ok = False
    return ok


def memories_by_id(
    checker: Checker, name: str, memories: Any, fields: Mapping[str, type]
) -> dict[str, Row]:
    found: dict[str, Row] = {}
    if not isinstance(memories, list) or not memories:
        checker.fail(name, "'memories' must be a non-empty list")
        return found
    for n, memory in enumerate(memories):
        where = f"{name} memories[{n}]"
        if not require(checker, where, memory, fields):
            continue
        if memory["id"] in found:
            checker.fail(where, f"duplicate id {memory['id']!r}")
            continue  # the first one stands: later checks then speak of the right memory
        found[memory["id"]] = memory
    texts = Counter(m["content"].strip().lower() for m in found.values())
    for text, count in texts.items():
        if count > 1:
            checker.fail(name, f"content repeated {count} times: {text[:60]!r}")
    return found


def check_split_balance(checker: Checker, name: str, rows: list[Row], group: str) -> None:
    by_group: dict[str, Counter[str]] = {}
    for row in rows:
        by_group.setdefault(row.get(group, "?"), Counter())[str(row.get("split"))] += 1
    for key, counts in sorted(by_group.items()):
        if abs(counts["tune"] - counts["holdout"]) > 1:
            checker.fail(name, f"{group} {key!r}: splits unbalanced {dict(counts)}")


def check_coding(checker: Checker, path: Path, verbose: bool) -> None:
    data = load(path, checker)
    if data is None:
        return
    name = path.name
    fields = {"id": str, "project": str, "title": str, "content": str, "role": str}
    memories = memories_by_id(checker, name, data.get("memories"), fields)
    targets = {k: m for k, m in memories.items() if m["role"] == "target"}
    distractors = {k: m for k, m in memories.items() if m["role"] == "distractor"}
    for key, memory in memories.items():
        if memory["role"] not in ("target", "distractor"):
            checker.fail(f"{name} {key}", f"role {memory['role']!r}")
        near = memory.get("near")
        if near is not None:
            if memory["role"] != "distractor":
                checker.fail(f"{name} {key}", "only a distractor may have 'near'")
            elif near not in targets:
                checker.fail(f"{name} {key}", f"near {near!r} is not a target")
            elif targets[near]["project"] != memory["project"]:
                checker.fail(f"{name} {key}", f"near {near!r} is in another project")
            elif not checker.shared(
                memory["title"] + "\n" + memory["content"],
                targets[near]["title"] + "\n" + targets[near]["content"],
            ):
                # A hard negative competes on the target's own words, or it is not hard.
                checker.fail(f"{name} {key}", f"shares no word with its target {near!r}")
    hard = [m for m in distractors.values() if m.get("near")]
    projects = Counter(m["project"] for m in targets.values())
    if len(targets) < MIN_TARGETS:
        checker.fail(name, f"{len(targets)} targets, want >= {MIN_TARGETS}")
    if len(distractors) < MIN_DISTRACTORS:
        checker.fail(name, f"{len(distractors)} distractors, want >= {MIN_DISTRACTORS}")
    if 2 * len(hard) < len(distractors):
        checker.fail(name, f"{len(hard)} hard negatives of {len(distractors)}: want half")
    if len(projects) < MIN_PROJECTS:
        checker.fail(name, f"{len(projects)} projects, want >= {MIN_PROJECTS}")

    queries = data.get("queries")
    if not isinstance(queries, list):
        checker.fail(name, "'queries' must be a list")
        return
    asked: Counter[str] = Counter()
    rows: list[Row] = []
    for n, query in enumerate(queries):
        where = f"{name} queries[{n}]"
        if not require(checker, where, query, {"target": str, "question": str, "keywords": str}):
            continue
        target = targets.get(query["target"])
        if target is None:
            checker.fail(where, f"target {query['target']!r} is not a target memory")
            continue
        asked[query["target"]] += 1
        if query.get("split") not in SPLITS:
            checker.fail(where, f"split {query.get('split')!r}")
        rows.append({"project": target["project"], "split": query.get("split")})
        text = target["title"] + "\n" + target["content"]
        common = checker.shared(query["question"], text)
        if len(common) > MAX_SHARED_QUESTION:
            checker.fail(
                f"{where} ({query['target']})",
                f"question shares {len(common)} content words {sorted(common)}: "
                f"{query['question']!r}",
            )
        elif verbose:
            checker.notes.append(f"{query['target']} shares {sorted(common)}")
        keywords = query_terms(query["keywords"], limit=100)
        if not 2 <= len(keywords) <= 5:
            checker.fail(where, f"keywords {query['keywords']!r}: want 2-5 content words")
        if not checker.shared(query["keywords"], text):
            checker.fail(where, f"keywords {query['keywords']!r} share no word with the target")
    for key in targets:
        if not asked[key]:
            checker.fail(name, f"target {key} has no query")
    check_split_balance(checker, name, rows, "project")
    splits = Counter(r["split"] for r in rows)
    checker.notes.append(
        f"{name}: {len(targets)} targets, {len(distractors)} distractors "
        f"({len(hard)} hard negatives), {len(projects)} projects, "
        f"{len(rows)} queries {dict(splits)}"
    )


def check_first_week(checker: Checker, path: Path) -> None:
    data = load(path, checker)
    if data is None:
        return
    name = path.name
    fields = {"id": str, "project": str, "title": str, "content": str}
    memories = memories_by_id(checker, name, data.get("memories"), fields)
    if not MIN_FW_MEMORIES <= len(memories) <= MAX_FW_MEMORIES:
        checker.fail(name, f"{len(memories)} memories, want {MIN_FW_MEMORIES}-{MAX_FW_MEMORIES}")
    prompts = data.get("prompts")
    if not isinstance(prompts, list):
        checker.fail(name, "'prompts' must be a list")
        return
    kinds: Counter[str] = Counter()
    natural: Counter[str] = Counter()
    rows: list[Row] = []
    for n, prompt in enumerate(prompts):
        where = f"{name} prompts[{n}]"
        if not require(checker, where, prompt, {"text": str, "targets": list, "kind": str}):
            continue
        kind, targets = prompt["kind"], prompt["targets"]
        if kind not in PROMPT_KINDS:
            checker.fail(where, f"kind {kind!r}")
        kinds[kind] += 1
        if prompt.get("split") not in SPLITS:
            checker.fail(where, f"split {prompt.get('split')!r}")
        rows.append({"kind": kind, "split": prompt.get("split")})
        for target in targets:
            if target not in memories:
                checker.fail(where, f"target {target!r} is not a memory")
        if len(set(targets)) != len(targets):
            checker.fail(where, "repeated target")
        want = {"natural": 1, "two-part": 2, "unrelated": 0}.get(kind)
        if want is not None and len(targets) != want:
            checker.fail(where, f"a {kind} prompt has {len(targets)} targets, want {want}")
        if kind == "natural":
            natural.update(targets)
            for target in targets:
                if target not in memories:
                    continue
                memory = memories[target]
                common = checker.shared(prompt["text"], memory["title"] + "\n" + memory["content"])
                if len(common) > MAX_SHARED_NATURAL:
                    checker.fail(
                        where, f"shares {sorted(common)} with {target}: {prompt['text']!r}"
                    )
    for key in memories:
        if natural[key] < MIN_NATURAL_PER_MEMORY:
            checker.fail(name, f"memory {key} has {natural[key]} natural prompts")
    if kinds["two-part"] < MIN_TWO_PART:
        checker.fail(name, f"{kinds['two-part']} two-part prompts, want >= {MIN_TWO_PART}")
    if kinds["unrelated"] < MIN_UNRELATED:
        checker.fail(name, f"{kinds['unrelated']} unrelated prompts, want >= {MIN_UNRELATED}")
    check_split_balance(checker, name, rows, "kind")
    checker.notes.append(
        f"{name}: {len(memories)} memories, prompts {dict(kinds)}, "
        f"splits {dict(Counter(r['split'] for r in rows))}"
    )


def check_implicit(checker: Checker, path: Path) -> None:
    data = load(path, checker)
    if data is None:
        return
    name = path.name
    fields = {"id": str, "project": str, "title": str, "content": str, "role": str}
    memories = memories_by_id(checker, name, data.get("memories"), fields)
    for key, memory in memories.items():
        if memory["role"] not in ("target", "other"):
            checker.fail(f"{name} {key}", f"role {memory['role']!r}")
    if len(memories) < MIN_IMPLICIT_MEMORIES:
        checker.fail(name, f"{len(memories)} memories, want >= {MIN_IMPLICIT_MEMORIES}")
    cues = data.get("cues")
    if not isinstance(cues, list):
        checker.fail(name, "'cues' must be a list")
        return
    rows: list[Row] = []
    cued: set[str] = set()
    for n, cue in enumerate(cues):
        where = f"{name} cues[{n}]"
        if not require(checker, where, cue, {"text": str, "target": str}):
            continue
        target = memories.get(cue["target"])
        if target is None or target["role"] != "target":
            checker.fail(where, f"target {cue['target']!r} is not a target memory")
        else:
            cued.add(cue["target"])
            common = checker.shared(cue["text"], target["title"] + "\n" + target["content"])
            if len(common) > MAX_SHARED_CUE:
                checker.fail(where, f"shares {sorted(common)} with its target: {cue['text']!r}")
        if cue.get("split") not in SPLITS:
            checker.fail(where, f"split {cue.get('split')!r}")
        rows.append({"all": "cues", "split": cue.get("split")})
    for key, memory in memories.items():
        if memory["role"] == "target" and key not in cued:
            checker.fail(name, f"target {key} has no cue")
    if len(rows) < MIN_CUES:
        checker.fail(name, f"{len(rows)} cues, want >= {MIN_CUES}")
    check_split_balance(checker, name, rows, "all")
    checker.notes.append(
        f"{name}: {len(memories)} memories, {len(rows)} cues, "
        f"splits {dict(Counter(r['split'] for r in rows))}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--verbose", action="store_true", help="print the words each shares")
    args = parser.parse_args(argv)
    checker = Checker()
    check_coding(checker, args.data / "coding_recall.json", args.verbose)
    check_first_week(checker, args.data / "first_week.json")
    check_implicit(checker, args.data / "implicit.json")
    for note in checker.notes:
        print(note)
    for problem in checker.problems:
        print("FAIL", problem)
    print(f"{len(checker.problems)} violation(s)")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
