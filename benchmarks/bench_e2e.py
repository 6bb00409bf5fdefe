"""What memem adds to a real Claude Code turn: the CLI with memem installed versus without,
side by side in one run, against the same fake Messages API, at 10k memories.

    PYTHONPATH=. python -m benchmarks.bench_e2e [--size 10k] [--runs 15] [--sessions 3]
                                                [--turns 8] [--connect-runs 5]

Both worlds use the pinned CLI of the end-to-end suite (installed from npm into
MEMEM_E2E_CACHE once, see tests/e2e/conftest.py), the hermetic environment of
claude-code.md section 3 and one fake API (tests/fake_anthropic.py, immediate "OK" replies).
"with memem" is a HOME where memem is installed from its marketplace (REPO = MEMEM_E2E_REPO
or this checkout) over the synthetic vault of `--size` memories with its index
(`stores.synth_index`: `synth.write_vault` + `Store.rebuild_index`, cached), in two worlds:
"(engine)", where the hooks start memem's engine as for a user (it is stopped at the end,
`engines.stop_all`), and "(MEMEM_ENGINE=off)", where each hook works in-process; "without"
is a HOME with no plugin. The project directory is a git checkout named after the project the
prompt was drawn for, and the prompt is one that memem answers with a slice.

Measured, interleaved (the three worlds in turn, the order rotating each round):

1. cold: `claude -p PROMPT --output-format json` as a whole process, `--runs` times each:
   what a one-shot prompt costs, MCP connect included (-p waits about 2 s at most for MCP
   servers, and memem connects within that).
2. warm: `--sessions` persistent sessions each (`--input-format stream-json`), `--turns`
   prompts per session; a turn is the time from writing the prompt to the `result` event.
   The first turn of a session (start-up, hooks of SessionStart, MCP connect) is reported
   apart; the later turns are the per-prompt cost beyond the one-time MCP connect.
3. MCP connect: `--connect-runs` runs per memem world with `--debug-file`; the CLI's own figure ('MCP server
   "plugin:memem:memem": Successfully connected (transport: stdio) in N ms': spawn of
   `sh bootstrap.sh mcp` to the end of the handshake, tool list included), and the
   durations the CLI logged for memem's SessionStart and UserPromptSubmit hooks.

Prints markdown tables on stdout, progress on stderr. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks import engines, stores
from benchmarks.bench_hook import routed_queries
from benchmarks.bench_store import link_tree, log, parse_sizes, percentile, source_digest
from memem.service.store import Store
from tests.e2e.conftest import (
    CLI_VERSION,
    PLUGIN,
    REPO,
    bootstrap_venv,
    hermetic_env,
    install_cli,
)
from tests.fake_anthropic import FakeAnthropic

TARGET_MS: Final = 150.0
WITH_ENGINE: Final = "with memem (engine)"
WITH_OFF: Final = "with memem (MEMEM_ENGINE=off)"
WITHOUT: Final = "without"
REPLY: Final = "OK"
CONNECTED: Final = re.compile(
    r'MCP server "plugin:memem:memem": Successfully connected \(transport: stdio\) in (\d+)ms'
)
HOOK_DONE: Final = re.compile(
    r"Hooks: (SessionStart:\w+|UserPromptSubmit) \[[^\]]*bootstrap\.sh[^\]]*\] "
    r"\(plugin memem@memem\) finished with status (\d+) \((\d+)ms\)"
)


@dataclass
class World:
    """One HOME (memem installed or not) and the environment to run the CLI in it."""

    name: str
    env: dict[str, str]
    cold_ms: list[float] = field(default_factory=list)
    first_turn_ms: list[float] = field(default_factory=list)
    turn_ms: list[float] = field(default_factory=list)
    slices: int = 0
    connect: list[float] = field(default_factory=list)
    hooks: dict[str, list[float]] = field(default_factory=dict)


def stats(values: Sequence[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 95)


def fmt(values: Sequence[float]) -> str:
    if not values:
        return "-"
    median, p95 = stats(values)
    return f"{median:,.0f} / {p95:,.0f}"


def pick_prompt(state: Path, vault: Path, home: Path) -> tuple[str, str]:
    """(prompt, project): the first synthetic query memem answers with a slice from its own
    project's directory."""
    with Store.open(state_dir=state, vault_dir=vault, env={"HOME": str(home)}) as store:
        for query, project in routed_queries():
            built = store.slice(query, scope=project)
            if not built.abstained and len(query) > 30:
                return query, project
    raise RuntimeError("no synthetic query gets a slice")


