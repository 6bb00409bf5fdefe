"""Validate `benchmarks/data/usage_turns.jsonl`, the labelled set for "was this injected memory used?".

    PYTHONPATH=. python -m benchmarks.check_usage_data [--path FILE]

Checks the schema of every line (see benchmarks/data/USAGE.md), the counts the set promises
(turns, items, 1-4 memories a turn), the used/unused balance overall and per split, and that
the two splits are of equal size. Prints a summary; exits 1 listing every violation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

DEFAULT_PATH: Final = Path(__file__).parent / "data" / "usage_turns.jsonl"

MIN_TURNS: Final = 60
MIN_ITEMS: Final = 160
MAX_INJECTED: Final = 4
# The whole set and each split must be roughly balanced, so a detector that answers
# "used" (or "unused") to everything scores badly on precision or recall.
USED_SHARE: Final = (0.45, 0.55)
SPLIT_USED_SHARE: Final = (0.42, 0.58)
SPLITS: Final = ("tune", "holdout")

TURN_KEYS: Final = {
    "turn",
    "split",
    "project",
    "prompt",
    "injected",
    "reply",
    "tool_calls",
    "files_touched",
}
ITEM_KEYS: Final = {"id", "title", "content", "used", "why"}
# Claude Code's tool names and the input keys each one needs.
TOOL_INPUTS: Final[dict[str, set[str]]] = {
    "Bash": {"command"},
    "Read": {"file_path"},
    "Edit": {"file_path", "old_string", "new_string"},
    "MultiEdit": {"file_path", "edits"},
    "Write": {"file_path", "content"},
    "Grep": {"pattern"},
    "Glob": {"pattern"},
}
TURN_ID: Final = re.compile(r"u\d{3}")
MEMORY_ID: Final = re.compile(r"[0-9a-f]{32}")


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    turns: Counter[str] = field(default_factory=Counter)
    used: Counter[str] = field(default_factory=Counter)
    unused: Counter[str] = field(default_factory=Counter)
    projects: Counter[str] = field(default_factory=Counter)
    sizes: Counter[int] = field(default_factory=Counter)
    tools: Counter[str] = field(default_factory=Counter)

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def check_tool_call(where: str, call: Any, report: Report) -> None:
    if not isinstance(call, dict) or set(call) != {"name", "input"}:
        report.error(where, "a tool call is {name, input}")
        return
    name, args = call["name"], call["input"]
    if name not in TOOL_INPUTS:
        report.error(where, f"unknown tool {name!r}")
        return
    if not isinstance(args, dict) or not TOOL_INPUTS[name] <= set(args):
        report.error(where, f"{name} input needs {sorted(TOOL_INPUTS[name])}")
        return
    report.tools[name] += 1
    if name == "MultiEdit":
        edits = args["edits"]
        if not isinstance(edits, list) or not edits:
            report.error(where, "MultiEdit edits must be a non-empty list")
        elif not all(isinstance(e, dict) and {"old_string", "new_string"} <= set(e) for e in edits):
            report.error(where, "each MultiEdit edit needs old_string and new_string")


def _written(calls: list[Any]) -> set[str]:
    return {
        str(call["input"]["file_path"])
        for call in calls
        if isinstance(call, dict)
        and call.get("name") in ("Edit", "MultiEdit", "Write")
        and isinstance(call.get("input"), dict)
        and "file_path" in call["input"]
    }


def check_item(where: str, item: Any, report: Report) -> None:
    if not isinstance(item, dict) or set(item) != ITEM_KEYS:
        report.error(where, f"an injected item has exactly the keys {sorted(ITEM_KEYS)}")
        return
    if not isinstance(item["id"], str) or not MEMORY_ID.fullmatch(item["id"]):
        report.error(where, f"id {item['id']!r} is not 32 lowercase hex digits")
    if not isinstance(item["used"], bool):
        report.error(where, "used must be true or false")
    for key in ("title", "content", "why"):
        if not _text(item[key]):
            report.error(where, f"{key} must be a non-empty string")


def check_turn(
    lineno: int, turn: Any, seen: set[str], memories: dict[str, tuple[Any, Any]], report: Report
) -> None:
    where = f"line {lineno}"
    if not isinstance(turn, dict) or set(turn) != TURN_KEYS:
        keys = sorted(turn) if isinstance(turn, dict) else type(turn).__name__
        report.error(where, f"a turn has exactly the keys {sorted(TURN_KEYS)}, got {keys}")
        return
    tid = turn["turn"]
    if not isinstance(tid, str) or not TURN_ID.fullmatch(tid):
        report.error(where, f"turn id {tid!r} is not u + 3 digits")
    elif tid in seen:
        report.error(where, f"turn id {tid} repeated")
    else:
        seen.add(tid)
        where = f"{where} ({tid})"
    split = turn["split"]
    if split not in SPLITS:
        report.error(where, f"split {split!r} is not one of {SPLITS}")
    for key in ("project", "prompt", "reply"):
        if not _text(turn[key]):
            report.error(where, f"{key} must be a non-empty string")
    calls, files = turn["tool_calls"], turn["files_touched"]
    if not isinstance(calls, list):
        report.error(where, "tool_calls must be a list")
    else:
        for call in calls:
            check_tool_call(where, call, report)
    if not isinstance(files, list) or not all(_text(f) for f in files):
        report.error(where, "files_touched must be a list of paths")
    elif isinstance(calls, list):
        # files_touched lists the files the turn changed: every file an edit tool wrote
        # (Bash may change more, e.g. lock files, so the reverse is not required).
        for path in sorted(_written(calls) - set(files)):
            report.error(where, f"{path} is edited but not in files_touched")
    injected = turn["injected"]
    if not isinstance(injected, list) or not 1 <= len(injected) <= MAX_INJECTED:
        report.error(where, f"injected must hold 1-{MAX_INJECTED} memories")
        return
    split = str(split)
    report.turns[split] += 1
    report.sizes[len(injected)] += 1
    report.projects[str(turn["project"])] += 1
    ids: set[str] = set()
    for item in injected:
        check_item(where, item, report)
        if not isinstance(item, dict) or set(item) != ITEM_KEYS:
            continue
        mid = item["id"]
        if mid in ids:
            report.error(where, f"memory {mid} injected twice in one turn")
        ids.add(mid)
        # One id is one memory: the same id in two turns must carry the same text.
        known = memories.setdefault(mid, (item["title"], item["content"]))
        if known != (item["title"], item["content"]):
            report.error(where, f"memory {mid} has other title/content than elsewhere")
        (report.used if item["used"] is True else report.unused)[split] += 1


def check_totals(report: Report) -> None:
    turns = sum(report.turns.values())
    used, unused = sum(report.used.values()), sum(report.unused.values())
    if turns < MIN_TURNS:
        report.error("totals", f"{turns} turns, at least {MIN_TURNS} needed")
    if used + unused < MIN_ITEMS:
        report.error("totals", f"{used + unused} injected items, at least {MIN_ITEMS} needed")
    if used + unused and not USED_SHARE[0] <= used / (used + unused) <= USED_SHARE[1]:
        report.error("totals", f"used share {used / (used + unused):.2f} outside {USED_SHARE}")
    if abs(report.turns["tune"] - report.turns["holdout"]) > 1:
        report.error("totals", f"splits differ in size: {dict(report.turns)}")
    for split in SPLITS:
        n = report.used[split] + report.unused[split]
        if n and not SPLIT_USED_SHARE[0] <= report.used[split] / n <= SPLIT_USED_SHARE[1]:
            share = report.used[split] / n
            report.error("totals", f"{split}: used share {share:.2f} outside {SPLIT_USED_SHARE}")


def check(path: Path) -> Report:
    report = Report()
    seen: set[str] = set()
    memories: dict[str, tuple[Any, Any]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            report.error(f"line {lineno}", "blank line")
            continue
        try:
            turn = json.loads(line)
        except json.JSONDecodeError as exc:
            report.error(f"line {lineno}", f"not JSON: {exc}")
            continue
        check_turn(lineno, turn, seen, memories, report)
    check_totals(report)
    return report


def summary(report: Report) -> str:
    rows = ["split    turns  items  used  unused  used%"]
    for split in (*SPLITS, "all"):
        keys = SPLITS if split == "all" else (split,)
        turns = sum(report.turns[k] for k in keys)
        used = sum(report.used[k] for k in keys)
        unused = sum(report.unused[k] for k in keys)
        share = 100 * used / (used + unused) if used + unused else 0.0
        rows.append(
            f"{split:<8} {turns:>5}  {used + unused:>5}  {used:>4}  {unused:>6}  {share:>5.1f}"
        )
    rows.append(
        "memories per turn: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.sizes.items()))
    )
    rows.append("projects: " + ", ".join(f"{k} {v}" for k, v in sorted(report.projects.items())))
    rows.append("tool calls: " + ", ".join(f"{k} {v}" for k, v in sorted(report.tools.items())))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    report = check(args.path)
    print(summary(report))
    for error in report.errors:
        print(f"ERROR {error}", file=sys.stderr)
    if report.errors:
        print(f"{len(report.errors)} violation(s) in {args.path}", file=sys.stderr)
        return 1
    print(f"ok: {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
