"""Does memem learn what helps? A scripted multi-session simulation, learning on against off.

    PYTHONPATH=. python -m benchmarks.bench_learning [--quick] [--seed N] [--rounds N]
                                                     [--sets coding,first_week,implicit]
                                                     [--json PATH]

The world (`data/learning_world.json`, `benchmarks/learning_world.py`) is a vault of developer
memories, prompts grouped by need, and the seeded model of which memories help which need. It
was fixed before any tuning and memem never reads it. The same seeded stream of sessions runs
twice, in two fresh stores: with `MEMEM_LEARNING=off` and with the learning on. For each prompt:

1. the REAL hook path: `memem.hook.respond("UserPromptSubmit", payload, env)` with the payload
   Claude Code sends (session_id, transcript_path, cwd, prompt, prompt_id...); the slice is
   recorded in the ledger by memem itself;
2. the scripted assistant: each injected memory that helps the prompt's need is used with
   probability p_use_helpful (0.9), any other with p_use_other (0.03; a noise memory never):
   the draw is keyed on (seed, position in the stream, memory), so both runs draw alike. It
   appends a Claude Code turn to the session's transcript (schema of 2.1.329: queue-operation,
   the user prompt, the hook's additional context, assistant text and tool_use entries with
   their tool_result entries), quoting what it used: commands, paths, values;
3. the REAL detection pass (`memem.service.usage.detect`), as the engine runs it, deciding
   used-or-not from the transcript and feeding the utility store.

Reported on the last third of the stream (and on all of it): injected characters per prompt
(what the hook printed), memories injected per prompt, the share of injected memories the
assistant used, the share of prompts with a helpful memory whose helpful memory was injected
(this prompt) or in context (this prompt or earlier in the session); and how the detector's
decisions agree with the script's truth. Then `bench_recall`'s sets, each on a vault with a
simulated history (the set's tune prompts through the same loop, the target memory as the
helpful one) against the same vault without: a learned history must not cost recall.

Markdown on stdout, progress on stderr. Nothing here asserts; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks import learning_world
from benchmarks.bench_store import log, source_digest
from benchmarks.learning_world import Memory, Need, World
from memem import hook
from memem.settings import Settings
from memem.storage import ledger

VERSION: Final = "2.1.329"
MODEL: Final = "claude-opus-5-5"
# Only the paths are the benchmark's: every other MEMEM_* setting of this process is passed
# through, so a tuning knob a later memem reads is measured by the same code.
PATH_VARS: Final = frozenset({"HOME", "MEMEM_DIR", "MEMEM_OBSIDIAN_VAULT", "MEMEM_LEARNING"})
# The detection pass waits this long after an injection before deciding it (the turn must
# be over); the simulation asks it to decide as if that much time had passed.
SETTLE_S: Final = 3600.0
QUICK_SESSIONS: Final = 14


# -- the simulated user and assistant --------------------------------------------------------


def iso(moment: float) -> str:
    return ledger.iso(moment)


def slug(cwd: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in cwd)


def fill(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def draw(seed: int, position: int, memory_id: str) -> float:
    """The assistant's die for one memory at one prompt: the same in both runs."""
    return random.Random(f"{seed}|{position}|{memory_id}").random()


def uses(world: World, need: Need, injected: Sequence[str], seed: int, position: int) -> list[str]:
    """The injected world memories the scripted assistant uses for this prompt."""
    out = []
    for mid in injected:
        memory = world.memory(mid)
        if memory.noise:
            continue
        p = world.p_use_helpful if mid in need.helped_by else world.p_use_other
        if draw(seed, position, mid) < p:
            out.append(mid)
    return out


