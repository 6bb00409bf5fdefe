"""Hook latency: the UserPromptSubmit hook as a whole process, exactly as Claude Code runs it.

    PYTHONPATH=. python -m benchmarks.bench_hook [--sizes 1k,10k,100k] [--runs 50]
                                                 [--phases idle,busy,embedding] [--fill-random]
                                                 [--embed-seconds S]
                                                 [--repo DIR] [--venv DIR]
                                                 [--no-session-start]

For each vault size (the synthetic vault of `synth`, index built once and cached), the
command of hooks/hooks.json (`sh "${CLAUDE_PLUGIN_ROOT}/bootstrap.sh" hook UserPromptSubmit`)
runs through `sh -c` with a real UserPromptSubmit payload on stdin, in a project directory
named after the prompt's project (a git checkout: `.git/HEAD`), with CLAUDE_PLUGIN_ROOT,
CLAUDE_PLUGIN_DATA, HOME, MEMEM_DIR, MEMEM_OBSIDIAN_VAULT and MEMEM_VENV pointing at
scratch dirs. Prompts are `synth.queries`; each run is a fresh session, opened first by an
untimed SessionStart hook as Claude Code does (so the L0 anchors went in at start and the
prompt's slice holds what its search found).

Each size runs in phases, each with two live engines (`memem daemon run`, stopped at the end
of the phase): the engine with semantic recall (the default: it embeds the prompt and
searches the vectors) and a lexical engine (MEMEM_SEMANTIC=off, its own state dir on the same
vault), the baseline. `idle`: the model loaded and every vector made (the vectors cached by
`stores.synth_vectors`; with `--fill-random`, random unit vectors for the memories without
one, so no phase waits for a vault to be embedded); `busy`: a memory file rewritten every
0.3 s so that the vault watchers reconcile the whole vault back to back (and the engine
embeds the new text); `embedding`: the engine starts with no vectors at all and embeds the
whole vault in the background while the prompts run. In each phase, per prompt in turn: the
hook answered by the engine, by the lexical engine, in-process (MEMEM_ENGINE=off: the
fallback), `sh -c true` and `python -S -c pass`; then each engine's own time per prompt (its
`status` op's `request_ms`). Baselines before the sizes: `sh -c true`, `python -S -c pass`,
`python -c pass` with the venv's interpreter. After the idle phase, the engines' resident
memory (and peak) and CPU time over `--idle-seconds` of idleness (from /proc). Then the
import time of the hook path with an engine (the client) and without (`python -S -X
importtime`). Prints markdown tables on stdout, progress on stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
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

from benchmarks import engines, stores, synth, vocab
from benchmarks.bench_store import REPO, link_tree, log, parse_sizes, percentile, source_digest

# (label prefix, vault size, median target ms, p95 target ms or None): issue 13's, for the
# hook with semantic recall (the engine embeds the prompt and searches the vectors).
TARGETS_MS: Final = (
    ("hook, engine (idle)", 10_000, 25.0, None),
    ("hook, engine (busy)", 10_000, 25.0, None),
    ("hook, engine (embedding)", 10_000, 25.0, None),
    ("hook, engine (idle)", 100_000, 40.0, None),
    ("hook, engine (busy)", 100_000, 40.0, None),
    ("hook, engine (embedding)", 100_000, 40.0, None),
    ("hook, fallback: MEMEM_ENGINE=off (idle)", 10_000, 40.0, None),
)
PHASES: Final = ("idle", "busy", "embedding")
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
    # CPU time (user + system) of the process and what it waited for: unlike the wall time,
    # hardly touched by the load of a shared machine.
    cpu: list[float] = field(default_factory=list)
    injected: int = 0
    failures: int = 0
    # Figures the engine measured itself (its `status` op's request_ms), instead of times.
    summary: dict[str, float] | None = None

    def add(self, ms: float, cpu_ms: float) -> None:
        self.times.append(ms)
        self.cpu.append(cpu_ms)

    def cells(self) -> str:
        size = f"{self.n:,}" if self.n is not None else "-"
        if self.summary is not None:
            s = self.summary
            return (
                f"| {self.label} | {size} | {s['count']:.0f} | {s['p50']:.1f} "
                f"| {s['p95']:.1f} | {s.get('cpu_p50', float('nan')):.1f} | - |"
            )
        runs = len(self.times)
        share = f"{self.injected / runs:.0%}" if self.n is not None and runs else "-"
        return (
            f"| {self.label} | {size} | {runs} | {statistics.median(self.times):.1f} "
            f"| {percentile(self.times, 95):.1f} | {statistics.median(self.cpu):.1f} | {share} |"
        )


def timed(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, data: bytes = b""
) -> tuple[float, float, bytes]:
    """(wall ms, CPU ms, stdout) of `argv` as a whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter_ns()
    done = subprocess.run(argv, input=data, env=env, cwd=cwd, capture_output=True, check=False)
    wall = (time.perf_counter_ns() - start) / 1e6
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu, done.stdout


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
            row.add(*timed(argv, env=env, cwd=work)[:2])
    return rows


