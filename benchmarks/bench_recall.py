"""Recall on the hand-written sets of benchmarks/data/: does memem find what the user MEANS?

    PYTHONPATH=. python -m benchmarks.bench_recall [--sets coding,first_week,implicit]
                                                   [--misses] [--json PATH]

Each set's memories go into a fresh `Store` in a temp dir (`store.add(..., source_type="user")`,
in file order; a memory the store merges into an earlier one as a duplicate is found when that
one is). Then every prompt is asked of two systems, through the public API only, so a later
change of memem's ranking (the hybrid lexical + semantic search) is measured by this same code:

- `search`: `store.search(q, limit=10)`, every project (what `memem search` and the MCP tool do);
- `slice`: `store.slice(q, scope=<project>, session_id=None)`, the hook's slice without a
  session; its items with source "search" or "graph" are what it retrieved, in slice order.

Sets (see benchmarks/data/README.md):

- coding (`coding_recall.json`): each target's `question` and `keywords`; the slice is scoped
  to the target's project. R@5 and R@10 (the target among the first 5 / 10 retrieved), MRR
  (over those 10), answered (anything retrieved), per split.
- first_week (`first_week.json`): each prompt, scoped to the project of its targets (the most
  frequent; unrelated prompts: the set's largest project). "all targets" / "at least one" among
  everything retrieved; "abstained": nothing retrieved (for the slice: it injected nothing).
  Unrelated prompts should abstain. Then `offtopic.txt` and `offtopic_holdout.txt` through
  the slice in the same small vault: the share it abstains on.
- implicit (`implicit.json`): each cue, scoped to its target's project: R@5, R@10, MRR,
  answered.

Markdown tables on stdout, progress on stderr; `--misses` lists, per set and system, every
prompt whose target was not retrieved first (or, for prompts that should get nothing, that
got something) with what came first. Nothing here asserts on quality. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.bench_abstain import load_prompts
from benchmarks.bench_store import REPO, log, source_digest
from memem.errors import MememError
from memem.service.store import Store

DATA: Final = Path(__file__).resolve().parent / "data"
OFFTOPIC: Final = tuple(
    Path(__file__).with_name(n) for n in ("offtopic.txt", "offtopic_holdout.txt")
)
SETS: Final = ("coding", "first_week", "implicit")
FILES: Final = {
    "coding": "coding_recall.json",
    "first_week": "first_week.json",
    "implicit": "implicit.json",
}
SYSTEMS: Final = ("search", "slice")
SPLITS: Final = ("tune", "holdout", "all")
SEARCH_LIMIT: Final = 10
# What the slice retrieved for the prompt; anchors and the playbook ride along unasked.
RETRIEVED: Final = frozenset({"search", "graph"})
# Environment variables that say where memem's files are: the benchmark sets its own.
PATH_VARS: Final = frozenset({"HOME", "MEMEM_DIR", "MEMEM_OBSIDIAN_VAULT"})

Row = dict[str, Any]


def store_env(home: Path) -> dict[str, str]:
    """The environment the store is opened with: HOME in the temp dir, and any other MEMEM_*
    setting of this process passed through (so an option a later memem reads, say a search
    mode, is measured by the same code, and named in the output)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MEMEM_") and k not in PATH_VARS}
    env["HOME"] = str(home)
    return env


# -- ingest ----------------------------------------------------------------------------------


@dataclass
class Vault:
    """One set's memories saved into a fresh store, and how the set's ids map onto memem's."""

    store: Store
    memem_of: dict[str, str] = field(default_factory=dict)  # set id -> memem id
    set_of: dict[str, str] = field(default_factory=dict)  # memem id -> first set id saved as it
    merged: list[tuple[str, str]] = field(default_factory=list)  # (set id, set id it joined)
    refused: dict[str, str] = field(default_factory=dict)  # set id -> why the store refused it
    superseded: list[str] = field(default_factory=list)  # set ids deprecated by a later save

    def label(self, memem_id: str) -> str:
        return self.set_of.get(memem_id, memem_id[:8])

    def notes(self) -> str:
        parts = [f"{len(self.set_of)} memories"]
        if self.merged:
            parts.append(
                "merged as duplicates: " + ", ".join(f"{a} -> {b}" for a, b in self.merged)
            )
        if self.refused:
            parts.append("refused: " + ", ".join(f"{k} ({v})" for k, v in self.refused.items()))
        if self.superseded:
            parts.append("deprecated by a later save: " + ", ".join(self.superseded))
        return "; ".join(parts)


