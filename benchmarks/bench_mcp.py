"""MCP server benchmark: start-up and tool round trips through the real client over stdio.

    PYTHONPATH=. python -m benchmarks.bench_mcp [--sizes 1000,10000] [--runs N]
                                                [--queries N] [--saves N] [--seed S]
                                                [--base CHECKOUT] [--startup-only]

What Claude Code waits for, measured the way it sees it (over a pipe to `python -m memem mcp`):

- Claude Code's connect: spawn -> `tools/list` answer for the exact sequence Claude Code
  2.1.329 sends at connect (server/discover, subscriptions/listen, server/discover again, then
  prompts/list, resources/list and tools/list; claude-code.md section 7), raw JSON-RPC lines,
  a fresh server each run; with `--base CHECKOUT` the same for another memem checkout (say
  the version before a change), interleaved run by run;
- through `mcp.ClientSession`: spawn -> `initialize` answer and spawn -> `tools/list` answer,
  with memem's early answers (the default) and with the SDK answering everything
  (`MEMEM_MCP_EARLY_INIT=0`), next to `python -c pass` and
  `python -c "import mcp.server.mcpserver"` in the same run;
- `memory_search` round trip per vault size, warm (each query run once untimed first), next
  to the same queries through `Store.search` in this process;
- `memory_save` round trip per vault size, for new memories of the same synthetic stream.

Vaults come from `benchmarks.synth` and are indexed with `Store.rebuild_index()` in a scratch
dir under the system temp dir (removed unless --keep). Prints a markdown table with the
targets on stdout, progress on stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from benchmarks import synth
from benchmarks.bench_store import REPO, log, parse_sizes, percentile, source_digest
from memem.core.memory import Memory
from memem.service.store import Store

TIMEOUT: Final = 120.0
TARGETS: Final = {
    "connect": 300.0,  # spawn -> tools/list answer, median, Claude Code's connect sequence
    "initialize": 700.0,  # spawn -> initialize answer, median, default (early) answer
    "search@10000": 15.0,  # memory_search round trip, median, 10k memories
    "save@10000": 25.0,  # memory_save round trip, median, 10k memories
}


@dataclass
class Row:
    """One line of the table: a measurement's samples (ms) and its target, if any."""

    what: str
    n: int | None
    samples: list[float]
    target: str = ""
    target_ms: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    def verdict(self) -> str:
        if self.target_ms is None:
            return ""
        return "met" if self.median <= self.target_ms else "**missed**"


@dataclass
class Scratch:
    """One vault size: vault, state and home dirs, and the server's environment."""

    root: Path
    n: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def vault(self) -> Path:
        return self.root / "vault"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def home_env(self) -> dict[str, str]:
        return {"HOME": str(self.root / "home")}


def make_scratch(n: int, seed: int) -> Scratch:
    root = Path(tempfile.mkdtemp(prefix=f"bench-mcp-n{n}-", dir=tempfile.gettempdir()))
    scratch = Scratch(root, n)
    (root / "home").mkdir()
    start = time.perf_counter()
    written = synth.write_vault(scratch.vault, n, seed)
    log(f"n={n}: wrote {n:,} files ({written / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    with Store.open(
        state_dir=scratch.state, vault_dir=scratch.vault, env=scratch.home_env
    ) as store:
        report = store.rebuild_index()
    log(f"n={n}: indexed {report.added:,} in {time.perf_counter() - start:.1f} s")
    scratch.env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "MEMEM_DIR": str(scratch.state),
        "MEMEM_OBSIDIAN_VAULT": str(scratch.vault),
        "PYTHONPATH": str(REPO),
    }
    return scratch


# -- through the client ------------------------------------------------------------------------


