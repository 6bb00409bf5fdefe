"""The world of the learning simulation (`benchmarks/bench_learning.py`): who needs what.

`data/learning_world.json` was written by hand and fixed before any tuning of memem's learning;
memem never reads it. It holds:

- `memories`: a vault of realistic developer memories (four projects and `global`), each with
  `use`: what a scripted assistant that uses it does (a sentence quoting its distinctive
  content, and Claude Code tool calls; `{name}` placeholders are filled per prompt from the
  need's `fill`, else from the memory's own). Memories with an empty `use.say` are noise: they
  share words with many prompts and help none.
- `needs`: prompts grouped by what they need, a few paraphrases each, the memories that help
  (`helped_by`, may be empty), and the reply the assistant gives whatever memory it uses.
- `model`: the seeded model of use: an injected memory that helps the prompt's need is used
  with probability `p_use_helpful`; any other injected memory with `p_use_other` (incidental).

`stream(world, seed, rounds)` deals the prompts into sessions: per round every prompt once,
a global need's prompt asked in a project drawn at random, each project's prompts shuffled
and cut into sessions of 3-7 prompts, the sessions of all projects shuffled together.

    PYTHONPATH=. python -m benchmarks.learning_world      # validate and summarise
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

PATH: Final = Path(__file__).resolve().parent / "data" / "learning_world.json"
GLOBAL: Final = "global"
SESSION_SIZES: Final = (3, 7)
PLACEHOLDER: Final = re.compile(r"\{([a-z]+)\}")
TOOL_INPUTS: Final[dict[str, set[str]]] = {
    "Bash": {"command"},
    "Read": {"file_path"},
    "Edit": {"file_path", "old_string", "new_string"},
    "Write": {"file_path", "content"},
}


@dataclass(frozen=True)
class Memory:
    id: str
    project: str
    layer: int
    title: str
    content: str
    say: str  # "" for a noise memory
    tools: tuple[Mapping[str, Any], ...]
    fill: Mapping[str, str] = field(default_factory=dict)

    @property
    def noise(self) -> bool:
        return not self.say


@dataclass(frozen=True)
class Need:
    id: str
    project: str
    helped_by: tuple[str, ...]
    reply: str
    tools: tuple[Mapping[str, Any], ...]
    prompts: tuple[str, ...]
    fill: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """One prompt of the stream: its text, its need, and the paraphrase's index (for `fill`)."""

    text: str
    need: Need
    index: int


@dataclass(frozen=True)
class Session:
    project: str
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True)
class World:
    p_use_helpful: float
    p_use_other: float
    projects: Mapping[str, str]  # project -> the cwd it is worked on in (a made-up path)
    memories: tuple[Memory, ...]
    needs: tuple[Need, ...]

    def memory(self, memory_id: str) -> Memory:
        return next(m for m in self.memories if m.id == memory_id)


def parse(data: Mapping[str, Any]) -> World:
    model = data["model"]
    memories = tuple(
        Memory(
            id=m["id"],
            project=m["project"],
            layer=int(m["layer"]),
            title=m["title"],
            content=m["content"],
            say=m["use"]["say"],
            tools=tuple(m["use"]["tools"]),
            fill=dict(m["use"].get("fill", {})),
        )
        for m in data["memories"]
    )
    needs = tuple(
        Need(
            id=n["id"],
            project=n["project"],
            helped_by=tuple(n["helped_by"]),
            reply=n["reply"],
            tools=tuple(n["tools"]),
            prompts=tuple(n["prompts"]),
            fill={k: tuple(v) for k, v in n.get("fill", {}).items()},
        )
        for n in data["needs"]
    )
    return World(
        float(model["p_use_helpful"]),
        float(model["p_use_other"]),
        dict(data["projects"]),
        memories,
        needs,
    )


def load(path: Path = PATH) -> World:
    return parse(json.loads(path.read_text(encoding="utf-8")))