@dataclass
class Transcript:
    """One session's transcript file, written as Claude Code writes it."""

    path: Path
    session_id: str
    cwd: str
    parent: str | None = None

    def _envelope(self, kind: str, at: float) -> dict[str, Any]:
        entry = {
            "type": kind,
            "parentUuid": self.parent,
            "isSidechain": False,
            "uuid": str(uuid.uuid4()),
            "timestamp": iso(at),
            "userType": "external",
            "entrypoint": "sdk-cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            "gitBranch": "main",
        }
        self.parent = entry["uuid"]
        return entry

    def _assistant(self, content: list[dict[str, Any]], stop: str, at: float) -> dict[str, Any]:
        entry = self._envelope("assistant", at)
        entry["message"] = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 12000, "output_tokens": 120},
        }
        entry["requestId"] = f"req_{uuid.uuid4().hex[:24]}"
        return entry

    def turn(
        self,
        prompt: str,
        prompt_id: str,
        context: str,
        reply: str,
        tools: Sequence[Mapping[str, Any]],
        at: float,
    ) -> None:
        entries: list[dict[str, Any]] = [
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": iso(at),
                "sessionId": self.session_id,
                "content": prompt,
            }
        ]
        user = self._envelope("user", at)
        user |= {
            "promptId": prompt_id,
            "message": {"role": "user", "content": prompt},
            "permissionMode": "default",
            "promptSource": "sdk",
        }
        entries.append(user)
        if context:
            attached = self._envelope("attachment", at)
            attached["attachment"] = {
                "type": "hook_additional_context",
                "content": [context],
                "hookName": "UserPromptSubmit",
                "toolUseID": "UserPromptSubmit",
                "hookEvent": "UserPromptSubmit",
            }
            attached["rendered"] = [
                {
                    "content": "<system-reminder>\nUserPromptSubmit hook additional context: "
                    + context
                    + "\n</system-reminder>"
                }
            ]
            attached["renderedRole"] = "system"
            entries.append(attached)
        for n, call in enumerate(tools):
            tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": call["name"],
                "input": call["input"],
            }
            entries.append(self._assistant([block], "tool_use", at + 1 + n))
            result = self._envelope("user", at + 1.5 + n)
            result |= {
                "promptId": prompt_id,
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}],
                },
                "toolUseResult": "ok",
                "sourceToolAssistantUUID": entries[-1]["uuid"],
            }
            entries.append(result)
        entries.append(
            self._assistant([{"type": "text", "text": reply}], "end_turn", at + 2 + len(tools))
        )
        entries.append(
            {
                "type": "last-prompt",
                "lastPrompt": prompt,
                "leafUuid": self.parent,
                "sessionId": self.session_id,
            }
        )
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(e) + "\n" for e in entries)


