"""The CPU-bound parts of a rebuild (reading and vetting every file, proposing every memory's
edges) fanned out over forked worker processes, one per core, or run in-process when forking
would cost more than it saves or is not safe."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final, TypeVar

S = TypeVar("S")
C = TypeVar("C")
R = TypeVar("R")

MAX_WORKERS: Final = 4

# What the forked workers share with the process that forked them: set before the fork, so
# each worker inherits it instead of receiving a pickled copy with every chunk.
_shared: tuple[Callable[[Any, Any], Any], Any] | None = None


def count(items: int, least: int) -> int:
    """How many worker processes to fork for `items` pieces of work: 0 (work in-process) below
    `least` of them, on a single core, or in a process running threads (forking is safe only
    from a single-threaded process, so a threaded server works in-process; spawning would
    re-run the caller's __main__, a trap for scripts using the Python API)."""
    cores = min(os.cpu_count() or 1, MAX_WORKERS)
    if items < least or cores < 2 or threading.active_count() > 1:
        return 0
    return cores


def fan_out(work: Callable[[S, C], R], shared: S, chunks: Sequence[C], workers: int) -> Iterator[R]:
    """`work(shared, chunk)` for each of `chunks`, yielded in order as they are done: in
    `workers` forked processes, or in this one when `workers` is 0. `work` must be a module's
    function (the workers are sent its name); `shared` is inherited, never pickled."""
    global _shared
    if not workers or len(chunks) < 2:
        for chunk in chunks:
            yield work(shared, chunk)
        return
    _shared = (work, shared)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield from pool.map(_run, chunks)
    finally:
        _shared = None


def _run(chunk: Any) -> Any:
    assert _shared is not None, "runs only in a worker forked by fan_out"
    work, shared = _shared
    return work(shared, chunk)
