"""Provenance benchmark: what a pointer costs a memory file's parse, and what `source()` costs
on a large transcript.

    PYTHONPATH=. python -m benchmarks.bench_provenance [--mib 10 100] [--runs 15]

1. Parse: `markdown.parse` of a memory file with a 4-entry pointer and a 32-entry pointer,
   against the same file without one (the baseline); `provenance.check` alone. Medians of
   20,000 parses.
2. Source: `memem.service.provenance.source` on a transcript of `--mib` MiB in the Claude Code
   format (prompts, replies and large tool results), for 4 cited entries near the start, in
   the middle and at the end; the page cache is warm (a second read of a file just written).
   Baseline: the simple way, reading the file line by line and decoding every record to find
   the uuids. Median of `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from memem.core import markdown, provenance
from memem.core.memory import Memory
from memem.core.provenance import Provenance
from memem.service.provenance import source

SESSION = "5f0c2a9e-1b2c-4d5e-8f90-123456789abc"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
FALLBACK = {"fallback_id": "f" * 32, "fallback_time": T0, "fallback_title": "note"}


def _median_us(fn: object, n: int) -> float:
    call = fn  # type: ignore[assignment]
    times = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call()  # type: ignore[operator]
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def parse_costs(n: int = 20_000) -> list[tuple[str, float]]:
    content = "Staging Postgres listens on port 5433; the old 5432 instance is still up."
    rows = []
    for name, entries in (("no provenance (baseline)", None), ("4 entries", 4), ("32 entries", 32)):
        pointer = (
            None
            if entries is None
            else Provenance(SESSION, [f"{SESSION[:28]}{i:08x}" for i in range(entries)])
        )
        m = Memory(
            "a" * 32, "Staging port", content, T0, T0, tags=("db", "staging"), provenance=pointer
        )
        text = markdown.render(m)
        rows.append(
            (f"markdown.parse, {name}", _median_us(lambda t=text: markdown.parse(t, **FALLBACK), n))
        )
    value = {"session": SESSION, "entries": [f"{SESSION[:28]}{i:08x}" for i in range(32)]}
    rows.append(("provenance.check, 32 entries", _median_us(lambda: provenance.check(value), n)))
    return rows


def record(kind: str, text: str, uuid: str) -> str:
    content: object = text if kind == "user" else [{"type": "text", "text": text}]
    return (
        json.dumps(
            {
                "parentUuid": None,
                "type": kind,
                "message": {"role": kind, "content": content},
                "uuid": uuid,
                "timestamp": "2026-12-04T08:30:00.000Z",
                "sessionId": SESSION,
                "cwd": "/code/shop",
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def write_transcript(path: Path, mib: int) -> dict[str, list[str]]:
    """A transcript of about `mib` MiB; the uuids of 4 consecutive entries at each place."""
    target = mib * 2**20
    tool = (
        json.dumps({"type": "user", "toolUseResult": {"stdout": "x" * 20_000}, "uuid": "t"}) + "\n"
    )
    places = {"start": 0.02, "middle": 0.5, "end": 0.98}
    cited: dict[str, list[str]] = {p: [] for p in places}
    written = n = 0
    with open(path, "w", encoding="utf-8") as handle:
        for place, share in places.items():
            while written < target * share:
                line = (
                    record("user", f"Prompt {n}: fix the checkout test", f"u-{n:012d}")
                    if n % 3 == 0
                    else tool
                )
                handle.write(line)
                written += len(line)
                n += 1
            for i in range(4):
                uuid = f"c-{place}-{i}"
                cited[place].append(uuid)
                kind = "user" if i % 2 == 0 else "assistant"
                line = record(kind, f"Cited {place} {i}: the queue is RabbitMQ 3.13.", uuid)
                handle.write(line)
                written += len(line)
        while written < target:
            handle.write(tool)
            written += len(tool)
    return cited


def naive(path: Path, wanted: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with open(path, "rb") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("uuid") in wanted:
                found[record["uuid"]] = str(record["message"])
                if len(found) == len(wanted):
                    break
    return found


def source_costs(mib: int, runs: int) -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "projects" / "-code-shop"
        folder.mkdir(parents=True)
        path = folder / f"{SESSION}.jsonl"
        cited = write_transcript(path, mib)
        naive(path, ["warm the cache"])
        for place, uuids in cited.items():
            m = Memory(
                "a" * 32,
                "Queue",
                "The queue is RabbitMQ.",
                T0,
                T0,
                provenance=Provenance(SESSION, uuids),
            )
            found = source(m, state_dir=Path(tmp) / "state", session_dirs=[folder.parent])
            assert found is not None and found.note == "", found
            ours = statistics.median(
                _time(
                    lambda m=m: source(
                        m, state_dir=Path(tmp) / "state", session_dirs=[folder.parent]
                    )
                )
                for _ in range(runs)
            )
            theirs = statistics.median(
                _time(lambda u=uuids: naive(path, u)) for _ in range(max(3, runs // 5))
            )
            rows.append(
                (f"{os.path.getsize(path) / 2**20:,.0f} MiB, entries at the {place}", ours, theirs)
            )
    return rows


def _time(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print("| parse | median µs |\n|---|---|")
    for name, us in parse_costs():
        print(f"| {name} | {us:.1f} |")
    print("\n| source() | median ms | baseline: decode every line, ms |\n|---|---|---|")
    for mib in args.mib:
        for name, ours, theirs in source_costs(mib, args.runs):
            print(f"| {name} | {ours:.2f} | {theirs:.1f} |")


if __name__ == "__main__":
    main()
