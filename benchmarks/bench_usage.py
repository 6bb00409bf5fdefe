"""Used or not: the usage detector (`memem.core.usage`) on the labelled turns.

    PYTHONPATH=. python -m benchmarks.bench_usage [--path FILE] [--errors tune|holdout]

Every injected item of `benchmarks/data/usage_turns.jsonl` (see benchmarks/data/USAGE.md: the
labels were written before the detector) is decided by the detector from what the detector
is allowed to see (the prompt, the reply, the tool calls, the files touched, the project's
folder `/home/dev/<project>`; never `used`, `why` or `split`), and by two baselines:

- "all used": every injected memory counts as used (recall 1, precision = the used share);
- "naive word overlap": used when the memory and the turn share at least `NAIVE_MIN` words
  of 4+ letters (no stop list, no prompt discount, no weights).

Prints precision, recall and F1 per split; the detector's constants were tuned on `tune`
only. Target: holdout precision and recall >= 0.8 (`tests/test_usage_data.py` guards it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from memem.core import usage

DATA: Final = Path(__file__).parent / "data" / "usage_turns.jsonl"
TARGET: Final = 0.8
NAIVE_MIN: Final = 3
SPLITS: Final = ("tune", "holdout")


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, label: bool) -> None:
        if predicted and label:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def turn_of(row: dict[str, Any]) -> usage.Turn:
    """What the detector sees of a labelled turn."""
    return usage.Turn(
        row["prompt"],
        row["reply"],
        tuple((c["name"], c["input"]) for c in row["tool_calls"]),
        tuple(row["files_touched"]),
        f"/home/dev/{row['project']}",
    )


Decide = Callable[[dict[str, Any], usage.Turn], bool]


def detector(item: dict[str, Any], turn: usage.Turn) -> bool:
    return usage.used(item["id"], item["title"], item["content"], turn)


def all_used(item: dict[str, Any], turn: usage.Turn) -> bool:
    return True


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def naive_overlap(item: dict[str, Any], turn: usage.Turn) -> bool:
    everything = "\n".join([turn.reply, json.dumps([dict(c) for _, c in turn.tool_calls])])
    shared = _words(f"{item['title']} {item['content']}") & _words(everything)
    return len(shared) >= NAIVE_MIN


METHODS: Final[dict[str, Decide]] = {
    "memem detector": detector,
    "all used": all_used,
    "naive word overlap": naive_overlap,
}


def measure(rows: Sequence[dict[str, Any]], decide: Decide) -> dict[str, Score]:
    scores = {split: Score() for split in SPLITS}
    for row in rows:
        turn = turn_of(row)
        for item in row["injected"]:
            scores[row["split"]].add(decide(item, turn), bool(item["used"]))
    return scores


def table(rows: Sequence[dict[str, Any]]) -> str:
    out = [
        "| method | split | items | precision | recall | F1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, decide in METHODS.items():
        for split, s in measure(rows, decide).items():
            items = s.tp + s.fp + s.fn + s.tn
            out.append(
                f"| {name} | {split} | {items} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} |"
            )
    return "\n".join(out)


def errors(rows: Sequence[dict[str, Any]], split: str) -> list[str]:
    found = []
    for row in rows:
        if row["split"] != split:
            continue
        turn = turn_of(row)
        for item in row["injected"]:
            if detector(item, turn) != item["used"]:
                kind = "missed" if item["used"] else "false"
                found.append(f"{row['turn']} {kind}: {item['title']} ({item['why']})")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=DATA)
    parser.add_argument("--errors", choices=SPLITS, help="list the detector's mistakes on a split")
    args = parser.parse_args(argv)
    rows = load(args.path)
    print(table(rows))
    holdout = measure(rows, detector)["holdout"]
    met = holdout.precision >= TARGET and holdout.recall >= TARGET
    print(f"\nholdout target (precision and recall >= {TARGET}): {'met' if met else 'NOT met'}")
    if args.errors:
        print("\n".join(["", *errors(rows, args.errors)]))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