def ingest(store: Store, memories: Sequence[Mapping[str, Any]]) -> Vault:
    vault = Vault(store)
    for m in memories:
        try:
            saved = store.add(
                m["content"], title=m["title"], project=m["project"], source_type="user"
            )
        except MememError as exc:
            vault.refused[m["id"]] = f"{type(exc).__name__}: {exc}"
            continue
        memem_id = saved.memory.id
        vault.memem_of[m["id"]] = memem_id
        if saved.outcome == "duplicate" and memem_id in vault.set_of:
            vault.merged.append((m["id"], vault.set_of[memem_id]))
        else:
            vault.set_of.setdefault(memem_id, m["id"])
        vault.superseded += [vault.label(old) for old in saved.superseded]
    return vault


def open_store(root: Path) -> Store:
    (root / "home").mkdir(parents=True, exist_ok=True)
    return Store.open(
        state_dir=root / "state", vault_dir=root / "vault", env=store_env(root / "home")
    )


# -- asking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrieved:
    """What one system returned for one prompt: memem ids and titles, best first."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    abstained: bool
    ms: float
    error: str = ""


Ask = Callable[[Vault, str, str], Retrieved]


def by_search(vault: Vault, query: str, project: str) -> Retrieved:
    """`store.search` over every project (`project` is not used: the public search's default)."""
    start = time.perf_counter()
    try:
        hits = vault.store.search(query, limit=SEARCH_LIMIT)
    except MememError as exc:
        return Retrieved((), (), True, 0.0, f"{type(exc).__name__}: {exc}")
    ms = (time.perf_counter() - start) * 1000
    return Retrieved(tuple(h.id for h in hits), tuple(h.title for h in hits), not hits, ms)


def by_slice(vault: Vault, query: str, project: str) -> Retrieved:
    """The hook's slice for `project`, no session: a fresh session for every prompt."""
    start = time.perf_counter()
    try:
        built = vault.store.slice(query, scope=project, session_id=None)
    except MememError as exc:
        return Retrieved((), (), True, 0.0, f"{type(exc).__name__}: {exc}")
    ms = (time.perf_counter() - start) * 1000
    items = [i for i in built.items if i.source in RETRIEVED]
    return Retrieved(tuple(i.id for i in items), tuple(i.title for i in items), built.abstained, ms)


ASK: Final[dict[str, Ask]] = {"search": by_search, "slice": by_slice}


@dataclass(frozen=True)
class Asked:
    """One prompt asked of one system, scored against the set's targets."""

    system: str
    kind: str  # "question", "keywords", "natural", "two-part", "unrelated", "cue", "offtopic"
    split: str
    text: str
    wanted: tuple[str, ...]  # set ids
    ranks: tuple[int | None, ...]  # 1-based rank of each wanted memory, None when not retrieved
    got: Retrieved
    first: str  # what came first: "<set id> <title>", or "" when nothing came

    def found_within(self, k: int | None = None) -> int:
        return sum(1 for r in self.ranks if r is not None and (k is None or r <= k))

    @property
    def best_rank(self) -> int | None:
        return min((r for r in self.ranks if r is not None), default=None)


def ask(
    vault: Vault, system: str, kind: str, split: str, text: str, wanted: Sequence[str], project: str
) -> Asked:
    got = ASK[system](vault, text, project)
    position = {memem_id: n for n, memem_id in reversed(list(enumerate(got.ids, 1)))}
    ranks = tuple(position.get(vault.memem_of.get(w, "")) for w in wanted)
    first = f"{vault.label(got.ids[0])} {got.titles[0]}" if got.ids else ""
    return Asked(system, kind, split, text, tuple(wanted), ranks, got, first)


# -- metrics (pure) --------------------------------------------------------------------------


def share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def ranking_row(asked: Sequence[Asked]) -> Row:
    """R@5, R@10, MRR and answered over single-target prompts."""
    return {
        "n": len(asked),
        "r5": share([a.found_within(5) == len(a.wanted) for a in asked]),
        "r10": share([a.found_within(10) == len(a.wanted) for a in asked]),
        "mrr": (
            statistics.fmean(
                1 / a.best_rank if a.best_rank is not None and a.best_rank <= 10 else 0.0
                for a in asked
            )
            if asked
            else None
        ),
        "answered": share([bool(a.got.ids) for a in asked]),
    }


def targets_row(asked: Sequence[Asked]) -> Row:
    """All targets / at least one among everything retrieved; abstained: nothing retrieved."""
    targeted = [a for a in asked if a.wanted]
    return {
        "n": len(asked),
        "all": share([a.found_within() == len(a.wanted) for a in targeted]),
        "any": share([a.found_within() > 0 for a in targeted]),
        "abstained": share([not a.got.ids for a in asked]),
    }


def by_split(
    set_name: str, asked: Sequence[Asked], kinds: Sequence[str], metric: Callable[..., Row]
) -> list[Row]:
    rows = []
    for system in SYSTEMS:
        for kind in kinds:
            for split in SPLITS:
                chosen = [
                    a
                    for a in asked
                    if a.system == system and a.kind == kind and split in ("all", a.split)
                ]
                if chosen:
                    rows.append(
                        {"set": set_name, "system": system, "kind": kind, "split": split}
                        | metric(chosen)
                    )
    return rows


def misses(asked: Sequence[Asked]) -> list[str]:
    """A line per prompt whose target did not come first, or that should have got nothing
    and got something: `system kind split: "prompt" (wants ...) -> what came first`."""
    lines = []
    for a in asked:
        if not a.wanted:
            ok = not a.got.ids
        elif len(a.wanted) == 1:
            ok = a.ranks[0] == 1
        else:
            ok = all(r is not None for r in a.ranks)
        if ok:
            continue
        wants = ", ".join(
            f"{w}@{r}" if r is not None else f"{w} missing"
            for w, r in zip(a.wanted, a.ranks, strict=True)
        )
        came = a.first or ("(error: " + a.got.error + ")" if a.got.error else "(nothing)")
        lines.append(
            f"- {a.system} {a.kind} {a.split}: `{a.text}`"
            + (f" (wants {wants})" if wants else "")
            + f" -> {came}"
        )
    return lines


# -- the sets --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One set's figures: table rows, the prompts asked, and notes on the ingest."""

    name: str
    rows: list[Row]
    asked: list[Asked]
    notes: str
    extra: list[Row] = field(default_factory=list)


# Called with the set's name, its vault and its data after the ingest and before any prompt
# is asked: a history to prepare the store with (benchmarks/bench_learning.py), or nothing.
Prepare = Callable[[str, Vault, Mapping[str, Any]], None]


def run_coding(data: Mapping[str, Any], root: Path, prepare: Prepare | None = None) -> Outcome:
    projects = {m["id"]: m["project"] for m in data["memories"]}
    asked: list[Asked] = []
    with open_store(root) as store:
        vault = ingest(store, data["memories"])
        log(f"coding: {vault.notes()}")
        if prepare is not None:
            prepare("coding", vault, data)
        for q in data["queries"]:
            for kind in ("question", "keywords"):
                for system in SYSTEMS:
                    asked.append(
                        ask(
                            vault,
                            system,
                            kind,
                            q["split"],
                            q[kind],
                            [q["target"]],
                            projects[q["target"]],
                        )
                    )
        notes = vault.notes()
    rows = by_split("coding", asked, ("question", "keywords"), ranking_row)
    return Outcome("coding", rows, asked, notes)


def run_implicit(data: Mapping[str, Any], root: Path, prepare: Prepare | None = None) -> Outcome:
    projects = {m["id"]: m["project"] for m in data["memories"]}
    asked: list[Asked] = []
    with open_store(root) as store:
        vault = ingest(store, data["memories"])
        log(f"implicit: {vault.notes()}")
        if prepare is not None:
            prepare("implicit", vault, data)
        for cue in data["cues"]:
            for system in SYSTEMS:
                asked.append(
                    ask(
                        vault,
                        system,
                        "cue",
                        cue["split"],
                        cue["text"],
                        [cue["target"]],
                        projects[cue["target"]],
                    )
                )
        notes = vault.notes()
    rows = by_split("implicit", asked, ("cue",), ranking_row)
    return Outcome("implicit", rows, asked, notes)


def scope_of(targets: Sequence[str], projects: Mapping[str, str], default: str) -> str:
    """The project a prompt is asked in: its targets' (the most frequent, the first on a tie),
    or `default` for a prompt without targets. A prompt whose targets span two projects is
    asked in one: the slice sees that project and `global`, as a user working in one repo."""
    counts = Counter(projects[t] for t in targets)
    # max() keeps the first of equals, and a Counter iterates in first-seen order.
    return max(counts, key=counts.__getitem__) if counts else default


def run_first_week(
    data: Mapping[str, Any],
    root: Path,
    offtopic: Mapping[str, Sequence[str]],
    prepare: Prepare | None = None,
) -> Outcome:
    projects = {m["id"]: m["project"] for m in data["memories"]}
    largest = Counter(projects.values()).most_common(1)[0][0]
    asked: list[Asked] = []
    extra: list[Row] = []
    with open_store(root) as store:
        vault = ingest(store, data["memories"])
        log(f"first_week: {vault.notes()}")
        if prepare is not None:
            prepare("first_week", vault, data)
        for p in data["prompts"]:
            scope = scope_of(p["targets"], projects, largest)
            for system in SYSTEMS:
                asked.append(
                    ask(vault, system, p["kind"], p["split"], p["text"], p["targets"], scope)
                )
        for name, prompts in offtopic.items():
            got = [ask(vault, "slice", "offtopic", name, text, [], largest) for text in prompts]
            asked += got
            extra.append(
                {
                    "set": "first_week",
                    "system": "slice",
                    "kind": "offtopic",
                    "split": name,
                    "project": largest,
                    "n": len(got),
                    "abstained": share([not a.got.ids for a in got]),
                }
            )
            log(f"first_week: {name} abstained on {extra[-1]['abstained']:.1%}")
        notes = vault.notes()
        spanning = [p for p in data["prompts"] if len({projects[t] for t in p["targets"]}) > 1]
        if spanning:
            notes += (
                f"; {len(spanning)} prompt(s) with targets in two projects, asked in one "
                "(the slice can retrieve only the targets of that project)"
            )
    kinds = tuple(dict.fromkeys(p["kind"] for p in data["prompts"]))
    rows = by_split("first_week", asked, kinds, targets_row)
    return Outcome("first_week", rows, asked, notes, extra)


# -- output ----------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table(rows: Sequence[Row], columns: Sequence[tuple[str, str]]) -> str:
    lines = [
        "| " + " | ".join(head for head, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(key)) for _, key in columns) + " |")
    return "\n".join(lines)


