"""Hook latency: the UserPromptSubmit hook as a whole process, exactly as Claude Code runs it.

    PYTHONPATH=. python -m benchmarks.bench_hook [--sizes 1k,10k,100k] [--runs 50]
                                                 [--repo DIR] [--venv DIR] [--no-session-start]

For each vault size (the synthetic vault of `synth`, index built once and cached), the
command of hooks/hooks.json (`sh "${CLAUDE_PLUGIN_ROOT}/bootstrap.sh" hook UserPromptSubmit`)
runs through `sh -c` with a real UserPromptSubmit payload on stdin, in a project directory
named after the prompt's project (a git checkout: `.git/HEAD`), with CLAUDE_PLUGIN_ROOT,
CLAUDE_PLUGIN_DATA, HOME, MEMEM_DIR, MEMEM_OBSIDIAN_VAULT and MEMEM_VENV pointing at
scratch dirs. Prompts are `synth.queries`; each run is a fresh session, opened first by an
untimed SessionStart hook as Claude Code does (so the L0 anchors went in at start and the
prompt's slice holds what its search found). Baselines in the same run: `sh -c true`,
`python -S -c pass`, `python -c pass` with the venv's interpreter. Then the import time of
the hook path (`python -S -X importtime`). Prints markdown tables on stdout, progress on
stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks import stores, synth, vocab
from benchmarks.bench_store import REPO, log, parse_sizes, percentile, source_digest

TARGETS_MS: Final = {10_000: 40.0, 100_000: 80.0}
IMPORT_RUNS: Final = 7
OPEN: Final = "<memem-memory>"


def routed_queries(seed: int = 7) -> list[tuple[str, str]]:
    """`synth.queries(seed)` with the project each was drawn for (off-topic ones: the largest
    project), so each prompt can be asked from its own project's directory."""
    largest = vocab.PROFILES[0].name
    drawn: list[str] = []
    original = synth._Slots

    class Spy(original):  # type: ignore[misc,valid-type]
        def __init__(self, gen: Any, project: Any) -> None:
            super().__init__(gen, project)
            drawn.append(project.profile.name)

    gen = synth.Generator(seed)
    for _ in range(synth.QUERY_WARMUP):
        gen.memory()
    rng = random.Random(seed * 7919 + 1)
    seen: dict[str, str] = {}
    synth._Slots = Spy  # type: ignore[misc]
    try:
        while len(seen) < synth.QUERY_COUNT:
            before = len(drawn)
            query = gen.query(rng)
            seen.setdefault(query, drawn[-1] if len(drawn) > before else largest)
    finally:
        synth._Slots = original  # type: ignore[misc]
    if list(seen) != synth.queries(seed):
        log("warning: could not route queries to projects; asking all from the largest")
        return [(q, largest) for q in synth.queries(seed)]
    return list(seen.items())


def hook_command(repo: Path, event: str) -> str:
    """The command hooks/hooks.json registers for `event`."""
    config = json.loads((repo / "hooks" / "hooks.json").read_text(encoding="utf-8"))
    return str(config["hooks"][event][0]["hooks"][0]["command"])


TRANSCRIPT: Final = [
    {"type": "user", "message": {"role": "user", "content": "look at the settings module"}},
    {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Read",
                    "input": {"file_path": "/work/project/src/settings.py"},
                }
            ],
        },
    },
    {
        "type": "user",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "..."}],
        },
    },
]


@dataclass
class Row:
    label: str
    n: int | None
    times: list[float] = field(default_factory=list)
    injected: int = 0
    failures: int = 0

    def cells(self) -> str:
        runs = len(self.times)
        share = f"{self.injected / runs:.0%}" if self.n is not None and runs else "-"
        size = f"{self.n:,}" if self.n is not None else "-"
        return (
            f"| {self.label} | {size} | {runs} | {statistics.median(self.times):.1f} "
            f"| {percentile(self.times, 95):.1f} | {share} |"
        )


def timed(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, data: bytes = b""
) -> tuple[float, bytes]:
    start = time.perf_counter_ns()
    done = subprocess.run(argv, input=data, env=env, cwd=cwd, capture_output=True, check=False)
    return (time.perf_counter_ns() - start) / 1e6, done.stdout


