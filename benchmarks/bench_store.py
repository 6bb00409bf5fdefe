"""Store benchmark: rebuild, reconcile, search, save and CLI search over synthetic vaults.

    PYTHONPATH=. python -m benchmarks.bench_store [--sizes 1000,10000,100000] [--queries N]
                                                  [--saves N] [--cli-runs N] [--isolate]

For each size: generate (or reuse) a vault, hard-link it into a scratch dir under /tmp, open a
fresh index, and time `rebuild_index`, `reconcile` (nothing changed), `search` (warm),
`memem search --json` as a whole process, answered by a live engine and with
MEMEM_ENGINE=off (against `python -c pass` and `python -S -c pass`, interleaved) and `add`. Prints one markdown table on stdout and progress on stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import memem
from benchmarks import engines, synth
from memem.core.memory import Memory
from memem.errors import SecurityError
from memem.service.store import Store

CACHE_ROOT: Final = Path(tempfile.gettempdir()) / "bench-memem-cache"
REPO: Final = Path(memem.__file__).resolve().parent.parent
SAVES_CACHED: Final = 500
META: Final = "bench-meta.json"


@dataclass
class Result:
    """One size's figures: the table row plus details printed under it."""

    n: int
    gen_s: float = 0.0
    gen_cached: bool = False
    rebuild_s: float = 0.0
    search_p50_ms: float = 0.0
    search_p95_ms: float = 0.0
    save_p50_ms: float = 0.0
    save_p95_ms: float = 0.0
    reconcile_ms: float = 0.0
    cli_p50_ms: float = 0.0
    cli_engine_p50_ms: float = 0.0
    py_start_ms: float = 0.0
    py_start_s_ms: float = 0.0
    index_mb: float = 0.0
    peak_rss_mb: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def source_digest() -> str:
    """A short hash of the memem sources measured (every module, recursively): the code
    changes under a benchmark."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "memem").rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def heartbeat(label: str, every: float = 15.0) -> Iterator[None]:
    """Log `label ... N s` every `every` seconds until the block ends: long steps show life."""
    done = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not done.wait(every):
            log(f"{label} ... {time.perf_counter() - start:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def progress_log(label: str, every: float = 15.0) -> Callable[[str, int, int], None]:
    """A rebuild's progress, logged at most every `every` seconds. A callback, not a thread
    like `heartbeat`: a rebuild forks its workers only from a single-threaded process."""
    last = time.perf_counter()

    def report(phase: str, done: int, total: int) -> None:
        nonlocal last
        if time.perf_counter() - last >= every:
            last = time.perf_counter()
            log(f"{label} ... {phase} {done:,}/{total:,}")

    return report


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1024 * 1024) if sys.platform == "darwin" else usage / 1024


def tree_bytes(root: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in root.glob(pattern) if p.is_file())


# -- the vault cache ---------------------------------------------------------------------------


def cached_vault(n: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The vault of `n` memories for `seed`, generated once and kept under CACHE_ROOT (with the
    next SAVES_CACHED memories of the stream, used as new memories to save)."""
    root = CACHE_ROOT / f"vault-n{n}-s{seed}-g{synth.GENERATOR_VERSION}"
    meta_path = root / META
    if meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["cached"] = True
        return root / "vault", meta
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log(f"n={n}: generating vault in {root}")
    start = time.perf_counter()
    written = synth.write_vault(
        root / "vault", n, seed, progress=lambda k: log(f"n={n}: {k:,} files written")
    )
    gen_s = time.perf_counter() - start
    log(f"n={n}: generated {n:,} files ({written / 1e6:.1f} MB) in {gen_s:.1f} s")
    start = time.perf_counter()
    upcoming = [m.to_dict() for m in synth.following(n, SAVES_CACHED, seed)]
    (root / "saves.json").write_text(json.dumps(upcoming), encoding="utf-8")
    log(f"n={n}: drew {SAVES_CACHED} more memories to save in {time.perf_counter() - start:.1f} s")
    meta = {"n": n, "seed": seed, "gen_s": gen_s, "bytes": written}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    meta["cached"] = False
    return root / "vault", meta