RANKING_COLUMNS: Final = (
    ("system", "system"),
    ("prompt", "kind"),
    ("split", "split"),
    ("n", "n"),
    ("R@5", "r5"),
    ("R@10", "r10"),
    ("MRR", "mrr"),
    ("answered", "answered"),
)
TARGETS_COLUMNS: Final = (
    ("system", "system"),
    ("prompt", "kind"),
    ("split", "split"),
    ("n", "n"),
    ("all targets", "all"),
    ("at least one", "any"),
    ("abstained", "abstained"),
)
OFFTOPIC_COLUMNS: Final = (
    ("prompts", "split"),
    ("system", "system"),
    ("scope", "project"),
    ("n", "n"),
    ("abstained", "abstained"),
)
TITLES: Final = {
    "coding": "Coding recall (`coding_recall.json`): question and keywords per target",
    "first_week": "First week (`first_week.json`)",
    "implicit": "Implicit recall (`implicit.json`): cues",
}


# The headline figure of each (set, prompt kind): the one a ranking change should move.
HEADLINE: Final = (
    ("coding", "question", "r5", "R@5"),
    ("coding", "keywords", "r5", "R@5"),
    ("first_week", "natural", "all", "found"),
    ("first_week", "two-part", "all", "both found"),
    ("first_week", "two-part", "any", "one found"),
    ("first_week", "unrelated", "abstained", "abstained"),
    ("first_week", "offtopic", "abstained", "abstained"),
    ("implicit", "cue", "r5", "R@5"),
)