async def with_session(
    env: dict[str, str], errlog: Path, body: Callable[[ClientSession, float], Awaitable[Any]]
) -> Any:
    """Spawn the server, connect, and run `body(session, spawned_at)` (perf_counter seconds);
    `body` calls `initialize` itself so it can time it."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "memem", "mcp"], env=env, cwd=env["HOME"]
    )
    with errlog.open("a", encoding="utf-8") as err:
        spawned = time.perf_counter()
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session,
        ):
            return await body(session, spawned)


async def startup_once(
    env: dict[str, str], errlog: Path, *, discover: bool = False
) -> tuple[float, float]:
    """(spawn -> handshake answer, spawn -> tools/list answer) in ms, for one fresh server.
    The handshake is `initialize`, or with `discover` the 2026-07-28 `server/discover` that
    Claude Code 2.1.329 sends first (docs/claude-code.md section 7)."""

    async def body(session: ClientSession, spawned: float) -> tuple[float, float]:
        await (session.discover() if discover else session.initialize())
        answered = time.perf_counter()
        tools = await session.list_tools()
        listed = time.perf_counter()
        assert len(tools.tools) >= 11, [t.name for t in tools.tools]
        return (answered - spawned) * 1e3, (listed - spawned) * 1e3

    result: tuple[float, float] = await asyncio.wait_for(with_session(env, errlog, body), TIMEOUT)
    return result


_META: Final = "io.modelcontextprotocol/"
# Claude Code 2.1.329's envelope on every request at connect, as it wrote it to memem's stdin.
ENVELOPE: Final = {
    f"{_META}protocolVersion": "2026-07-28",
    f"{_META}clientInfo": {
        "name": "claude-code",
        "title": "Claude Code",
        "version": "2.1.329",
        "description": "Anthropic's agentic coding tool",
        "websiteUrl": "https://claude.com/claude-code",
    },
    f"{_META}clientCapabilities": {
        "roots": {"listChanged": True},
        "elicitation": {"form": {}, "url": {}},
    },
}


def _request(method: str, request_id: int | str, **params: Any) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"_meta": ENVELOPE, **params},
    }
    return (json.dumps(message) + "\n").encode()


def connect_once(env: dict[str, str]) -> tuple[float, float]:
    """(spawn -> first server/discover answer, spawn -> tools/list answer) in ms, for one
    fresh server, each request sent when Claude Code sends it: after the answer it waits for."""
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memem", "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=env["HOME"],
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()

    def ask(*requests: bytes) -> None:
        stdin.write(b"".join(requests))
        stdin.flush()

    def until(wanted: Callable[[dict[str, Any]], bool]) -> float:
        while True:
            line = stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout during connect")
            if wanted(json.loads(line)):
                return (time.perf_counter() - spawned) * 1e3

    try:
        ask(_request("server/discover", "server-discover-probe-1"))
        discovered = until(lambda m: m.get("id") == "server-discover-probe-1")
        listen = {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
        }
        ask(_request("subscriptions/listen", "listen:0", notifications=listen))
        until(lambda m: m.get("method") == "notifications/subscriptions/acknowledged")
        ask(_request("server/discover", 0))
        until(lambda m: m.get("id") == 0)
        ask(_request("prompts/list", 1), _request("resources/list", 2), _request("tools/list", 3))
        listed = until(lambda m: m.get("id") == 3 and len(m["result"]["tools"]) >= 11)
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    return discovered, listed


def process_ms(argv: Sequence[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall time of `argv` as a whole process, `runs` times after one untimed run."""
    subprocess.run(argv, env=env, capture_output=True, check=True, timeout=TIMEOUT)
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        subprocess.run(argv, env=env, capture_output=True, check=True, timeout=TIMEOUT)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times