def link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of `source` into `target`. memem replaces files atomically (a new
    inode), so writes in the copy never reach the cached vault."""
    for directory, _, names in os.walk(source):
        rel = Path(directory).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in names:
            try:
                os.link(Path(directory) / name, target / rel / name)
            except OSError:
                shutil.copy2(Path(directory) / name, target / rel / name)


# -- timing helpers ----------------------------------------------------------------------------


def time_ms(call: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6


# -- one size ----------------------------------------------------------------------------------


def run_size(n: int, args: argparse.Namespace) -> Result:
    result = Result(n)
    vault_src, meta = cached_vault(n, args.seed)
    result.gen_s, result.gen_cached = float(meta["gen_s"]), bool(meta["cached"])
    if meta["cached"]:
        log(f"n={n}: reusing cached vault (generated in {result.gen_s:.1f} s)")
    work = Path(tempfile.mkdtemp(prefix=f"bench-memem-n{n}-", dir=tempfile.gettempdir()))
    vault, state, home = work / "vault", work / "state", work / "home"
    home.mkdir()
    try:
        start = time.perf_counter()
        link_tree(vault_src, vault)
        result.details["link_s"] = round(time.perf_counter() - start, 2)
        store = Store.open(state_dir=state, vault_dir=vault, env={"HOME": str(home)})
        try:
            measure_store(store, n, args, result, vault_src.parent / "saves.json", state)
        finally:
            store.close()
        result.peak_rss_mb = peak_rss_mb()
    finally:
        if args.keep:
            log(f"n={n}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def measure_store(
    store: Store, n: int, args: argparse.Namespace, result: Result, saves_file: Path, state: Path
) -> None:
    d = result.details
    log(f"n={n}: rebuild_index ...")
    start = time.perf_counter()
    report = store.rebuild_index(progress_log(f"n={n}: rebuilding"))
    result.rebuild_s = time.perf_counter() - start
    stats = store.graph_stats()
    d["indexed"], d["broken"], d["edges"] = report.added, report.broken, stats["edges"]
    log(
        f"n={n}: rebuilt in {result.rebuild_s:.1f} s "
        f"({report.added:,} rows, {stats['edges']:,} edges)"
    )

    reconciles = [time_ms(store.reconcile) for _ in range(5)]
    result.reconcile_ms = statistics.median(reconciles)
    changed = store.reconcile()
    d["reconcile_unchanged"] = changed.unchanged
    log(f"n={n}: reconcile (nothing changed) {result.reconcile_ms:.1f} ms")

    db = state / store.settings.index_path.name
    result.index_mb = tree_bytes(state, db.name + "*") / 1e6
    d["db_mb"] = round(db.stat().st_size / 1e6, 1)
    wal = db.with_name(db.name + "-wal")
    d["wal_mb"] = round(wal.stat().st_size / 1e6, 1) if wal.exists() else 0.0

    queries = synth.queries(args.seed)[: args.queries]
    for q in queries:  # warm: page cache, statement cache, the scratch tokenizer table
        store.search(q)
    times, hits = [], []
    for q in queries:
        start = time.perf_counter_ns()
        found = store.search(q)
        times.append((time.perf_counter_ns() - start) / 1e6)
        hits.append(len(found))
    result.search_p50_ms, result.search_p95_ms = percentile(times, 50), percentile(times, 95)
    d["search_max_ms"] = round(max(times), 1)
    d["queries_answered"] = f"{sum(1 for h in hits if h)}/{len(hits)}"
    d["mean_hits"] = round(statistics.mean(hits), 1)
    log(f"n={n}: search p50 {result.search_p50_ms:.2f} ms, p95 {result.search_p95_ms:.2f} ms")

    if args.cli_runs:
        measure_cli(store, n, args, result, queries, state)

    upcoming = [memory_from(m) for m in json.loads(saves_file.read_text(encoding="utf-8"))]
    if args.saves > len(upcoming):
        log(f"n={n}: only {len(upcoming)} cached memories to save")
    save_times, outcomes = [], Counter[str]()
    for m in upcoming[: args.saves]:
        start = time.perf_counter_ns()
        try:
            saved = store.add(
                m.content, title=m.title, project=m.project, tags=m.tags, importance=m.importance
            )
            outcome = "superseding" if saved.superseded else saved.outcome
        except SecurityError:
            outcome = "refused"
        save_times.append((time.perf_counter_ns() - start) / 1e6)
        outcomes[outcome] += 1
    if save_times:
        result.save_p50_ms = percentile(save_times, 50)
        result.save_p95_ms = percentile(save_times, 95)
        d["save_max_ms"] = round(max(save_times), 1)
        d["save_outcomes"] = dict(outcomes)
        log(f"n={n}: save p50 {result.save_p50_ms:.1f} ms, p95 {result.save_p95_ms:.1f} ms")


def measure_cli(
    store: Store,
    n: int,
    args: argparse.Namespace,
    result: Result,
    queries: Sequence[str],
    state: Path,
) -> None:
    """`memem search` as a whole process: answered by a live engine (started for this vault,
    stopped at the end) and in-process with MEMEM_ENGINE=off (reconcile, then search),
    interleaved with the interpreter's start-up."""
    d = result.details
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state.parent / "home"),
        "MEMEM_DIR": str(state),
        "MEMEM_OBSIDIAN_VAULT": str(store.settings.vault_dir),
        "PYTHONPATH": str(REPO),
    }
    off = {**env, "MEMEM_ENGINE": "off"}
    py = sys.executable
    engine_times: list[float] = []
    off_times: list[float] = []
    start_times: list[float] = []
    start_s_times: list[float] = []
    import_times: list[float] = []
    # None: the search itself
    named: list[tuple[list[float], list[str] | None, dict[str, str]]] = [
        (engine_times, None, env),
        (off_times, None, off),
        (start_times, [py, "-c", "pass"], env),
        (start_s_times, [py, "-S", "-c", "pass"], env),
        (import_times, [py, "-c", "import memem.cli, memem.service.store"], env),
    ]
    with engines.running(env, py, REPO) as engine:
        for number, q in enumerate(queries[: args.cli_runs + 1]):
            for times, argv, environ in named:
                argv = argv or [py, "-m", "memem", "search", q, "--json"]
                start = time.perf_counter_ns()
                subprocess.run(argv, env=environ, capture_output=True, check=True)
                if number:  # the first round warms the caches
                    times.append((time.perf_counter_ns() - start) / 1e6)
        served = engine.status()
    result.cli_engine_p50_ms = statistics.median(engine_times)
    result.cli_p50_ms = statistics.median(off_times)
    result.py_start_ms = statistics.median(start_times)
    result.py_start_s_ms = statistics.median(start_s_times)
    d["cli_engine_p95_ms"] = round(percentile(engine_times, 95), 1)
    d["cli_off_p95_ms"] = round(percentile(off_times, 95), 1)
    d["import_cli_store_ms"] = round(statistics.median(import_times), 1)
    d["engine_cli_ms"] = served.get("request_ms", {}).get("cli")
    log(
        f"n={n}: CLI search p50 {result.cli_engine_p50_ms:.0f} ms with the engine, "
        f"{result.cli_p50_ms:.0f} ms without (python -c pass {result.py_start_ms:.0f} ms)"
    )