def act(
    world: World, need: Need, index: int, used: Sequence[str], cwds: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """The assistant's reply and tool calls: what it used (quoted), then the need's own."""
    said: list[str] = []
    calls: list[dict[str, Any]] = []
    values = {k: v[index] for k, v in need.fill.items()}
    for mid in used:
        memory: Memory = world.memory(mid)
        said.append(memory.say)
        merged = {**memory.fill, **values}
        calls += [json.loads(fill(json.dumps(t), merged)) for t in memory.tools]
    calls += [dict(t) for t in need.tools]
    text = json.dumps(calls)
    for project, made_up in world.projects.items():
        text = text.replace(made_up, cwds[project])
    return " ".join([*said, need.reply]), json.loads(text)


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Step:
    """One prompt of the stream as it happened."""

    position: int
    need: str
    helpful: tuple[str, ...]
    chars: int  # what the hook printed (the additional context)
    injected: tuple[str, ...]  # world ids injected this prompt
    used: tuple[str, ...]  # world ids the assistant used (the truth)
    in_context: bool  # a helpful memory injected this prompt or earlier in the session
    detected: dict[str, bool | None] = field(default_factory=dict)  # the detector's decision
    scores: dict[str, float] = field(default_factory=dict)  # world id -> its score in the slice


@dataclass
class Run:
    learning: str
    steps: list[Step]
    ingest: str
    seconds: float


def run_env(root: Path, learning: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("MEMEM_") and k not in PATH_VARS}
    env |= {
        "HOME": str(root / "home"),
        "MEMEM_DIR": str(root / "state"),
        "MEMEM_OBSIDIAN_VAULT": str(root / "vault"),
        "MEMEM_ENGINE": "off",
        "MEMEM_SEMANTIC": env.get("MEMEM_SEMANTIC", "off"),
        "MEMEM_LEARNING": learning,
    }
    return env


def detect(env: Mapping[str, str], moment: float) -> None:
    """One detection pass, as the engine runs it (when this memem has one)."""
    try:
        from memem.service import usage
    except ImportError:
        return
    usage.detect(Settings.from_env(env), now=moment + SETTLE_S)


def ingest_world(world: World, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The world's memories saved into a fresh store: world id -> memem id, and notes."""
    from memem.service.store import Store

    memem_of: dict[str, str] = {}
    merged = []
    with Store.open(env=env, semantic="off") as store:
        for m in world.memories:
            saved = store.add(
                m.content, title=m.title, project=m.project, layer=m.layer, source_type="mined"
            )
            if saved.memory.id in memem_of.values():
                merged.append(m.id)
            memem_of[m.id] = saved.memory.id
    notes = f"{len(set(memem_of.values()))} memories"
    return memem_of, notes + (f"; merged as duplicates: {', '.join(merged)}" if merged else "")


def simulate(
    world: World,
    sessions: Sequence[learning_world.Session],
    root: Path,
    learning: str,
    seed: int,
    on_step: Callable[[Step], None] | None = None,
) -> Run:
    started = time.perf_counter()
    env = run_env(root, learning)
    cwds = {}
    for project in world.projects:
        (root / "work" / project).mkdir(parents=True, exist_ok=True)
        cwds[project] = str(root / "work" / project)
    memem_of, notes = ingest_world(world, env)
    world_of = {v: k for k, v in memem_of.items()}
    state = env["MEMEM_DIR"]
    rng = random.Random(seed)
    steps: list[Step] = []
    position = 0
    for session in sessions:
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        cwd = cwds[session.project]
        folder = Path(env["HOME"]) / ".claude" / "projects" / slug(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        transcript = Transcript(folder / f"{sid}.jsonl", sid, cwd)
        seen: set[str] = set()
        for prompt in session.prompts:
            prompt_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            payload = {
                "session_id": sid,
                "transcript_path": str(transcript.path),
                "cwd": cwd,
                "hook_event_name": "UserPromptSubmit",
                "prompt": prompt.text,
                "prompt_id": prompt_id,
                "permission_mode": "default",
            }
            before = len(ledger.read(state, session_id=sid))
            out = hook.respond("UserPromptSubmit", payload, env)
            context = json.loads(out)["hookSpecificOutput"]["additionalContext"] if out else ""
            made = ledger.read(state, session_id=sid)[before:]
            injected = tuple(
                world_of[i["id"]] for e in made for i in e["items"] if i["id"] in world_of
            )
            seen |= set(injected)
            need = prompt.need
            used = uses(world, need, injected, seed, position)
            reply, calls = act(world, need, prompt.index, used, cwds)
            transcript.turn(prompt.text, prompt_id, context, reply, calls, time.time())
            detect(env, time.time())
            step = Step(
                position,
                need.id,
                need.helped_by,
                len(context),
                injected,
                tuple(used),
                bool(seen & set(need.helped_by)),
                scores={
                    world_of[i["id"]]: float(i["score"])
                    for e in made
                    for i in e["items"]
                    if i["id"] in world_of
                },
            )
            steps.append(step)
            if on_step is not None:
                on_step(step)
            position += 1
    # The detector's decisions, matched back onto the steps (in ledger order).
    decided = [e for e in ledger.read(state) if e.get("event") == "UserPromptSubmit"]
    by_step = iter(s for s in steps if s.injected)
    for entry, step in zip(decided, by_step, strict=False):
        step.detected = {
            world_of[i["id"]]: i.get("used") for i in entry["items"] if i["id"] in world_of
        }
    return Run(learning, steps, notes, time.perf_counter() - started)


# -- figures (pure) --------------------------------------------------------------------------


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures(steps: Sequence[Step]) -> dict[str, Any]:
    injected = sum(len(s.injected) for s in steps)
    used = sum(len(s.used) for s in steps)
    wanting = [s for s in steps if s.helpful]
    return {
        "prompts": len(steps),
        "chars": statistics.fmean(s.chars for s in steps) if steps else None,
        "chars_median": statistics.median(s.chars for s in steps) if steps else None,
        "items": share(injected, len(steps)),
        "used_share": share(used, injected),
        "helpful_injected": share(
            sum(1 for s in wanting if set(s.injected) & set(s.helpful)), len(wanting)
        ),
        "helpful_in_context": share(sum(1 for s in wanting if s.in_context), len(wanting)),
    }


def detector(steps: Sequence[Step]) -> dict[str, Any]:
    """The detector's decisions against the script's truth, over every decided item."""
    tp = fp = fn = tn = undecided = 0
    for s in steps:
        for mid in s.injected:
            said = s.detected.get(mid)
            truth = mid in s.used
            if said is None:
                undecided += 1
            elif said and truth:
                tp += 1
            elif said:
                fp += 1
            elif truth:
                fn += 1
            else:
                tn += 1
    return {
        "precision": share(tp, tp + fp),
        "recall": share(tp, tp + fn),
        "decided": tp + fp + fn + tn,
        "undecided": undecided,
    }


def last_third(steps: Sequence[Step]) -> list[Step]:
    return list(steps[len(steps) - len(steps) // 3 :])


def change(on: float | None, off: float | None) -> str:
    if on is None or off is None or not off:
        return "-"
    return f"{(on - off) / off:+.1%}"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.0f}"
    return str(value)


COLUMNS: Final = (
    ("chars/prompt", "chars"),
    ("median chars", "chars_median"),
    ("memories/prompt", "items"),
    ("used share", "used_share"),
    ("helpful injected", "helpful_injected"),
    ("helpful in context", "helpful_in_context"),
)


def table(runs: Mapping[str, Run]) -> str:
    lines = [
        "| stream | learning | prompts | " + " | ".join(h for h, _ in COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for part, pick in (("last third", last_third), ("all", list)):
        rows = {name: figures(pick(run.steps)) for name, run in runs.items()}
        for name, row in rows.items():
            lines.append(
                f"| {part} | {name} | {row['prompts']} | "
                + " | ".join(cell(row[k]) for _, k in COLUMNS)
                + " |"
            )
        if {"off", "on"} <= set(rows):
            lines.append(
                f"| {part} | change | | "
                + " | ".join(change(rows["on"][k], rows["off"][k]) for _, k in COLUMNS)
                + " |"
            )
    return "\n".join(lines)


def agreement(runs: Mapping[str, Run]) -> str:
    lines = [
        "| learning | items decided | undecided | precision | recall |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        d = detector(run.steps)
        lines.append(
            f"| {name} | {d['decided']} | {d['undecided']} | {cell(d['precision'])} "
            f"| {cell(d['recall'])} |"
        )
    return "\n".join(lines)


# -- recall after a history ------------------------------------------------------------------


def set_prompts(name: str, data: Mapping[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """A recall set's tune prompts and their targets (set ids): the history's stream."""
    if name == "coding":
        return [
            (q[kind], (q["target"],))
            for q in data["queries"]
            if q["split"] == "tune"
            for kind in ("question", "keywords")
        ]
    if name == "first_week":
        return [(p["text"], tuple(p["targets"])) for p in data["prompts"] if p["split"] == "tune"]
    return [(c["text"], (c["target"],)) for c in data["cues"] if c["split"] == "tune"]


def history(seed: int, rounds: int) -> Any:
    """A `bench_recall.Prepare`: the set's tune prompts through the hook, the assistant, the
    transcript and the detection pass, `rounds` times over, in sessions of 3-7 prompts per
    project. The assistant quotes a target it was given with p 0.9, any other memory with
    p 0.03 (the world's model, with the set's targets as the helpful memories)."""
    from benchmarks.bench_recall import Vault, scope_of

    def prepare(name: str, vault: Vault, data: Mapping[str, Any]) -> None:
        settings = vault.store.settings
        root = Path(settings.state_dir).parent
        env = run_env(root, "on")
        env |= {
            "MEMEM_DIR": str(settings.state_dir),
            "MEMEM_OBSIDIAN_VAULT": str(settings.vault_dir),
        }
        env["MEMEM_SEMANTIC"] = "off"
        projects = {m["id"]: m["project"] for m in data["memories"]}
        contents = {m["id"]: m["content"] for m in data["memories"]}
        largest = max(sorted(set(projects.values())), key=list(projects.values()).count)
        rng = random.Random(seed)
        position = 0
        for _ in range(rounds):
            by_project: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
            for text, targets in set_prompts(name, data):
                by_project.setdefault(scope_of(targets, projects, largest), []).append(
                    (text, targets)
                )
            for project, pool in sorted(by_project.items()):
                rng.shuffle(pool)
                cwd = root / "work" / project
                cwd.mkdir(parents=True, exist_ok=True)
                while pool:
                    size = rng.randint(*learning_world.SESSION_SIZES)
                    chunk, pool[:] = pool[:size], pool[size:]
                    sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    folder = Path(env["HOME"]) / ".claude" / "projects" / slug(str(cwd))
                    folder.mkdir(parents=True, exist_ok=True)
                    transcript = Transcript(folder / f"{sid}.jsonl", sid, str(cwd))
                    for text, targets in chunk:
                        prompt_id = str(uuid.uuid4())
                        payload = {
                            "session_id": sid,
                            "transcript_path": str(transcript.path),
                            "cwd": str(cwd),
                            "hook_event_name": "UserPromptSubmit",
                            "prompt": text,
                            "prompt_id": prompt_id,
                        }
                        before = len(ledger.read(env["MEMEM_DIR"], session_id=sid))
                        out = hook.respond("UserPromptSubmit", payload, env)
                        made = ledger.read(env["MEMEM_DIR"], session_id=sid)[before:]
                        said = []
                        for entry in made:
                            for item in entry["items"]:
                                set_id = vault.set_of.get(item["id"])
                                if set_id is None:
                                    continue
                                p = 0.9 if set_id in targets else 0.03
                                if draw(seed, position, set_id) < p:
                                    said.append(f"As noted: {contents[set_id]}")
                        context = (
                            json.loads(out)["hookSpecificOutput"]["additionalContext"]
                            if out
                            else ""
                        )
                        transcript.turn(
                            text, prompt_id, context, " ".join([*said, "Done."]), [], time.time()
                        )
                        detect(env, time.time())
                        position += 1
        log(f"{name}: a history of {position} prompts")

    return prepare


RECALL_KEYS: Final = ("r5", "r10", "mrr", "answered", "all", "any", "abstained")


def recall_compare(sets: Sequence[str], seed: int, rounds: int) -> tuple[str, list[dict[str, Any]]]:
    """bench_recall's sets without and with a simulated history (learning on in both)."""
    from benchmarks import bench_recall

    offtopic = {p.name: bench_recall.load_prompts(p) for p in bench_recall.OFFTOPIC}
    rows: dict[str, list[dict[str, Any]]] = {}
    saved = os.environ.get("MEMEM_LEARNING")
    os.environ["MEMEM_LEARNING"] = "on"  # bench_recall passes MEMEM_* to its store
    try:
        with tempfile.TemporaryDirectory(prefix="bench-learning-recall-") as tmp:
            for label, prepare in (("no history", None), ("history", history(seed, rounds))):
                rows[label] = []
                for name in sets:
                    data = bench_recall.load_set(name)
                    outcome = bench_recall.run(
                        name, data, Path(tmp) / label.replace(" ", "-") / name, offtopic, prepare
                    )
                    rows[label] += outcome.rows + outcome.extra
    finally:
        if saved is None:
            os.environ.pop("MEMEM_LEARNING", None)
        else:
            os.environ["MEMEM_LEARNING"] = saved
    key = ("set", "system", "kind", "split")
    after = {tuple(r[k] for k in key): r for r in rows["history"]}
    diff = []
    lines = [
        "| set | system | prompts | split | figure | no history | history | change |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for before in rows["no history"]:
        now = after.get(tuple(before[k] for k in key))
        if now is None:
            continue
        for figure in RECALL_KEYS:
            if before.get(figure) is None:
                continue
            delta = (now.get(figure) or 0.0) - before[figure]
            diff.append(
                {
                    **{k: before[k] for k in key},
                    "figure": figure,
                    "before": before[figure],
                    "after": now.get(figure),
                    "delta": delta,
                }
            )
            lines.append(
                f"| {before['set']} | {before['system']} | {before['kind']} | {before['split']} "
                f"| {figure} | {cell(before[figure])} | {cell(now.get(figure))} | {delta:+.3f} |"
            )
    return "\n".join(lines), diff


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_learning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=7, help="the stream's and the dice's seed")
    parser.add_argument(
        "--rounds", type=int, default=2, help="times every prompt is asked (default 2)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one round, its first {QUICK_SESSIONS} sessions, no recall sets (for tests)",
    )
    parser.add_argument(
        "--sets",
        default="coding,first_week,implicit",
        help="bench_recall sets to ask after a history ('' for none)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON too")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    sets = [] if args.quick else [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in sets if s not in ("coding", "first_week", "implicit")]
    if unknown:
        parser.error(f"--sets: unknown {unknown}")
    wall = time.perf_counter()
    digest = source_digest()
    world = learning_world.load()
    rounds = 1 if args.quick else args.rounds
    sessions = learning_world.stream(world, args.seed, rounds)
    if args.quick:
        sessions = sessions[:QUICK_SESSIONS]
    prompts = sum(len(s.prompts) for s in sessions)
    log(f"memem sources {digest}; {len(sessions)} sessions, {prompts} prompts, seed {args.seed}")
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        for learning in ("off", "on"):
            runs[learning] = simulate(world, sessions, Path(tmp) / learning, learning, args.seed)
            log(f"learning {learning}: {runs[learning].seconds:.1f} s")
    print(f"## Learning from use: the simulation (seed {args.seed}, {prompts} prompts)\n")
    print(table(runs))
    print("\nThe detector against the scripted assistant's truth:\n")
    print(agreement(runs))
    result: dict[str, Any] = {
        "seed": args.seed,
        "rounds": rounds,
        "prompts": prompts,
        "sessions": len(sessions),
        "runs": {
            name: {
                "last_third": figures(last_third(run.steps)),
                "all": figures(run.steps),
                "detector": detector(run.steps),
                "ingest": run.ingest,
                "seconds": round(run.seconds, 1),
            }
            for name, run in runs.items()
        },
    }
    if sets:
        text, diff = recall_compare(sets, args.seed, args.rounds)
        lower = [d for d in diff if d["figure"] != "abstained" and d["delta"] < -1e-9]
        print("\n## Recall after a simulated history (learning on), against none\n")
        print(text)
        print(f"\n- {len(lower)} figure(s) lower after the history (abstained not counted)")
        result["recall"] = diff
    total = time.perf_counter() - wall
    print(
        f"\n- memem sources {digest}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"wall time {total:.0f} s"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