def measure_connect(scratch: Scratch, runs: int, base: Path | None) -> list[Row]:
    """Claude Code's connect sequence against this checkout, and `base` if given, interleaved
    (the order flipping each run) next to `python -c pass`."""
    envs = {"this": dict(scratch.env)}
    if base is not None:
        envs["base"] = dict(scratch.env, PYTHONPATH=str(base))
    py = [sys.executable, "-c", "pass"]
    for env in envs.values():
        connect_once(env)  # untimed: page cache, .pyc files
    samples: dict[str, list[float]] = {f"{k}{i}": [] for k in envs for i in "dl"}
    samples["pass"] = []
    for run in range(runs):
        for name in list(envs) if run % 2 == 0 else list(reversed(envs)):
            discovered, listed = connect_once(envs[name])
            samples[f"{name}d"].append(discovered)
            samples[f"{name}l"].append(listed)
        samples["pass"] += process_ms(py, scratch.env, 1)
        if (run + 1) % 5 == 0:
            log(
                f"connect {run + 1}/{runs}: "
                + ", ".join(
                    f"{k} tools/list {statistics.median(samples[k + 'l']):.0f} ms" for k in envs
                )
                + f", python -c pass {statistics.median(samples['pass']):.0f} ms (medians so far)"
            )
    rows = [
        Row(
            "Claude Code's connect: spawn -> tools/list",
            None,
            samples["thisl"],
            "median <= 300 ms",
            TARGETS["connect"],
            "this checkout",
        ),
        Row("Claude Code's connect: spawn -> server/discover", None, samples["thisd"]),
    ]
    if base is not None:
        rows += [
            Row(
                "Claude Code's connect: spawn -> tools/list",
                None,
                samples["basel"],
                note=f"base {base}",
            ),
            Row(
                "Claude Code's connect: spawn -> server/discover",
                None,
                samples["based"],
                note=f"base {base}",
            ),
        ]
    return [
        *rows,
        Row("baseline: python -c pass (interleaved with the above)", None, samples["pass"]),
    ]


def measure_startup(scratch: Scratch, runs: int) -> list[Row]:
    early_env = dict(scratch.env)
    sdk_env = dict(scratch.env, MEMEM_MCP_EARLY_INIT="0")
    errlog = scratch.root / "server-stderr.log"
    asyncio.run(startup_once(early_env, errlog))  # untimed: page cache, .pyc files
    samples: dict[str, list[float]] = {k: [] for k in ("ei", "el", "si", "sl", "di", "dl")}
    for run in range(runs):  # interleaved, so that drift in the machine's load hits all alike
        figures = (
            *asyncio.run(startup_once(early_env, errlog)),
            *asyncio.run(startup_once(sdk_env, errlog)),
            *asyncio.run(startup_once(early_env, errlog, discover=True)),
        )
        for key, value in zip(samples, figures, strict=True):
            samples[key].append(value)
        if (run + 1) % 5 == 0:
            log(
                f"start-up {run + 1}/{runs}: initialize early {statistics.median(samples['ei']):.0f}"
                f" ms, SDK {statistics.median(samples['si']):.0f} ms, server/discover "
                f"{statistics.median(samples['di']):.0f} ms (medians so far)"
            )
    py = sys.executable
    return [
        Row(
            "spawn -> initialize, early answer (default)",
            None,
            samples["ei"],
            "median <= 700 ms",
            TARGETS["initialize"],
        ),
        Row("spawn -> initialize, SDK answers all (MEMEM_MCP_EARLY_INIT=0)", None, samples["si"]),
        Row("spawn -> tools/list, early answers (default)", None, samples["el"]),
        Row("spawn -> tools/list, SDK answers all", None, samples["sl"]),
        Row(
            "spawn -> server/discover (2026-07-28 handshake, default env)",
            None,
            samples["di"],
            note="what Claude Code 2.1.329 sends first",
        ),
        Row("spawn -> tools/list after server/discover", None, samples["dl"]),
        Row("baseline: python -c pass", None, process_ms([py, "-c", "pass"], scratch.env, runs)),
        Row(
            "baseline: python -c 'import mcp.server.mcpserver' (whole process)",
            None,
            process_ms([py, "-c", "import mcp.server.mcpserver"], scratch.env, runs),
        ),
    ]


async def round_trips(
    scratch: Scratch, queries: Sequence[str], saves: Sequence[Memory]
) -> tuple[list[float], list[float], Counter[str]]:
    """memory_search (warm) and memory_save round trips in ms, through one session."""

    async def body(
        session: ClientSession, _: float
    ) -> tuple[list[float], list[float], Counter[str]]:
        await session.initialize()
        await session.list_tools()
        for q in queries:  # warm: page cache, statement cache, worker threads
            await session.call_tool("memory_search", {"query": q})
        search = []
        errors = 0
        for q in queries:
            start = time.perf_counter_ns()
            result = await session.call_tool("memory_search", {"query": q})
            search.append((time.perf_counter_ns() - start) / 1e6)
            errors += bool(result.is_error)
        if errors:
            log(f"n={scratch.n}: {errors} searches returned a tool error")
        save, outcomes = [], Counter[str]()
        for m in saves:
            arguments = {
                "content": m.content,
                "title": m.title,
                "project": m.project,
                "tags": list(m.tags),
                "importance": m.importance,
            }
            start = time.perf_counter_ns()
            result = await session.call_tool("memory_save", arguments)
            save.append((time.perf_counter_ns() - start) / 1e6)
            text = "".join(getattr(part, "text", "") for part in result.content)
            outcomes[
                "refused"
                if result.is_error
                else "duplicate"
                if text.startswith("already known")
                else "superseding"
                if "\nsuperseded " in text
                else "created"
            ] += 1
        return search, save, outcomes

    result: tuple[list[float], list[float], Counter[str]] = await asyncio.wait_for(
        with_session(scratch.env, scratch.root / "server-stderr.log", body), TIMEOUT * 10
    )
    return result


