"""The ledger's cost on the hook path: what recording an injection adds to a prompt's slice.

    PYTHONPATH=. python -m benchmarks.bench_ledger [--size 1000] [--rounds 3] [--cold 15]

On the synthetic coding vault (`synth`, `--size` memories, index cached by `stores`), every
prompt of `synth.queries()` (~200, each asked from its own project) goes through
`memem.service.recall.build`, the hook's own logic, in rounds, interleaved so the machine's
drift hits all three alike:

- slice alone: `build(..., ledger=None)` (the baseline: what a prompt cost before);
- slice + ledger: `build(..., ledger="UserPromptSubmit")`, the hook's call now;
- ledger write alone: `memem.storage.ledger.record_slice` of that slice (digest, one append).

The medians are over prompts that injected something (an empty slice writes nothing). And a
hook process that answers in-process (the engine's fallback) imports the ledger and hashlib
and reads the key once: `--cold` fresh processes measure that. Target: the ledger write
<= 1 ms median. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from benchmarks import stores
from benchmarks.bench_hook import routed_queries
from benchmarks.bench_store import REPO, log
from memem.service import recall
from memem.storage import ledger
from memem.storage.index import Index

TARGET_MS: Final = 1.0
# What the fallback hook process pays on top of what it imported anyway (recall, the index).
COLD: Final = """
import time
from memem.service import recall
t = time.perf_counter()
from memem.storage import ledger
ledger.digest({state!r}, "a prompt")
print((time.perf_counter() - t) * 1000)
"""


def ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.3f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", type=int, default=15)
    args = parser.parse_args(argv)
    state, vault, _ = stores.synth_index(args.size)
    prompts = routed_queries()
    alone: list[float] = []
    with_ledger: list[float] = []
    write: list[float] = []
    added: list[float] = []
    injected = 0
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        work = stores.scratch_copy(state, Path(tmp) / "state")
        idx = Index(work / "index.sqlite3")
        conn = idx.connection()
        for n in range(args.rounds):
            for i, (prompt, project) in enumerate(prompts):
                order = [None, "UserPromptSubmit"] if (i + n) % 2 else ["UserPromptSubmit", None]
                built = None
                pair: dict[str | None, float] = {}
                for name in order:
                    start = time.perf_counter()
                    built = recall.build(
                        conn, prompt, state_dir=work, vault_dir=vault, project=project, ledger=name
                    )
                    took = time.perf_counter() - start
                    if built.abstained:
                        break
                    (with_ledger if name else alone).append(took)
                    pair[name] = took
                if built is None or built.abstained:
                    continue
                added.append(pair["UserPromptSubmit"] - pair[None])
                injected += 1
                start = time.perf_counter()
                ledger.record_slice(
                    work, built, event="UserPromptSubmit", session_id="bench", prompt=prompt
                )
                write.append(time.perf_counter() - start)
        idx.close()
        colds = []
        for _ in range(args.cold):
            out = subprocess.run(
                [sys.executable, "-c", COLD.format(state=str(work))],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            colds.append(float(out.stdout) / 1000)
        lines = (work / "ledger" / "ledger.jsonl").read_bytes().count(b"\n")
    log(f"{len(prompts)} prompts x {args.rounds} rounds; {injected} injected; {lines} lines")
    print(f"| {args.size:,} memories, {len(prompts)} prompts x {args.rounds} | median ms |")
    print("|---|---:|")
    print(f"| slice alone (baseline) | {ms(alone)} |")
    print(f"| slice + ledger | {ms(with_ledger)} |")
    print(f"| slice + ledger minus slice alone, per prompt | {ms(added)} |")
    print(f"| ledger write alone | {ms(write)} |")
    print(f"| fallback process: import the ledger and BLAKE2, first digest | {ms(colds)} |")
    met = bool(write) and statistics.median(write) * 1000 <= TARGET_MS
    print(f"\nledger write target (<= {TARGET_MS} ms median): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
