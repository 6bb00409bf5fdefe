"""The hand-written retrieval sets of benchmarks/data/ stay valid, and their validator bites.

The sets are data, but a careless edit (a question that repeats its memory's words, a
target id that no longer exists) would silently turn a semantic-recall measure into a
lexical one; check_data is what guards that, so it is run here on the shipped files and
on broken copies of them.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks import check_data, learning_world


def test_shipped_sets_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_data.main([]) == 0
    assert "0 violation(s)" in capsys.readouterr().out


def broken_copy(tmp_path: Path, name: str, edit: Any) -> Path:
    data = tmp_path / "data"
    shutil.copytree(check_data.DATA, data)
    path = data / name
    content = json.loads(path.read_text(encoding="utf-8"))
    edit(content)
    path.write_text(json.dumps(content), encoding="utf-8")
    return data


def set_question(content: dict[str, Any]) -> None:
    # Words of t001's own title and content, inflected differently: stemming must catch them.
    content["queries"][0]["question"] = "which products have their images dropping the 2x variants?"


def set_natural(content: dict[str, Any]) -> None:
    natural = next(p for p in content["prompts"] if p["kind"] == "natural")
    memory = next(m for m in content["memories"] if m["id"] == natural["targets"][0])
    natural["text"] = memory["title"]


def set_cue(content: dict[str, Any]) -> None:
    cue = content["cues"][0]
    memory = next(m for m in content["memories"] if m["id"] == cue["target"])
    cue["text"] = memory["content"]


def duplicate_id(content: dict[str, Any]) -> None:
    content["memories"][1]["id"] = content["memories"][0]["id"]


def lost_target(content: dict[str, Any]) -> None:
    content["prompts"][-1]["targets"] = ["m99"]


def soft_negative(content: dict[str, Any]) -> None:
    near = next(m for m in content["memories"] if m.get("near"))
    near["title"], near["content"] = "Lunch", "The canteen closes at 14:30 on Fridays."


def bad_split(content: dict[str, Any]) -> None:
    content["queries"][0]["split"] = "train"


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("coding_recall.json", set_question, "question shares"),
        ("first_week.json", set_natural, "shares"),
        ("implicit.json", set_cue, "shares"),
        ("coding_recall.json", duplicate_id, "duplicate id"),
        ("first_week.json", lost_target, "is not a memory"),
        ("coding_recall.json", soft_negative, "shares no word with its target"),
        ("coding_recall.json", bad_split, "split 'train'"),
    ],
)
def test_violations_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, edit: Any, expected: str
) -> None:
    data = broken_copy(tmp_path, name, edit)
    assert check_data.main(["--data", str(data)]) == 1
    failures = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert any(name in line and expected in line for line in failures), failures


# -- the learning simulation's world (benchmarks/data/learning_world.json) -------------------


def test_learning_world_is_sound() -> None:
    world = learning_world.load()
    assert learning_world.problems(world) == []
    assert len(world.memories) >= 60
    assert sum(len(n.prompts) for n in world.needs) >= 150
    assert any(m.noise for m in world.memories)
    assert any(not n.helped_by for n in world.needs)


def test_learning_world_problems_are_reported() -> None:
    data = json.loads(learning_world.PATH.read_text(encoding="utf-8"))
    data["needs"][0]["helped_by"] = ["zz99"]
    data["memories"][1]["id"] = data["memories"][0]["id"]
    data["memories"][-1]["use"]["say"] = ""
    found = learning_world.problems(learning_world.parse(data))
    assert any("zz99 is not a memory" in line for line in found)
    assert any("duplicate memory id" in line for line in found)


def test_learning_stream_deals_every_prompt_once_a_round_and_is_seeded() -> None:
    world = learning_world.load()
    sessions = learning_world.stream(world, seed=3, rounds=2)
    texts = [p.text for s in sessions for p in s.prompts]
    assert Counter(texts) == Counter({p: 2 for n in world.needs for p in n.prompts})
    assert all(1 <= len(s.prompts) <= 7 for s in sessions)
    for s in sessions:
        assert all(p.need.project in (s.project, "global") for p in s.prompts)
    assert learning_world.stream(world, seed=3, rounds=2) == sessions
    assert learning_world.stream(world, seed=4, rounds=2) != sessions
