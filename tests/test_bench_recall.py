"""benchmarks/bench_recall.py on tiny inline sets: keeps its plumbing (id maps, scoring, tables,
the JSON) from rotting. Nothing here measures memem's quality: only an exact copy of a memory's
words is expected to find it, which any ranking does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_recall as br
from memem.service.store import Store

MEMORIES: list[dict[str, Any]] = [
    {
        "id": "t1",
        "project": "shop",
        "title": "Checkout totals use banker's rounding",
        "content": "Checkout totals are rounded with banker's rounding in pricing/round.py.",
        "role": "target",
    },
    {
        "id": "t2",
        "project": "infra",
        "title": "Terraform state lock",
        "content": "A crashed terraform apply leaves the DynamoDB state lock; run "
        "`terraform force-unlock` with the lock id.",
        "role": "target",
    },
    {
        "id": "d1",
        "project": "shop",
        "title": "Checkout button colour",
        "content": "The checkout button is brand orange #ff6600 on every theme.",
        "role": "distractor",
    },
]
CODING = {
    "memories": MEMORIES,
    "queries": [
        {
            "target": "t1",
            "question": "why is the customer charged a penny off?",
            "keywords": "checkout totals banker's rounding",
            "split": "tune",
        },
        {
            "target": "t2",
            "question": "plan refuses to start after my laptop crashed",
            "keywords": "terraform state lock force-unlock",
            "split": "holdout",
        },
    ],
}


def test_coding_rows_cover_every_system_prompt_and_split(tmp_path: Path) -> None:
    outcome = br.run_coding(CODING, tmp_path)
    keys = {(r["system"], r["kind"], r["split"]) for r in outcome.rows}
    assert keys == {
        (s, k, split)
        for s in br.SYSTEMS
        for k in ("question", "keywords")
        for split in ("tune", "holdout", "all")
    }
    assert len(outcome.asked) == 2 * 2 * 2
    for row in outcome.rows:
        for metric in ("r5", "r10", "mrr", "answered"):
            assert 0.0 <= row[metric] <= 1.0
    # The ids map back: keywords made of the memory's own words find it, in both systems.
    for system in br.SYSTEMS:
        row = next(
            r
            for r in outcome.rows
            if (r["system"], r["kind"], r["split"]) == (system, "keywords", "all")
        )
        assert row["n"] == 2 and row["r10"] == 1.0
    assert outcome.asked[2].first.startswith("t1 ")
    table = br.report(outcome, show_misses=True)
    assert "| search | keywords | all | 2 | 1.000 | 1.000 |" in table
    assert "### Misses, coding, slice" in table


def test_first_week_scores_targets_unrelated_and_offtopic(tmp_path: Path) -> None:
    data = {
        "memories": MEMORIES[:2],
        "prompts": [
            {
                "text": "checkout totals banker's rounding, and the terraform state lock?",
                "targets": ["t1", "t2"],
                "kind": "two-part",
                "split": "tune",
            },
            {
                "text": "reverse a linked list in C",
                "targets": [],
                "kind": "unrelated",
                "split": "tune",
            },
        ],
    }
    outcome = br.run_first_week(data, tmp_path, {"chat.txt": ["thanks!", "ok"]})
    # The two targets are in two projects: the prompt is asked in one, and the notes say so.
    assert "1 prompt(s) with targets in two projects" in outcome.notes
    search = next(
        r
        for r in outcome.rows
        if (r["system"], r["kind"], r["split"]) == ("search", "two-part", "all")
    )
    assert search["n"] == 1 and 0.0 <= search["all"] <= search["any"] <= 1.0
    assert all(len(a.ranks) == 2 for a in outcome.asked if a.kind == "two-part")
    unrelated = [r for r in outcome.rows if r["kind"] == "unrelated"]
    assert {r["all"] for r in unrelated} == {None} and all(r["n"] == 1 for r in unrelated)
    assert outcome.extra == [
        {
            "set": "first_week",
            "system": "slice",
            "kind": "offtopic",
            "split": "chat.txt",
            "project": "shop",
            "n": 2,
            "abstained": outcome.extra[0]["abstained"],
        }
    ]
    assert "| all targets | at least one | abstained |" in br.report(outcome, show_misses=False)


def test_metrics_on_hand_made_rankings() -> None:
    def asked(wanted: tuple[str, ...], ranks: tuple[int | None, ...], ids: int) -> br.Asked:
        got = br.Retrieved(tuple(f"m{n}" for n in range(ids)), ("x",) * ids, not ids, 0.1)
        return br.Asked("search", "cue", "tune", "q", wanted, ranks, got, "")

    rows = br.ranking_row(
        [asked(("a",), (1,), 3), asked(("b",), (7,), 9), asked(("c",), (None,), 0)]
    )
    assert rows == {"n": 3, "r5": 1 / 3, "r10": 2 / 3, "mrr": (1 + 1 / 7) / 3, "answered": 2 / 3}
    both = br.targets_row(
        [asked(("a", "b"), (1, None), 2), asked(("a", "b"), (2, 1), 2), asked((), (), 0)]
    )
    assert both == {"n": 3, "all": 0.5, "any": 1.0, "abstained": 1 / 3}
    assert br.misses([asked(("a", "b"), (2, 1), 2), asked((), (), 0)]) == []
    assert br.scope_of(["x", "y", "z"], {"x": "web", "y": "api", "z": "api"}, "d") == "api"
    assert br.scope_of(["x", "y"], {"x": "web", "y": "api"}, "d") == "web"
    assert br.scope_of([], {}, "d") == "d"


def test_a_merged_duplicate_is_found_as_the_memory_it_joined(tmp_path: Path) -> None:
    twin = dict(MEMORIES[0], id="t1-again")
    with br.open_store(tmp_path) as store:
        assert isinstance(store, Store)
        vault = br.ingest(store, [MEMORIES[0], twin])
        assert vault.memem_of["t1-again"] == vault.memem_of["t1"]
        assert vault.merged == [("t1-again", "t1")]
        assert "merged as duplicates: t1-again -> t1" in vault.notes()
        got = br.ask(vault, "search", "keywords", "tune", "banker's rounding", ["t1-again"], "shop")
        assert got.ranks == (1,)


def test_main_writes_the_tables_and_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "implicit.json").write_text(
        json.dumps(
            {
                "memories": MEMORIES,
                "cues": [
                    {"text": "checkout totals rounding", "target": "t1", "split": "tune"},
                    {"text": "I crashed mid-apply", "target": "t2", "split": "holdout"},
                ],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "figures.json"
    assert br.main(["--sets", "implicit", "--data", str(tmp_path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Implicit recall" in printed and "memem sources" in printed
    assert "| implicit | cue (2 / 1) | R@5 |" in printed  # the headline table
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["meta"]["source_digest"] in printed
    assert {(r["system"], r["split"]) for r in figures["rows"]} == {
        (s, split) for s in br.SYSTEMS for split in ("tune", "holdout", "all")
    }
    with pytest.raises(SystemExit):
        br.main(["--sets", "nope"])