def measure_size(scratch: Scratch, args: argparse.Namespace) -> list[Row]:
    n = scratch.n
    queries = synth.queries(args.seed)[: args.queries]
    saves = synth.following(n, args.saves, args.seed)
    log(f"n={n}: {len(queries)} searches (warm) and {len(saves)} saves through the client ...")
    search, save, outcomes = asyncio.run(round_trips(scratch, queries, saves))
    with Store.open(
        state_dir=scratch.state, vault_dir=scratch.vault, env=scratch.home_env
    ) as store:
        for q in queries:
            store.search(q)
        local = []
        for q in queries:
            start = time.perf_counter_ns()
            store.search(q)
            local.append((time.perf_counter_ns() - start) / 1e6)
    log(
        f"n={n}: memory_search median {statistics.median(search):.1f} ms "
        f"(in-process {statistics.median(local):.1f} ms), memory_save median "
        f"{statistics.median(save):.1f} ms"
    )
    search_target = TARGETS.get(f"search@{n}")
    save_target = TARGETS.get(f"save@{n}")
    return [
        Row(
            "memory_search round trip (warm)",
            n,
            search,
            f"median <= {search_target:.0f} ms" if search_target else "",
            search_target,
            f"in-process Store.search median {statistics.median(local):.2f} ms, "
            f"p95 {percentile(local, 95):.2f} ms",
        ),
        Row(
            "memory_save round trip",
            n,
            save,
            f"median <= {save_target:.0f} ms" if save_target else "",
            save_target,
            ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
        ),
    ]


# -- output ------------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| what | n | median ms | p95 ms | samples | target | verdict | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = f"{r.n:,}" if r.n else "-"
        lines.append(
            f"| {r.what} | {n} | {r.median:.1f} | {r.p95:.1f} | {len(r.samples)} "
            f"| {r.target or '-'} | {r.verdict() or '-'} | {r.note or ''} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_mcp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated vault sizes")
    parser.add_argument("--runs", type=int, default=20, help="fresh servers per start-up figure")
    parser.add_argument("--queries", type=int, default=synth.QUERY_COUNT, help="searches to time")
    parser.add_argument("--saves", type=int, default=100, help="memories to save per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs")
    parser.add_argument(
        "--base", type=Path, help="another memem checkout to compare Claude Code's connect with"
    )
    parser.add_argument("--startup-only", action="store_true", help="skip the tool round trips")
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    digest = source_digest()
    log(f"memem from {REPO / 'memem'} (sources {digest}), python {sys.version.split()[0]}")
    rows: list[Row] = []
    scratches: list[Scratch] = []
    try:
        for n in parse_sizes(args.sizes):
            scratch = make_scratch(n, args.seed)
            scratches.append(scratch)
            if len(scratches) == 1:
                log(f"start-up: {args.runs} fresh servers per mode on the {n:,} vault ...")
                rows += measure_connect(scratch, args.runs, args.base)
                rows += measure_startup(scratch, args.runs)
            if not args.startup_only:
                rows += measure_size(scratch, args)
    finally:
        for scratch in scratches:
            if args.keep:
                log(f"kept {scratch.root}")
            else:
                shutil.rmtree(scratch.root, ignore_errors=True)
    print(table(rows))
    print()
    print(
        f"memem sources {digest}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
        f"{time.ctime()}; wall time {time.perf_counter() - wall:.0f} s"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