def run_cold(cli: Path, world: World, prompt: str, cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [str(cli), "-p", prompt, "--output-format", "json"],
        cwd=cwd,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    elapsed = (time.perf_counter() - start) * 1000
    result = json.loads(done.stdout)
    if done.returncode != 0 or result.get("result") != REPLY:
        raise RuntimeError(f"{world.name}: claude -p failed: {done.stdout}\n{done.stderr}")
    return elapsed


def run_session(cli: Path, world: World, prompts: Sequence[str], cwd: Path) -> list[float]:
    """One persistent session: each prompt's time to its `result` event, in ms."""
    proc = subprocess.Popen(
        [
            str(cli),
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
        ],
        cwd=cwd,
        env=world.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None and proc.stdout is not None
    times = []
    try:
        for prompt in prompts:
            message = {"type": "user", "message": {"role": "user", "content": prompt}}
            start = time.perf_counter()
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{world.name}: the session ended early")
                event = json.loads(line)
                if event.get("type") == "result":
                    if event.get("result") != REPLY:
                        raise RuntimeError(f"{world.name}: unexpected result {event}")
                    break
            times.append((time.perf_counter() - start) * 1000)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return times


def connect_and_hooks(
    cli: Path, world: World, prompt: str, cwd: Path, runs: int, work: Path
) -> tuple[list[float], dict[str, list[float]]]:
    """MCP connect times and memem's hook durations, as the CLI's debug log reports them."""
    connect: list[float] = []
    hooks: dict[str, list[float]] = {}
    for i in range(runs):
        debug = work / f"debug-{i}.log"
        done = subprocess.run(
            [str(cli), "-p", prompt, "--output-format", "json", "--debug-file", str(debug)],
            cwd=cwd,
            env=world.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"debug run failed: {done.stdout}\n{done.stderr}")
        text = debug.read_text(encoding="utf-8", errors="replace")
        connect += [float(m) for m in CONNECTED.findall(text)]
        for event, status, ms in HOOK_DONE.findall(text):
            if status == "0":
                hooks.setdefault(event, []).append(float(ms))
    return connect, hooks


@contextlib.contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def cli_setup(cli: Path, env: dict[str, str], cwd: Path, *args: str) -> None:
    done = subprocess.run(
        [str(cli), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"claude {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10k", help="memories in the vault (default 10k)")
    parser.add_argument("--runs", type=int, default=15, help="cold -p runs per world")
    parser.add_argument("--sessions", type=int, default=3, help="persistent sessions per world")
    parser.add_argument("--turns", type=int, default=8, help="prompts per session")
    parser.add_argument("--connect-runs", type=int, default=5, help="--debug-file runs")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir")
    args = parser.parse_args(argv)
    (n,) = parse_sizes(args.size)

    cli = install_cli()
    state_src, vault_src, meta = stores.synth_index(n)
    with scratch(args.keep) as root, FakeAnthropic(default=REPLY) as api:
        log(f"scratch {root}; memem sources {source_digest()}; plugin {REPO}")
        state = stores.scratch_copy(state_src, root / "state")
        link_tree(vault_src, root / "vault")
        prompt, project = pick_prompt(state, root / "vault", root)
        cwd = root / project
        cwd.mkdir()
        subprocess.run(["git", "init", "-q", str(cwd)], check=True)
        venv = bootstrap_venv(root)
        worlds = []
        for name in (WITH_ENGINE, WITH_OFF, WITHOUT):
            home = root / ("home-without" if name == WITHOUT else "home-with")
            env = hermetic_env(
                os.environ,
                home=home,
                api_url=api.url,
                state=state,
                vault=root / "vault",
                venv=venv,
                cli=cli,
            )
            if name == WITH_ENGINE:
                del env["MEMEM_ENGINE"]  # the hooks start the engine, as for a user
            if not home.exists():
                home.mkdir()
                if name != WITHOUT:
                    cli_setup(cli, env, root, "plugin", "marketplace", "add", str(REPO))
                    cli_setup(cli, env, root, "plugin", "install", PLUGIN)
            worlds.append(World(name, env))
        try:
            measure(cli, worlds, prompt, project, cwd, root, args, api)
        finally:
            engines.stop_all(state)  # the engine the hooks started
    report(worlds, args, n, prompt, project, meta)
    return 0


def measure(
    cli: Path,
    worlds: Sequence[World],
    prompt: str,
    project: str,
    cwd: Path,
    root: Path,
    args: argparse.Namespace,
    api: FakeAnthropic,
) -> None:
    """Fill each world's figures, the worlds interleaved (the order rotating each round)."""
    log("warm-up: one untimed run each (with the engine: the hooks start it)")
    for world in worlds:
        run_cold(cli, world, prompt, cwd)
    state = Path(worlds[0].env["MEMEM_DIR"])
    if not engines.wait_started(state):
        log(f"WARNING: no engine runs for {state}; the engine world works in-process")

    log(f"cold: {args.runs} `claude -p` runs per world, interleaved")
    for i in range(args.runs):
        for world in rotated(worlds, i):
            before = len(api.message_requests)
            world.cold_ms.append(run_cold(cli, world, prompt, cwd))
            sent = api.message_requests[before:]
            world.slices += sum("<memem-memory>" in json.dumps(r.body) for r in sent)

    log(f"warm: {args.sessions} sessions x {args.turns} prompts per world, interleaved")
    same_project = [q for q, p in routed_queries() if p == project and q != prompt]
    prompts = [prompt, *same_project[: args.turns - 1]]
    for i in range(args.sessions):
        for world in rotated(worlds, i):
            times = run_session(cli, world, prompts, cwd)
            world.first_turn_ms.append(times[0])
            world.turn_ms += times[1:]

    log(f"MCP connect and hook durations: {args.connect_runs} runs with --debug-file")
    for world in worlds[:2]:
        debug_dir = root / f"debug-{worlds.index(world)}"
        debug_dir.mkdir()
        world.connect, world.hooks = connect_and_hooks(
            cli, world, prompt, cwd, args.connect_runs, debug_dir
        )


def rotated(worlds: Sequence[World], i: int) -> list[World]:
    k = i % len(worlds)
    return [*worlds[k:], *worlds[:k]]


def report(
    worlds: Sequence[World],
    args: argparse.Namespace,
    n: int,
    prompt: str,
    project: str,
    meta: dict[str, Any],
) -> None:
    print(f"## memem end to end: Claude Code {CLI_VERSION}, {n:,} memories\n")
    print(
        f"Prompt ({project}): {prompt!r}; memem sources {source_digest()}; "
        f"index {meta.get('rows', '?')} rows; load average {os.getloadavg()[0]:.2f}.\n"
    )
    without = worlds[-1]
    print(
        "| what (ms, median / p95; added: median vs without) | "
        + " | ".join(w.name for w in worlds)
        + " |"
    )
    print("|---" * (len(worlds) + 1) + "|")
    for label, attr in (
        (f"cold `claude -p`, whole process ({args.runs} runs each)", "cold_ms"),
        (f"first turn of a session ({args.sessions} sessions each)", "first_turn_ms"),
        ("later turns, per prompt", "turn_ms"),
    ):
        base = statistics.median(getattr(without, attr))
        cells = []
        for world in worlds:
            values = getattr(world, attr)
            added = "" if world is without else f" ({statistics.median(values) - base:+,.0f})"
            cells.append(fmt(values) + added)
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print("| memem, from the CLI's debug log (ms) | world | median | p95 | n |")
    print("|---|---|---|---|---|")
    for world in worlds[:2]:
        if world.connect:
            median, p95 = stats(world.connect)
            print(
                f"| MCP connect (CLI: spawn to connected) | {world.name} | {median:,.0f} "
                f"| {p95:,.0f} | {len(world.connect)} |"
            )
        for event in sorted(world.hooks):
            median, p95 = stats(world.hooks[event])
            print(
                f"| {event} hook | {world.name} | {median:,.0f} | {p95:,.0f} "
                f"| {len(world.hooks[event])} |"
            )
    print()
    for world in worlds[:2]:
        turn_diff = statistics.median(world.turn_ms) - statistics.median(without.turn_ms)
        verdict = "met" if turn_diff <= TARGET_MS else "NOT met"
        print(
            f"- {world.name}: at most {TARGET_MS:.0f} ms per prompt beyond the one-time MCP "
            f"connect: {turn_diff:+,.0f} ms median per later turn ({verdict}); cold runs "
            f"carried memem's slice in {world.slices} of {args.runs} requests."
        )


if __name__ == "__main__":
    sys.exit(main())
