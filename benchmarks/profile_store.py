"""cProfile of rebuild, search and save on a cached synthetic vault.

    PYTHONPATH=. python -m benchmarks.profile_store --size 10000 [--what rebuild,search,save]
                                                   [--top 25] [--saves 100] [--out DIR]

Uses the vault `bench_store` generated (or generates it), a fresh index in a scratch dir under
/tmp, and prints the top functions by cumulative and by own time for each phase. With --out,
the raw stats go to `<out>/<phase>-<size>.pstats` (for snakeviz, or `python -m pstats`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import synth
from benchmarks.bench_store import cached_vault, link_tree, log, memory_from
from memem.errors import SecurityError
from memem.service.store import Store


def profiled(name: str, call: Callable[[], object], args: argparse.Namespace) -> None:
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    call()
    profile.disable()
    wall = time.perf_counter() - start
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(Path(args.out) / f"{name}-{args.size}.pstats")
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        stats = pstats.Stats(profile, stream=buffer)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
        body = buffer.getvalue()
        body = body[body.find("   ncalls") :]
        print(f"\n## {name}, n={args.size:,}, wall {wall:.2f} s (profiled), by {order}\n")
        print(body.rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_store")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--what", default="rebuild,search,save")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--saves", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="", help="dir for raw .pstats files")
    args = parser.parse_args(argv)
    what = set(args.what.split(","))
    vault_src, _ = cached_vault(args.size, args.seed)
    work = Path(tempfile.mkdtemp(prefix=f"bench-memem-prof-n{args.size}-"))
    try:
        link_tree(vault_src, work / "vault")
        store = Store.open(
            state_dir=work / "state", vault_dir=work / "vault", env={"HOME": str(work)}
        )
        log(f"n={args.size}: rebuild_index")
        if "rebuild" in what:
            profiled("rebuild", store.rebuild_index, args)
        else:
            store.rebuild_index()
        queries = synth.queries(args.seed)
        for q in queries:
            store.search(q)
        if "search" in what:
            log(f"n={args.size}: search x{len(queries)} (warm)")
            profiled("search", lambda: [store.search(q) for q in queries], args)
        if "reconcile" in what:
            profiled("reconcile", lambda: [store.reconcile() for _ in range(5)], args)
        if "save" in what:
            saves = json.loads((vault_src.parent / "saves.json").read_text(encoding="utf-8"))
            upcoming = [memory_from(m) for m in saves[: args.saves]]

            def save_all() -> None:
                for m in upcoming:
                    with contextlib.suppress(SecurityError):  # refused content still costs
                        store.add(
                            m.content,
                            title=m.title,
                            project=m.project,
                            tags=m.tags,
                            importance=m.importance,
                        )

            log(f"n={args.size}: save x{len(upcoming)}")
            profiled("save", save_all, args)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