def hook_modules(venv: Path, repo: Path, work: Path) -> list[str]:
    """The modules outside memem that importing the hook path loads (on top of a bare `-S`
    interpreter): importing just these gives the standard library's share of the hook."""
    code = (
        "import sys; before = set(sys.modules); import memem.hook, memem.service.recall; "
        "print(' '.join(sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] != 'memem')))"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    env["PYTHONPATH"] = str(repo)
    argv = [str(venv / "bin" / "python"), "-S", "-c", code]
    out = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=True)
    return out.stdout.split()


def baselines(venv: Path, repo: Path, runs: int, work: Path) -> list[Row]:
    """Process baselines, interleaved so load on a shared machine hits them alike: a shell,
    the bare interpreter, the stdlib modules the hook path loads, the hook path's imports."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    env["PYTHONPATH"] = str(repo)
    py = str(venv / "bin" / "python")
    stdlib = hook_modules(venv, repo, work)
    named: list[tuple[str, list[str]]] = [
        ("`sh -c true`", ["sh", "-c", "true"]),
        ("`python -S -c pass`", [py, "-S", "-c", "pass"]),
        ("`python -c pass`", [py, "-c", "pass"]),
        (
            f"`python -S`, importing the {len(stdlib)} stdlib modules the hook loads",
            [py, "-S", "-c", "import " + ", ".join(stdlib)],
        ),
        (
            "`python -S -c 'import memem.hook, memem.service.recall'`",
            [py, "-S", "-c", "import memem.hook, memem.service.recall"],
        ),
    ]
    rows = [Row(label, None) for label, _ in named]
    for _, argv in named:
        timed(argv, env=env, cwd=work)
    for _ in range(runs):
        for row, (_, argv) in zip(rows, named, strict=True):
            row.times.append(timed(argv, env=env, cwd=work)[0])
    return rows


def hook_size(
    n: int, args: argparse.Namespace, repo: Path, venv: Path, queries: Sequence[tuple[str, str]]
) -> Row:
    state_src, vault, _ = stores.synth_index(n, args.seed)
    work = Path(tempfile.mkdtemp(prefix=f"bench-hook-n{n}-"))
    try:
        state = stores.scratch_copy(state_src, work / "state")
        (work / "home").mkdir()
        (work / "plugin-data").mkdir()
        transcript = work / "transcript.jsonl"
        transcript.write_text("".join(json.dumps(line) + "\n" for line in TRANSCRIPT), "utf-8")
        projects: dict[str, Path] = {}
        for profile in vocab.PROFILES:
            directory = work / "projects" / profile.name
            (directory / ".git").mkdir(parents=True)
            (directory / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
            projects[profile.name] = directory
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work / "home"),
            "MEMEM_DIR": str(state),
            "MEMEM_OBSIDIAN_VAULT": str(vault),
            "MEMEM_VENV": str(venv),
            "CLAUDE_PLUGIN_ROOT": str(repo),
            "CLAUDE_PLUGIN_DATA": str(work / "plugin-data"),
        }
        prompt_cmd = ["sh", "-c", hook_command(repo, "UserPromptSubmit")]
        start_cmd = ["sh", "-c", hook_command(repo, "SessionStart")]
        row = Row("hook UserPromptSubmit", n)
        step = max(1, len(queries) // args.runs)
        picked = [queries[(i * step) % len(queries)] for i in range(args.runs + 1)]
        for number, (prompt, project) in enumerate(picked):
            cwd = projects[project]
            session = str(uuid.uuid4())
            env["CLAUDE_PROJECT_DIR"] = str(cwd)
            common = {"session_id": session, "transcript_path": str(transcript), "cwd": str(cwd)}
            if args.session_start:
                payload = {**common, "hook_event_name": "SessionStart", "source": "startup"}
                timed(start_cmd, env=env, cwd=cwd, data=json.dumps(payload).encode())
            payload = {
                **common,
                "hook_event_name": "UserPromptSubmit",
                "prompt": prompt,
                "prompt_id": str(uuid.uuid4()),
                "permission_mode": "default",
            }
            ms, out = timed(prompt_cmd, env=env, cwd=cwd, data=json.dumps(payload).encode())
            if number == 0:
                continue  # the first run warms the page cache and the bytecode cache
            row.times.append(ms)
            if out:
                context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
                row.injected += context.startswith(OPEN)
        hooks_log = state / "logs" / "hooks.log"
        if hooks_log.exists():
            row.failures = hooks_log.read_text(encoding="utf-8").count("hook failed")
        log(
            f"n={n}: median {statistics.median(row.times):.1f} ms, "
            f"p95 {percentile(row.times, 95):.1f} ms, injected {row.injected}/{len(row.times)}"
            + (f", {row.failures} FAILURES (see {hooks_log})" if row.failures else "")
        )
        return row
    finally:
        if args.keep:
            log(f"n={n}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def import_times(venv: Path, repo: Path, work: Path) -> list[tuple[str, float, float, bool]]:
    """(module, self ms, cumulative ms, imported at top level), median over IMPORT_RUNS runs,
    slowest first."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    env["PYTHONPATH"] = str(repo)
    code = "import memem.hook, memem.service.recall"
    argv = [str(venv / "bin" / "python"), "-S", "-X", "importtime", "-c", code]
    own: dict[str, list[float]] = defaultdict(list)
    cumulative: dict[str, list[float]] = defaultdict(list)
    top: set[str] = set()
    for _ in range(IMPORT_RUNS):
        done = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cum_us, raw = line.removeprefix("import time:").split("|", 2)
            name = raw.strip()
            if len(raw) - len(raw.lstrip()) == 1:  # nested imports are indented further
                top.add(name)
            own[name].append(int(self_us) / 1000)
            cumulative[name].append(int(cum_us) / 1000)
    rows = [
        (m, statistics.median(own[m]), statistics.median(cumulative[m]), m in top)
        for m in cumulative
    ]
    return sorted(rows, key=lambda r: -r[2])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_hook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated vault sizes")
    parser.add_argument("--runs", type=int, default=50, help="timed hook runs per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="plugin root (bootstrap.sh, hooks/)"
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(os.environ.get("MEMEM_VENV") or sys.prefix),
        help="the venv bootstrap.sh uses (MEMEM_VENV)",
    )
    parser.add_argument(
        "--no-session-start",
        dest="session_start",
        action="store_false",
        help="skip the SessionStart hook before each timed prompt",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs")
    args = parser.parse_args(argv)
    repo, venv = args.repo.resolve(), args.venv.resolve()
    if not (repo / "bootstrap.sh").exists() or not (venv / "bin" / "python").exists():
        parser.error(f"need {repo}/bootstrap.sh and {venv}/bin/python (see --repo, --venv)")
    wall = time.perf_counter()
    digest = source_digest()
    log(f"hook of {repo} with {venv}/bin/python; memem sources {digest}")
    queries = routed_queries(args.seed)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        log("baselines ...")
        rows += baselines(venv, repo, args.runs, Path(tmp))
        for n in parse_sizes(args.sizes):
            rows.append(hook_size(n, args, repo, venv, queries))
        imports = import_times(venv, repo, Path(tmp))

    print("## Hook latency (UserPromptSubmit, whole process)\n")
    print("| command | memories | runs | median ms | p95 ms | injected a slice |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row.cells())
    print()
    for n, target in TARGETS_MS.items():
        hook = next((r for r in rows if r.n == n), None)
        if hook:
            median = statistics.median(hook.times)
            verdict = "met" if median <= target else "NOT met"
            print(f"- target at {n:,}: median <= {target:.0f} ms: {verdict} ({median:.1f} ms)")
    failures = sum(r.failures for r in rows)
    if failures:
        print(f"- WARNING: {failures} hook runs failed (logged in <state>/logs/hooks.log)")
    print()
    print(
        "## Import time of the hook path (`python -S -X importtime -c 'import memem.hook, memem.service.recall'`)\n"
    )
    print(f"Median of {IMPORT_RUNS} runs; top 15 modules by cumulative time.\n")
    print("| module | self ms | cumulative ms |")
    print("|---|---|---|")
    for name, own, cum, _ in imports[:15]:
        print(f"| `{name}` | {own:.2f} | {cum:.2f} |")
    total = sum(cum for _, _, cum, top in imports if top)
    memem = sum(cum for name, _, cum, top in imports if top and name.startswith("memem"))
    print(
        f"\nTop-level imports together: {total:.1f} ms, of which `memem` and what it pulls in "
        f"{memem:.1f} ms (the rest is the interpreter's own start-up modules)."
    )
    print()
    print(
        f"- session start before each prompt: {'yes' if args.session_start else 'no'}; "
        f"memem sources {digest} ({repo}); {os.cpu_count()} CPUs; "
        f"wall time {time.perf_counter() - wall:.0f} s; {time.ctime()}"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
