"""Abstention: how often the slice stays empty for prompts no memory should answer.

    PYTHONPATH=. python -m benchmarks.bench_abstain [--size 10000] [--project shop-api]
                                                     [--prompts FILE] [--title words|dated]
                                                     [--skip-locomo] [--list N]

Every prompt of `benchmarks/offtopic.txt` (weather, recipes, sports, travel, gossip, math
homework, translations, jokes, greetings, acknowledgements, bare slash commands, gibberish...)
goes through `memem.service.recall.build`, the hook's own logic, against (a) the synthetic coding vault
(`synth`, 10k memories, project = its largest project) and (b) each LoCoMo conversation
(project = its sample_id; the stores of `bench_locomo`). Two ways of asking:

- as briefed: `build(conn, prompt, ..., session_id=None)`: no session, no continuity;
- in a session: the hook's sequence, SessionStart (`event="start"`) then the prompt, with a
  fresh session id: anchors went in at start, the prompt's slice holds only what it found.

Prints a table per vault and the prompts that were not abstained on, with the titles of the
memories they pulled in. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from benchmarks import locomo, stores
from benchmarks.bench_store import REPO, log, source_digest
from memem.core import ranking
from memem.core.slice import Slice
from memem.service import recall
from memem.service.semantic import Semantic
from memem.service.store import Store

PROMPTS: Final = Path(__file__).with_name("offtopic.txt")
TARGET: Final = 0.95


def load_prompts(path: Path = PROMPTS) -> list[str]:
    """One prompt a line; "# " comment lines and blank lines skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("# ") and line != "#"]


@dataclass
class Outcome:
    """One vault's results."""

    name: str
    project: str
    memories: int
    briefed: list[Slice] = field(default_factory=list)
    in_session: list[Slice] = field(default_factory=list)

    @staticmethod
    def share(slices: Sequence[Slice]) -> float:
        return sum(1 for s in slices if s.abstained) / len(slices)


def ask(
    conn: sqlite3.Connection,
    prompts: Sequence[str],
    project: str,
    vault: Path,
    semantic: Semantic | None = None,
) -> Outcome:
    outcome = Outcome("", project, 0)
    with tempfile.TemporaryDirectory(prefix="bench-abstain-") as tmp:
        state = Path(tmp)

        def build(prompt: str, session_id: str | None, event: str = "prompt") -> Slice:
            return recall.build(
                conn,
                prompt,
                state_dir=state,
                vault_dir=vault,
                project=project,
                session_id=session_id,
                event=event,
                semantic=semantic,
            )

        for prompt in prompts:
            outcome.briefed.append(build(prompt, None))
            session = str(uuid.uuid4())
            build("", session, event="start")
            outcome.in_session.append(build(prompt, session))
    return outcome


def run_vault(name: str, state: Path, vault: Path, project: str, prompts: Sequence[str]) -> Outcome:
    store = Store.open(state_dir=state, vault_dir=vault, env={"HOME": str(state.parent)})
    try:
        conn = store.index.connection()
        # The vectors are derived data kept beside the cached index (made once per index).
        started = time.perf_counter()
        made = store.embed()
        if made:
            log(f"{name}: {made} vectors made in {time.perf_counter() - started:.0f} s")
        outcome = ask(conn, prompts, project, vault, store.semantic)
        outcome.memories = int(
            conn.execute(
                "SELECT count(*) FROM scope WHERE project IN (?, 'global') AND status = 'active'",
                (project,),
            ).fetchone()[0]
        )
    finally:
        store.close()
    outcome.name = name
    return outcome