def hook_size(
    n: int,
    args: argparse.Namespace,
    repo: Path,
    venv: Path,
    queries: Sequence[tuple[str, str]],
    notes: list[str],
) -> list[Row]:
    """The rows of one vault size: for each phase, the prompt hook answered by the engine
    (semantic recall), by a lexical engine (MEMEM_SEMANTIC=off, its own state dir on the
    same vault) and in-process (MEMEM_ENGINE=off), interleaved with the `sh` and `python -S`
    baselines, plus each engine's own time per hook request. Appends the engines' idle RSS
    and CPU, and what the embedder did, to `notes`."""
    state_src, vault_src, _ = stores.synth_index(n, args.seed)
    if args.embed_seconds > 0:
        stores.synth_vectors(n, args.seed, seconds=args.embed_seconds)
    work = Path(tempfile.mkdtemp(prefix=f"bench-hook-n{n}-"))
    rows: list[Row] = []
    try:
        state = stores.scratch_copy(state_src, work / "state")
        lexical_state = stores.scratch_copy(state_src, work / "state-lexical")
        # Every phase but `embedding` starts from all the vectors: the cached real ones, the
        # rest (with --fill-random) random unit vectors.
        full = stores.scratch_copy(state_src, work / "vectors-full")
        cached = stores.vectors_file(n, args.seed)
        if cached.exists():
            shutil.copy2(cached, full / stores.VECTORS)
        filled = stores.fill_random(full, args.seed) if args.fill_random else 0
        notes.append(
            f"- vectors at {n:,}: {filled:,} random unit vectors added to the cached real ones"
            if filled
            else f"- vectors at {n:,}: all real (cached)"
            if args.fill_random
            else f"- vectors at {n:,}: the cached ones (the engine makes the rest)"
        )
        log(notes[-1])
        vault = work / "vault"
        link_tree(vault_src, vault)  # the busy phase writes into it; the cache stays as built
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
        lexical_env = {**env, "MEMEM_DIR": str(lexical_state), "MEMEM_SEMANTIC": "off"}
        step = max(1, len(queries) // args.runs)
        picked = [queries[(i * step) % len(queries)] for i in range(args.runs + 1)]
        py = str(venv / "bin" / "python")
        for phase in args.phases:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    (state / (stores.VECTORS + suffix)).unlink()
            if phase != "embedding":
                shutil.copy2(full / stores.VECTORS, state / stores.VECTORS)
            with (
                engines.running(env, py, repo) as engine,
                engines.running(lexical_env, py, repo) as lexical,
            ):
                before = engine.wait_embedded(pending_ok=phase == "embedding")
                if phase == "embedding" and not before["pending"]:
                    log(f"n={n} embedding: nothing left to embed when the prompts started")
                busy = (
                    engines.busy(vault / "memem" / "memories")
                    if phase == "busy"
                    else contextlib.nullcontext({"writes": 0})
                )
                hooks = (
                    (Row(f"hook, engine ({phase})", n), env),
                    (Row(f"hook, lexical engine: MEMEM_SEMANTIC=off ({phase})", n), lexical_env),
                    (
                        Row(f"hook, fallback: MEMEM_ENGINE=off ({phase})", n),
                        {**env, "MEMEM_ENGINE": "off"},
                    ),
                )
                with busy as touched:
                    rows += _phase(n, phase, args, repo, env, hooks, projects, transcript, picked)
                    status, lexical_status = engine.status(), lexical.status()
                after = status.get("embedder") or {}
                notes.append(
                    f"- embedder at {n:,} ({phase}): {before['vectors']:,} vectors of "
                    f"{before['memories']:,} when the prompts started, {after.get('vectors', 0):,} "
                    f"at the end ({after.get('pending')} pending)"
                )
                log(notes[-1])
                if phase == "idle" and args.idle_seconds > 0:
                    for name, running in (("engine", engine), ("lexical engine", lexical)):
                        rss, cpu = engines.idle_usage(running.pid, args.idle_seconds)
                        _, peak = engines.memory(running.pid)
                        notes.append(
                            f"- {name} idle at {n:,}: RSS {rss:.0f} MB (peak {peak:.0f} MB), "
                            f"CPU {cpu:.2f} s over {args.idle_seconds:.0f} s (pid {running.pid})"
                        )
                        log(notes[-1])
                for name, got in (("engine", status), ("lexical engine", lexical_status)):
                    timing = got.get("request_ms", {}).get("hook UserPromptSubmit")
                    if timing:
                        rows.append(
                            Row(f"{name}'s own time per prompt ({phase})", n, summary=timing)
                        )
                log(
                    f"n={n} {phase}: engine served {status.get('requests')} requests, "
                    f"{status.get('reconciles')} vault reconciles, busy file written "
                    f"{touched['writes']} times"
                )
        for directory in (state, lexical_state):
            hooks_log = directory / "logs" / "hooks.log"
            if hooks_log.exists():
                failures = hooks_log.read_text(encoding="utf-8").count("hook failed")
                if failures:
                    rows[-1].failures += failures
                    log(f"n={n}: {failures} FAILURES (see {hooks_log})")
        return rows
    finally:
        if args.keep:
            log(f"n={n}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _phase(
    n: int,
    phase: str,
    args: argparse.Namespace,
    repo: Path,
    env: dict[str, str],
    hooks: Sequence[tuple[Row, dict[str, str]]],
    projects: dict[str, Path],
    transcript: Path,
    picked: Sequence[tuple[str, str]],
) -> list[Row]:
    """One phase's rows: every hook of `hooks` (a row and its environment) and the baselines
    once per prompt in turn (a shared machine's load hits them alike). The first round is
    untimed: it warms the page and bytecode caches."""
    py = env["MEMEM_VENV"] + "/bin/python"
    prompt_cmd = ["sh", "-c", hook_command(repo, "UserPromptSubmit")]
    start_cmd = ["sh", "-c", hook_command(repo, "SessionStart")]
    sh_row = Row(f"`sh -c true` ({phase})", None)
    py_row = Row(f"`python -S -c pass` ({phase})", None)
    for number, (prompt, project) in enumerate(picked):
        cwd = projects[project]
        timed_now = number > 0
        for row, environ in hooks:
            session = str(uuid.uuid4())
            environ = {**environ, "CLAUDE_PROJECT_DIR": str(cwd)}
            common = {"session_id": session, "transcript_path": str(transcript), "cwd": str(cwd)}
            if args.session_start:
                payload = {**common, "hook_event_name": "SessionStart", "source": "startup"}
                timed(start_cmd, env=environ, cwd=cwd, data=json.dumps(payload).encode())
            payload = {
                **common,
                "hook_event_name": "UserPromptSubmit",
                "prompt": prompt,
                "prompt_id": str(uuid.uuid4()),
                "permission_mode": "default",
            }
            ms, cpu, out = timed(
                prompt_cmd, env=environ, cwd=cwd, data=json.dumps(payload).encode()
            )
            if timed_now:
                row.add(ms, cpu)
                if out:
                    context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
                    row.injected += context.startswith(OPEN)
        for row, argv in ((sh_row, ["sh", "-c", "true"]), (py_row, [py, "-S", "-c", "pass"])):
            ms, cpu, _ = timed(argv, env=env, cwd=cwd)
            if timed_now:
                row.add(ms, cpu)
    for row, _ in hooks:
        log(
            f"n={n} {row.label}: median {statistics.median(row.times):.1f} ms, "
            f"p95 {percentile(row.times, 95):.1f} ms, injected {row.injected}/{len(row.times)}"
        )
    return [row for row, _ in hooks] + [sh_row, py_row]


# What a hook process imports: with a live engine, only the client; without, the recall too.
ENGINE_PATH: Final = "import memem.hook, memem.settings, memem.engine.client"
FALLBACK_PATH: Final = "import memem.hook, memem.service.recall"


def import_times(
    venv: Path, repo: Path, work: Path, code: str
) -> list[tuple[str, float, float, bool]]:
    """(module, self ms, cumulative ms, imported at top level) of `python -S -c code`, median
    over IMPORT_RUNS runs, slowest first."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    env["PYTHONPATH"] = str(repo)
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
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="idle: a live engine, every vector made; busy: the engine reconciling the vault "
        "non-stop; embedding: the engine making every vector while the prompts run",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="after the idle phase, measure the engines' RSS and CPU over this long (0: skip)",
    )
    parser.add_argument(
        "--fill-random",
        action="store_true",
        help="give the memories without a cached vector random unit vectors (a full matrix "
        "without embedding the vault first; speed only)",
    )
    parser.add_argument(
        "--embed-seconds",
        type=float,
        default=0.0,
        help="first embed the vault's cached vectors for up to this long (kept for later runs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs")
    args = parser.parse_args(argv)
    args.phases = [p for p in args.phases.split(",") if p]
    if not set(args.phases) <= set(PHASES):
        parser.error(f"--phases: choose from {', '.join(PHASES)}")
    repo, venv = args.repo.resolve(), args.venv.resolve()
    if not (repo / "bootstrap.sh").exists() or not (venv / "bin" / "python").exists():
        parser.error(f"need {repo}/bootstrap.sh and {venv}/bin/python (see --repo, --venv)")
    wall = time.perf_counter()
    digest = source_digest()
    log(f"hook of {repo} with {venv}/bin/python; memem sources {digest}")
    load_before = os.getloadavg()
    queries = routed_queries(args.seed)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        log("baselines ...")
        rows += baselines(venv, repo, args.runs, Path(tmp))
        for n in parse_sizes(args.sizes):
            rows += hook_size(n, args, repo, venv, queries, notes)
        imports = {
            code: import_times(venv, repo, Path(tmp), code) for code in (ENGINE_PATH, FALLBACK_PATH)
        }

    print("## Hook latency (UserPromptSubmit, whole process)\n")
    print("| command | memories | runs | median ms | p95 ms | CPU ms (median) | injected a slice |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.cells())
    print()
    for prefix, n, median_target, p95_target in TARGETS_MS:
        hook = next((r for r in rows if r.n == n and r.label == prefix and r.times), None)
        if hook is None:
            continue
        median, p95 = statistics.median(hook.times), percentile(hook.times, 95)
        met = median <= median_target and (p95_target is None or p95 <= p95_target)
        wanted = f"median <= {median_target:.0f} ms" + (
            f", p95 <= {p95_target:.0f} ms" if p95_target else ""
        )
        print(
            f"- {prefix} at {n:,}: {wanted}: {'met' if met else 'NOT met'} "
            f"({median:.1f} / {p95:.1f} ms)"
        )
    for note in notes:
        print(note)
    failures = sum(r.failures for r in rows)
    if failures:
        print(f"- WARNING: {failures} hook runs failed (logged in <state>/logs/hooks.log)")
    for code, table in imports.items():
        print(f"\n## Import time (`python -S -X importtime -c '{code}'`)\n")
        print(f"Median of {IMPORT_RUNS} runs; top 12 modules by cumulative time.\n")
        print("| module | self ms | cumulative ms |")
        print("|---|---|---|")
        for name, own, cum, _ in table[:12]:
            print(f"| `{name}` | {own:.2f} | {cum:.2f} |")
        total = sum(cum for _, _, cum, top in table if top)
        memem = sum(cum for name, _, cum, top in table if top and name.startswith("memem"))
        print(
            f"\nTop-level imports together: {total:.1f} ms, of which `memem` and what it pulls "
            f"in {memem:.1f} ms (the rest is the interpreter's own start-up modules)."
        )
    print()
    load_after = os.getloadavg()
    print(
        f"- session start before each prompt: {'yes' if args.session_start else 'no'}; "
        f"memem sources {digest} ({repo}); {os.cpu_count()} CPUs; load average "
        f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end; "
        f"wall time {time.perf_counter() - wall:.0f} s; {time.ctime()}"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