def _placeholders(tools: Sequence[Mapping[str, Any]]) -> set[str]:
    return set(PLACEHOLDER.findall(json.dumps(tools)))


def problems(world: World) -> list[str]:
    """Everything wrong with the world, one line each (empty when it is sound)."""
    out: list[str] = []
    ids = Counter(m.id for m in world.memories)
    out += [f"duplicate memory id {i}" for i, c in ids.items() if c > 1]
    out += [
        f"duplicate need id {i}" for i, c in Counter(n.id for n in world.needs).items() if c > 1
    ]
    prompts = Counter(p for n in world.needs for p in n.prompts)
    out += [f"prompt asked by two needs: {p!r}" for p, c in prompts.items() if c > 1]
    scopes = {*world.projects, GLOBAL}
    if not 0.5 <= world.p_use_helpful <= 1.0 or not 0.0 <= world.p_use_other <= 0.2:
        out.append("model: p_use_helpful must be in [0.5, 1], p_use_other in [0, 0.2]")
    helping = {h for n in world.needs for h in n.helped_by}
    for m in world.memories:
        if m.project not in scopes:
            out.append(f"{m.id}: unknown project {m.project!r}")
        if m.layer not in (1, 2, 3):
            out.append(f"{m.id}: layer {m.layer} (the world has no L0 anchors)")
        if m.noise and m.id in helping:
            out.append(f"{m.id}: a noise memory (no use) helps a need")
        if not m.noise and m.id not in helping:
            out.append(f"{m.id}: has a use but helps no need")
        for t in m.tools:
            if set(t.get("input", {})) != TOOL_INPUTS.get(t.get("name", ""), set()):
                out.append(f"{m.id}: tool call {t} is not Bash/Read/Edit/Write with its keys")
        missing = _placeholders(m.tools) - set(m.fill)
        if missing:
            out.append(f"{m.id}: placeholders {sorted(missing)} have no default fill")
    for n in world.needs:
        if n.project not in scopes:
            out.append(f"{n.id}: unknown project {n.project!r}")
        if len(n.prompts) < 2:
            out.append(f"{n.id}: fewer than 2 paraphrases")
        for h in n.helped_by:
            if h not in ids:
                out.append(f"{n.id}: helped_by {h} is not a memory")
            elif world.memory(h).project not in (n.project, GLOBAL):
                out.append(f"{n.id}: helped by {h} of another project")
        for key, values in n.fill.items():
            if len(values) != len(n.prompts):
                out.append(f"{n.id}: fill {key} needs one value per prompt")
    return out


def stream(world: World, seed: int, rounds: int = 2) -> list[Session]:
    """The sessions of the simulated weeks, in order (deterministic for a seed)."""
    rng = random.Random(seed)
    projects = sorted(world.projects)
    sessions: list[Session] = []
    for _ in range(rounds):
        by_project: dict[str, list[Prompt]] = {p: [] for p in projects}
        for need in world.needs:
            for i, text in enumerate(need.prompts):
                where = need.project if need.project != GLOBAL else rng.choice(projects)
                by_project[where].append(Prompt(text, need, i))
        dealt: list[Session] = []
        for project in projects:
            pool = by_project[project]
            rng.shuffle(pool)
            while pool:
                size = rng.randint(*SESSION_SIZES)
                dealt.append(Session(project, tuple(pool[:size])))
                del pool[:size]
        rng.shuffle(dealt)
        sessions += dealt
    return sessions


def main() -> int:
    world = load()
    found = problems(world)
    for line in found:
        print(f"FAIL {line}")
    prompts = sum(len(n.prompts) for n in world.needs)
    print(
        f"{len(world.memories)} memories ({sum(m.noise for m in world.memories)} noise), "
        f"{len(world.needs)} needs ({sum(not n.helped_by for n in world.needs)} helped by none), "
        f"{prompts} prompts; {len(found)} problem(s)"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