def table(outcomes: Sequence[Outcome], prompts: int) -> str:
    lines = [
        "| vault | project | memories in scope | abstained, as briefed (no session) "
        "| abstained in a session | answered by search, in a session |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        searched = sum(1 for s in o.in_session if any(i.source == "search" for i in s.items))
        lines.append(
            f"| {o.name} | {o.project} | {o.memories:,} | {Outcome.share(o.briefed):.1%} "
            f"| {Outcome.share(o.in_session):.1%} | {searched} |"
        )
    if len(outcomes) > 1:
        briefed = [s for o in outcomes[1:] for s in o.briefed]
        session = [s for o in outcomes[1:] for s in o.in_session]
        if briefed:
            lines.append(
                f"| LoCoMo, all 10 | - | - | {Outcome.share(briefed):.1%} "
                f"| {Outcome.share(session):.1%} | "
                f"{sum(1 for s in session if any(i.source == 'search' for i in s.items))} |"
            )
    lines.append(f"\n{prompts} prompts per vault; target: abstain on >= {TARGET:.0%}.")
    return "\n".join(lines)


def leaks(outcomes: Sequence[Outcome], prompts: Sequence[str], limit: int) -> str:
    """The prompts that got a slice in a session, with what it held; then those that got
    only anchors when asked without a session."""
    out = ["### Not abstained on, in a session (prompt -> memory titles, source, score)\n"]
    for o in outcomes:
        rows = [(p, s) for p, s in zip(prompts, o.in_session, strict=True) if not s.abstained]
        if not rows:
            continue
        out.append(f"**{o.name}** ({len(rows)})\n")
        for prompt, s in rows[:limit]:
            items = "; ".join(f"{i.title} ({i.source} {i.score:.2f})" for i in s.items[:4])
            out.append(f"- `{prompt}` -> {items}")
        if len(rows) > limit:
            out.append(f"- ... {len(rows) - limit} more")
        out.append("")
    reasons: Counter[str] = Counter()
    for o in outcomes:
        for s in o.briefed:
            if not s.abstained:
                kinds = sorted({i.source for i in s.items})
                reasons[f"{o.name}: {'+'.join(kinds)}"] += 1
    if reasons:
        out.append("### Not abstained on as briefed (no session): what the slices held\n")
        out += [f"- {k}: {v}" for k, v in sorted(reasons.items())]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_abstain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=10_000, help="synthetic vault size")
    parser.add_argument("--project", default="shop-api", help="project of the synthetic vault")
    parser.add_argument("--skip-locomo", action="store_true", help="only the synthetic vault")
    parser.add_argument("--ingest", choices=("add", "files"), default="add")
    parser.add_argument("--title", choices=("words", "dated", "speaker"), default="words")
    parser.add_argument("--list", type=int, default=25, help="leaking prompts listed per vault")
    parser.add_argument(
        "--prompts",
        type=Path,
        default=PROMPTS,
        help="prompt file (default offtopic.txt; offtopic_holdout.txt is the held-out set)",
    )
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    digest = source_digest()
    prompts = load_prompts(args.prompts)
    log(
        f"memem from {REPO / 'memem'} (sources {digest}); {len(prompts)} prompts ({args.prompts.name})"
    )

    outcomes = []
    state, vault, _ = stores.synth_index(args.size)
    outcomes.append(run_vault(f"synth {args.size // 1000}k", state, vault, args.project, prompts))
    log(f"synth: abstained on {Outcome.share(outcomes[0].in_session):.1%} in a session")
    if not args.skip_locomo:
        conversations = locomo.load()
        built = stores.locomo_stores(conversations, mode=args.ingest, title=args.title)
        for conv in conversations:
            b = built[conv.sample_id]
            outcomes.append(run_vault(conv.sample_id, b.state, b.vault, conv.sample_id, prompts))
            log(f"{conv.sample_id}: abstained on {Outcome.share(outcomes[-1].in_session):.1%}")
    print(f"## Abstention on off-topic prompts ({args.prompts.name})\n")
    print(table(outcomes, len(prompts)))
    print()
    print(leaks(outcomes, prompts, args.list))
    print()
    print(
        f"- ranking.FLOOR_COVERAGE {ranking.FLOOR_COVERAGE}; memem sources {digest} ({REPO / 'memem'}); "
        f"wall time {time.perf_counter() - wall:.0f} s; {time.ctime()}"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
