"""Miner benchmark: the local pipeline per mined session part, and the idle daemon.

    PYTHONPATH=. python -m benchmarks.bench_miner [--size 10000] [--parts 30] [--watch 1000]

1. Pipeline: against a copy of the synthetic vault of `--size` memories (index built once and
   cached by benchmarks/stores.py), mine `--parts` session parts (each a realistic exchange of
   ~8 prompts and replies, in the real Claude Code transcript format) with the `anthropic`
   backend pointed at the fake Messages API (tests/fake_anthropic.py), which answers at once
   with three lessons. The figure is memem's own time per part: parse, secret scrub, transcript
   index, the SDK call to a local server, three saves through the store (security, dedup,
   contradiction, edges), cursor, playbook. The SDK import is paid once before timing.
2. Idle daemon: `memem daemon run` watching `--watch` transcripts (all already mined, so there
   is nothing to do): CPU seconds used over a 20 s window after start-up, and its RSS.
Targets: pipeline median <= 100 ms; idle CPU about 0, RSS <= 80 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import stores
from benchmarks.bench_store import log
from memem.mining.backends import AnthropicBackend
from memem.mining.miner import Miner, session_files
from memem.service.store import Store
from memem.storage.miner_state import MinerState
from tests.fake_anthropic import FakeAnthropic

PROMPTS = (
    "The checkout test fails with ConnectionRefusedError on port 5432, why?",
    "Remember that we always run make migrate before make test.",
    "No, don't use pip in CI, we use uv because it is faster.",
    "We decided to keep Stripe webhooks behind signature verification.",
    "Which Celery queue handles the invoice emails?",
    "Can you rename the settings module to config?",
    "The deploy failed because the Fly.io token expired; rotate it monthly.",
    "Prefer small PRs with one migration each.",
)


def transcript(path: Path, cwd: str, number: int) -> None:
    lines = []
    for turn, prompt in enumerate(PROMPTS):
        stamp = f"2026-11-20T10:{turn:02d}:00.000Z"
        for kind, text in (("user", f"{prompt} (part {number})"), ("assistant", f"Done: {prompt}")):
            message: object = (
                {"role": "user", "content": text}
                if kind == "user"
                else {"role": "assistant", "content": [{"type": "text", "text": text}]}
            )
            lines.append(
                json.dumps(
                    {
                        "type": kind,
                        "message": message,
                        "uuid": f"{number}-{turn}-{kind}",
                        "parentUuid": None,
                        "isSidechain": False,
                        "timestamp": stamp,
                        "sessionId": path.stem,
                        "cwd": cwd,
                        "version": "2.1.329",
                    }
                )
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def lessons(number: int) -> dict[str, object]:
    return {
        "memories": [
            {
                "title": f"Lesson {number}.{k}",
                "content": f"Session part {number} taught rule {k}: service-{number}-{k} "
                f"retries queue q{number}{k} with backoff {number * 10 + k} ms.",
                "type": "convention",
                "tags": ["bench"],
                "importance": 3,
            }
            for k in range(3)
        ]
    }


def pipeline(size: int, parts: int, work: Path) -> list[float]:
    state_src, vault_src, _ = stores.synth_index(size)
    state_dir = stores.scratch_copy(state_src, work / "state")
    vault = work / "vault"
    shutil.copytree(vault_src, vault)
    cwd = str(work / "code" / "shop")
    (work / "code" / "shop" / ".git").mkdir(parents=True)
    times: list[float] = []
    with FakeAnthropic() as api, Store.open(state_dir=state_dir, vault_dir=vault) as store:
        backend = AnthropicBackend(
            api_key="sk-ant-bench", model="claude-haiku-4-5", base_url=api.url
        )
        miner = Miner(store, MinerState(state_dir / "miner.sqlite3"), backend)
        warm = work / "sessions" / "warm.jsonl"
        transcript(warm, cwd, 0)
        api.reply_json(lessons(0))
        miner.mine(str(warm))  # pays the SDK import and the first connection
        for number in range(1, parts + 1):
            path = work / "sessions" / f"part-{number}.jsonl"
            transcript(path, cwd, number)
            api.reply_json(lessons(number))
            start = time.perf_counter()
            outcome = miner.mine(str(path))
            times.append(time.perf_counter() - start)
            assert outcome.status == "mined", outcome
    return times


def idle(watch: int, work: Path) -> tuple[float, float]:
    home = work / "home"
    projects = home / ".claude" / "projects"
    for n in range(watch):
        transcript(projects / f"-p{n % 40}" / f"s{n}.jsonl", str(work), n)
    env = dict(
        os.environ,
        HOME=str(home),
        MEMEM_DIR=str(work / "idle-state"),
        MEMEM_OBSIDIAN_VAULT=str(work / "idle-vault"),
        MEMEM_MINER_BACKEND="heuristic",
        MEMEM_MINER_SETTLE_SECONDS="0",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    with Store.open(state_dir=work / "idle-state", vault_dir=work / "idle-vault"):
        pass
    state = MinerState(work / "idle-state" / "miner.sqlite3")
    state.discover(session_files([projects]))
    for row in state.rows():  # already mined: the daemon has nothing to do
        state.update(row.path, status="mined", cursor=row.size)
    state.set_opt_in("history", time.time())
    process = subprocess.Popen([sys.executable, "-m", "memem", "daemon", "run"], env=env)
    try:
        time.sleep(8)  # start-up: imports, the first scan, the watches
        before = _cpu(process.pid)
        time.sleep(20)
        used = _cpu(process.pid) - before
        rss = _rss(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return used, rss


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--parts", type=int, default=30)
    parser.add_argument("--watch", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-miner-") as tmp:
        work = Path(tmp)
        log(f"pipeline: {args.parts} parts against {args.size:,} memories")
        times = pipeline(args.size, args.parts, work)
        log(f"idle daemon watching {args.watch} transcripts (~30 s)")
        cpu, rss = idle(args.watch, work)
    ms = sorted(t * 1000 for t in times)
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| pipeline per part at {args.size:,} memories, median | {statistics.median(ms):.1f} ms | <= 100 ms |"
    )
    print(f"| pipeline per part, p95 | {ms[int(len(ms) * 0.95) - 1]:.1f} ms | |")
    print(
        f"| idle daemon CPU over 20 s ({args.watch} transcripts watched) | {cpu:.2f} s | about 0 |"
    )
    print(f"| idle daemon RSS | {rss:.0f} MB | <= 80 MB |")


if __name__ == "__main__":
    main()