def headline(rows: Sequence[Row]) -> str:
    """One line per set and prompt kind: its main figure for each system, all prompts and the
    holdout half (the off-topic files stand for their two halves: offtopic.txt, then
    offtopic_holdout.txt)."""
    lines = [
        "| set | prompts (n all / holdout) | figure | search, all | search, holdout | slice, all "
        "| slice, holdout |",
        "|---|---|---|---|---|---|---|",
    ]
    for set_name, kind, key, label in HEADLINE:
        chosen = [r for r in rows if r["set"] == set_name and r["kind"] == kind]
        if not chosen:
            continue
        cells = []
        counts: list[Any] = []
        for system in SYSTEMS:
            mine = [r for r in chosen if r["system"] == system]
            if kind == "offtopic":
                picked = [mine[0] if mine else None, mine[-1] if len(mine) > 1 else None]
            else:
                picked = [
                    next((r for r in mine if r["split"] == split), None)
                    for split in ("all", "holdout")
                ]
            cells += [cell(r[key]) if r is not None else "-" for r in picked]
            counts = counts or [r["n"] for r in picked if r is not None]
        n = " / ".join(str(c) for c in counts)
        lines.append(f"| {set_name} | {kind} ({n}) | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(outcome: Outcome, show_misses: bool) -> str:
    out = [f"## {TITLES.get(outcome.name, outcome.name)}\n"]
    columns = TARGETS_COLUMNS if outcome.name == "first_week" else RANKING_COLUMNS
    out.append(table(outcome.rows, columns))
    if outcome.extra:
        out.append("\nOff-topic prompts through the slice in the same vault, no session:\n")
        out.append(table(outcome.extra, OFFTOPIC_COLUMNS))
    times = [a.got.ms for a in outcome.asked if not a.got.error]
    errors = sum(1 for a in outcome.asked if a.got.error)
    out.append(
        f"\n- ingest: {outcome.notes}\n- {len(outcome.asked)} asks, median "
        f"{statistics.median(times) if times else 0:.1f} ms"
        + (f", {errors} errors" if errors else "")
    )
    if show_misses:
        for system in SYSTEMS:
            lines = misses([a for a in outcome.asked if a.system == system])
            out.append(f"\n### Misses, {outcome.name}, {system} ({len(lines)})\n")
            out += lines or ["- none"]
    return "\n".join(out)


def load_set(name: str, data_dir: Path = DATA) -> Any:
    return json.loads((data_dir / FILES[name]).read_text(encoding="utf-8"))


def run(
    name: str,
    data: Mapping[str, Any],
    root: Path,
    offtopic: Mapping[str, Sequence[str]],
    prepare: Prepare | None = None,
) -> Outcome:
    """One set asked of a fresh store; `prepare` (optional) runs on the store before."""
    if name == "coding":
        return run_coding(data, root, prepare)
    if name == "first_week":
        return run_first_week(data, root, offtopic, prepare)
    return run_implicit(data, root, prepare)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_recall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help="comma-separated, of " + ", ".join(SETS)
    )
    parser.add_argument("--misses", action="store_true", help="list the prompts each system missed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON too")
    parser.add_argument("--data", type=Path, default=DATA, help="the sets' directory")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown or not names:
        parser.error(f"--sets: unknown {unknown}; choose from {', '.join(SETS)}")
    wall = time.perf_counter()
    digest = source_digest()
    load = os.getloadavg()
    passed = sorted(k for k in store_env(Path()) if k != "HOME")
    log(f"memem from {REPO / 'memem'} (sources {digest}); sets {', '.join(names)}")
    offtopic = {p.name: load_prompts(p) for p in OFFTOPIC}
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-recall-") as tmp:
        for name in names:
            start = time.perf_counter()
            outcomes.append(run(name, load_set(name, args.data), Path(tmp) / name, offtopic))
            log(f"{name}: done in {time.perf_counter() - start:.1f} s")
    print("## Recall on the hand-written sets: headline\n")
    print(headline([r for o in outcomes for r in o.rows + o.extra]))
    print()
    for outcome in outcomes:
        print(report(outcome, args.misses))
        print()
    total = time.perf_counter() - wall
    meta = {
        "source_digest": digest,
        "memem": str(REPO / "memem"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": [round(x, 2) for x in load],
        "wall_s": round(total, 1),
        "env": passed,
    }
    print(
        f"- memem sources {digest} ({REPO / 'memem'}); {meta['date']}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; wall time {total:.0f} s"
        + (f"; passed to the store: {', '.join(passed)}" if passed else "")
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    if args.json:
        figures = {
            "meta": meta,
            "rows": [r for o in outcomes for r in o.rows + o.extra],
            "ingest": {o.name: o.notes for o in outcomes},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
