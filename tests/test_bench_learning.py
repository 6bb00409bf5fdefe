"""The learning simulation runs end to end (`--quick`), and its parts do what it reports.

Figures are not asserted (speed and quality are the benchmark's business): only that the
real hook, ledger and detection pass were driven, that the scripted assistant's transcript is
one the detector can read, and that bench_recall's `prepare` hook runs on the set's store.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_learning, bench_recall, learning_world


def test_quick_run_drives_the_hook_and_the_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures.json"
    assert bench_learning.main(["--quick", "--seed", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| last third | change |" in printed
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures["runs"]) == {"off", "on"}
    for run in figures["runs"].values():
        assert run["all"]["prompts"] == figures["prompts"] > 0
        assert run["all"]["items"] > 0  # the hook injected something
        assert run["detector"]["decided"] > 0  # the detection pass read the transcripts
        assert run["detector"]["recall"] is not None
    assert "recall" not in figures  # --quick skips the recall sets


def test_the_same_seed_gives_the_same_stream_and_dice() -> None:
    world = learning_world.load()
    first = learning_world.stream(world, 5, 1)
    assert first == learning_world.stream(world, 5, 1)
    assert bench_learning.draw(5, 10, "b01") == bench_learning.draw(5, 10, "b01")
    need = next(n for n in world.needs if n.helped_by)
    many = [bench_learning.uses(world, need, need.helped_by, 5, p) for p in range(200)]
    assert 0.8 < sum(bool(u) for u in many) / len(many) <= 1.0  # p_use_helpful is 0.9


def test_noise_is_never_used_and_the_reply_quotes_what_was_used() -> None:
    world = learning_world.load()
    need = next(n for n in world.needs if n.id == "nb01")
    noise = [m.id for m in world.memories if m.noise]
    assert not any(bench_learning.uses(world, need, noise, 1, p) for p in range(100))
    reply, calls = bench_learning.act(
        world, need, 0, ["b01"], {p: f"/w/{p}" for p in world.projects}
    )
    assert "no:randomly" in reply
    assert calls[0] == {
        "name": "Bash",
        "input": {"command": "uv run pytest -p no:randomly -x tests/"},
    }


def test_the_transcript_turn_is_claude_code_shaped(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    transcript = bench_learning.Transcript(path, "sid", "/w/p")
    call = {"name": "Read", "input": {"file_path": "/w/p/a.py"}}
    transcript.turn("hello", "pid", "<memem-memory>x</memem-memory>", "done", [call], 1e9)
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kinds = [e["type"] for e in entries]
    assert kinds == [
        "queue-operation",
        "user",
        "attachment",
        "assistant",
        "user",
        "assistant",
        "last-prompt",
    ]
    assert entries[1]["message"] == {"role": "user", "content": "hello"}
    assert entries[3]["message"]["content"][0]["type"] == "tool_use"
    assert (
        entries[4]["message"]["content"][0]["tool_use_id"]
        == entries[3]["message"]["content"][0]["id"]
    )
    chained = [e for e in entries if "uuid" in e]
    assert all(b["parentUuid"] == a["uuid"] for a, b in itertools.pairwise(chained))


def test_recall_prepare_runs_a_history_on_the_sets_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMEM_SEMANTIC", "off")
    monkeypatch.setenv("MEMEM_LEARNING", "on")
    data: dict[str, Any] = {
        "memories": [
            {
                "id": "m1",
                "project": "shop",
                "title": "Shop tests",
                "content": "Run the shop tests with `make check-shop` (it starts Postgres).",
            },
            {
                "id": "m2",
                "project": "shop",
                "title": "Shop deploys",
                "content": "Deploy the shop with `fly deploy --app shop-prod` after the checks.",
            },
        ],
        "cues": [
            {"text": "how do I run the shop tests", "target": "m1", "split": "tune"},
            {"text": "deploy the shop", "target": "m2", "split": "tune"},
            {"text": "shop checks before a merge", "target": "m1", "split": "holdout"},
        ],
    }
    calls: list[str] = []
    history = bench_learning.history(seed=1, rounds=2)

    def prepare(name: str, vault: bench_recall.Vault, given: Any) -> None:
        calls.append(name)
        history(name, vault, given)
        from memem.storage.utility import Utility

        with Utility.open(vault.store.settings.state_dir) as utility:
            assert utility.records()  # the detection pass recorded uses

    outcome = bench_recall.run("implicit", data, tmp_path / "implicit", {}, prepare)
    assert calls == ["implicit"]
    assert outcome.rows
