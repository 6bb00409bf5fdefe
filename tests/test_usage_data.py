"""The labelled "was this memory used?" set stays valid, and its checker catches violations."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import check_usage_data


def test_committed_set_passes() -> None:
    report = check_usage_data.check(check_usage_data.DEFAULT_PATH)
    assert report.errors == []
    assert sum(report.turns.values()) >= check_usage_data.MIN_TURNS


def test_checker_reports_each_violation(tmp_path: Path) -> None:
    lines = check_usage_data.DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    turns = [json.loads(line) for line in lines]
    turns[0]["injected"][0]["used"] = "yes"
    turns[1]["injected"][0]["id"] = "not-hex"
    turns[2]["tool_calls"].append({"name": "Shell", "input": {"command": "ls"}})
    turns[3]["injected"] = turns[3]["injected"] * 5
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")
    errors = "\n".join(check_usage_data.check(broken).errors)
    assert "used must be true or false" in errors
    assert "not 32 lowercase hex" in errors
    assert "unknown tool 'Shell'" in errors
    assert "injected must hold 1-4" in errors


def test_checker_enforces_balance(tmp_path: Path) -> None:
    turns = [
        json.loads(line)
        for line in check_usage_data.DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    ]
    for turn in turns:
        for item in turn["injected"]:
            item["used"] = True
    skewed = tmp_path / "skewed.jsonl"
    skewed.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")
    errors = check_usage_data.check(skewed).errors
    assert any("used share" in e for e in errors)
    assert check_usage_data.main(["--path", str(skewed)]) == 1