def memory_from(data: dict[str, Any]) -> Memory:
    return Memory(
        id=data["id"],
        title=data["title"],
        content=data["content"],
        created=data["created"],
        updated=data["updated"],
        project=data["project"],
        tags=tuple(data["tags"]),
        importance=data["importance"],
    )


# -- output ------------------------------------------------------------------------------------

HEADER: Final = (
    "| n | gen s | rebuild s | search p50/p95 ms | save p50/p95 ms | reconcile ms "
    "| CLI search p50 ms: engine / off | python start ms | index MB | peak RSS MB |"
)


def table(results: Sequence[Result]) -> str:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in results:
        gen = f"{r.gen_s:.1f}" + (" (cached)" if r.gen_cached else "")
        start = f"{r.py_start_ms:.0f} (-S {r.py_start_s_ms:.0f})" if r.py_start_ms else "-"
        cli = f"{r.cli_engine_p50_ms:.0f} / {r.cli_p50_ms:.0f}" if r.cli_p50_ms else "-"
        lines.append(
            f"| {r.n:,} | {gen} | {r.rebuild_s:.2f} | {r.search_p50_ms:.2f} / "
            f"{r.search_p95_ms:.2f} | {r.save_p50_ms:.1f} / {r.save_p95_ms:.1f} "
            f"| {r.reconcile_ms:.1f} | {cli} | {start} | {r.index_mb:.1f} | {r.peak_rss_mb:.0f} |"
        )
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        factor = 1000 if part.endswith("k") else 1
        sizes.append(int(float(part.removesuffix("k")) * factor))
    return sizes


def isolated(n: int, args: argparse.Namespace) -> Result:
    """Run one size in a fresh interpreter, so its peak RSS is its own."""
    argv = [
        sys.executable,
        "-m",
        "benchmarks.bench_store",
        "--sizes",
        str(n),
        "--row-json",
        "--queries",
        str(args.queries),
        "--saves",
        str(args.saves),
        "--cli-runs",
        str(args.cli_runs),
        "--seed",
        str(args.seed),
    ]
    if args.keep:
        argv.append("--keep")
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True, text=True).stdout
    return Result(**json.loads(out.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated vault sizes")
    parser.add_argument("--queries", type=int, default=synth.QUERY_COUNT, help="queries to time")
    parser.add_argument("--saves", type=int, default=100, help="memories to save per size")
    parser.add_argument("--cli-runs", type=int, default=20, help="CLI processes per size (0: skip)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs")
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="one interpreter per size: peak RSS per size, not cumulative",
    )
    parser.add_argument("--row-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    digest = source_digest()
    log(f"memem from {REPO / 'memem'} (sources {digest}), python {sys.version.split()[0]}")
    results = []
    for n in parse_sizes(args.sizes):
        result = isolated(n, args) if args.isolate else run_size(n, args)
        if args.row_json:
            print(json.dumps(asdict(result)))
            return 0
        results.append(result)
    total = time.perf_counter() - wall
    print(table(results))
    print()
    rss = "per size (--isolate)" if args.isolate else "cumulative over the run (ru_maxrss)"
    print(f"peak RSS is {rss}; wall time of the whole run: {total:.0f} s")
    print(f"memem sources {digest} ({REPO / 'memem'}), {os.cpu_count()} CPUs, {time.ctime()}")
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    for r in results:
        print(f"- n={r.n:,}: " + ", ".join(f"{k} {v}" for k, v in r.details.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
