"""Sync over git: a shared repository of 1k, 10k or 100k memories, as users run it.

    PYTHONPATH=. python -m benchmarks.bench_sync [--sizes 1k,10k,100k] [--runs 5]
                                                 [--first-runs 1] [--first-max 10000]
                                                 [--hook-runs 40]
                                                 [--no-hook] [--lexical] [--keep]

For each size, the shared repository is a bare git repository on local disk whose `memem`
branch holds `memories/<id>.md` for every memory of the synthetic vault of `synth`, as memem
pushes it (`memem.core.merge.remote_form`; one commit made with `git fast-import`; cached under /tmp/bench-memem-cache/sync-remote-*). A
scratch copy of it (objects hard-linked) is the remote of the run. Every memem command is a
whole process (`python -m memem ...`, MEMEM_ENGINE=off but for the hook part) with HOME,
MEMEM_DIR, MEMEM_OBSIDIAN_VAULT and a git config of its own in a scratch dir.

Rows, per size:
- first sync: `memem sync init REMOTE` on a device with an empty vault (clone, write every
  memory into the vault, index it), `--first-runs` fresh devices; baselines of the same run:
  `git clone --bare` of the remote (git's own floor) and `memem rebuild-index` of the vault
  the sync made, without vectors (memem's indexing floor). Sizes above `--first-max`
  (default 10k) instead connect a device that has every memory already (the synthetic vault
  and its cached index): `memem sync init` then reads and hashes every file and moves nothing;
- incremental sync: `memem sync` after 10 memories changed in the remote (a teammate's commit,
  made with fast-import), after 10 memory files were edited in the vault (an Obsidian edit),
  and with nothing changed (the baseline), interleaved, `--runs` each;
- `memem sync status --json`, interleaved with `memem --version` (start-up and imports) and
  `memem list --json` (a read command: the store opened, the vault reconciled);
- the prompt hook (hooks/hooks.json's command, answered by a live engine for the device,
  vectors from the cache or random ones so the engine is not embedding the vault) while a
  `memem sync` with 10 incoming changes runs, and right after it with no sync running, in
  alternating rounds, until `--hook-runs` of each.

Prints a markdown table on stdout, progress on stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from benchmarks import engines, stores, synth
from benchmarks.bench_hook import hook_command, routed_queries
from benchmarks.bench_store import (
    CACHE_ROOT,
    REPO,
    heartbeat,
    link_tree,
    log,
    parse_sizes,
    percentile,
    source_digest,
)

BRANCH: Final = "memem"
CHANGES: Final = 10
# Issue 14's targets: (row label, size, median seconds).
TARGETS_S: Final = (
    ("first sync: `memem sync init`", 10_000, 60.0),
    ("sync, 10 remote changes", 10_000, 3.0),
    ("sync, 10 local changes", 10_000, 3.0),
    ("`memem sync status --json`", 10_000, 1.0),
)
HOOK_SLOWDOWN: Final = 0.10  # the hook's median during a sync: within 10% of without
_UPDATED: Final = re.compile(r"^updated: .*$", re.MULTILINE)


@dataclass
class Row:
    label: str
    n: int
    unit: str  # "s" or "ms"
    times: list[float] = field(default_factory=list)
    failures: int = 0
    baseline: str = ""

    def cells(self) -> str:
        if not self.times:
            return f"| {self.label} | {self.n:,} | 0 | - | - | {self.baseline} |"
        scale = 1.0 if self.unit == "s" else 1000.0
        fmt = "{:.2f}" if self.unit == "s" else "{:.0f}"
        median = fmt.format(statistics.median(self.times) * scale)
        p95 = fmt.format(percentile(self.times, 95) * scale)
        failed = f" ({self.failures} failed)" if self.failures else ""
        return (
            f"| {self.label} | {self.n:,} | {len(self.times)}{failed} | {median} {self.unit} "
            f"| {p95} {self.unit} | {self.baseline} |"
        )


# -- the shared repository -----------------------------------------------------------------------


def _fast_import(repository: Path, stream: Iterator[bytes], env: dict[str, str]) -> None:
    process = subprocess.Popen(
        ["git", "-C", str(repository), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    for chunk in stream:
        process.stdin.write(chunk)
    process.stdin.write(b"done\n")
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError(f"git fast-import failed in {repository}")


def _commit(message: str, files: Sequence[tuple[str, bytes]], *, first: bool) -> Iterator[bytes]:
    """A fast-import commit on BRANCH writing `files` ({path: bytes}), by a teammate."""
    now = int(time.time())
    text = message.encode()
    yield (
        (
            f"commit refs/heads/{BRANCH}\n"
            f"author teammate <teammate@example.com> {now} +0000\n"
            f"committer teammate <teammate@example.com> {now} +0000\n"
            f"data {len(text)}\n"
        ).encode()
        + text
        + b"\n"
    )
    if not first:
        yield f"from refs/heads/{BRANCH}^0\n".encode()
    for path, data in files:
        yield f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
    yield b"\n"


def git_env(home: Path) -> dict[str, str]:
    config = home / "gitconfig"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text("[user]\n\tname = bench\n\temail = bench@example.com\n", "utf-8")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_TERMINAL_PROMPT": "0",
    }


def remote_digest() -> str:
    """A short hash of the code that decides what a remote holds of a memory."""
    digest = hashlib.sha256()
    for name in ("core/merge.py", "core/markdown.py", "core/memory.py"):
        digest.update((REPO / "memem" / name).read_bytes())
    return digest.hexdigest()[:12]


def shared_remote(n: int, seed: int) -> Path:
    """The cached bare repository holding the `n` memories of the synthetic vault, each as
    memem pushes it (`merge.remote_form`)."""
    from memem.core.merge import remote_form

    name = f"sync-remote-n{n}-s{seed}-g{synth.GENERATOR_VERSION}-{remote_digest()}"
    root = CACHE_ROOT / name
    if (root / "ready").exists():
        return root / "remote.git"
    for stale in CACHE_ROOT.glob(f"sync-remote-n{n}-s{seed}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True)
    env = git_env(root)
    remote = root / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], env=env, check=True)

    def files() -> Iterator[tuple[str, bytes]]:
        for memory in synth.generate(n, seed):
            yield f"memories/{memory.id}.md", remote_form(memory)

    log(f"n={n}: writing the shared repository ({remote})")
    start = time.perf_counter()
    with heartbeat(f"n={n}: fast-import"):
        _fast_import(remote, _commit(f"{n} memories", list(files()), first=True), env)
    subprocess.run(["git", "-C", str(remote), "gc", "--quiet"], env=env, check=True)
    (root / "ready").write_text(f"{time.perf_counter() - start:.1f}\n", encoding="utf-8")
    log(f"n={n}: shared repository made in {time.perf_counter() - start:.1f} s")
    return remote


def change_remote(remote: Path, ids: Sequence[str], round_: int, env: dict[str, str]) -> None:
    """A teammate's commit changing the memories `ids` (a line added, `updated` now)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    files = []
    for memory_id in ids:
        path = f"memories/{memory_id}.md"
        old = subprocess.run(
            ["git", "-C", str(remote), "show", f"{BRANCH}:{path}"],
            env=env,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        new = _UPDATED.sub(f'updated: "{now}"', old, count=1)
        files.append((path, f"{new.rstrip()}\n\nRemote edit {round_}.\n".encode()))
    _fast_import(remote, _commit(f"edit {len(ids)}", files, first=False), env)


def change_vault(vault: Path, names: Sequence[str], round_: int) -> None:
    """Edit memory files, as an editor saves them."""
    for name in names:
        path = vault / "memem" / "memories" / name
        text = path.read_text(encoding="utf-8")
        path.unlink()  # a new inode: a seeded vault's files are hard links into the cache
        path.write_text(f"{text.rstrip()}\n\nLocal edit {round_}.\n", encoding="utf-8")


# -- one device ------------------------------------------------------------------------------


class Device:
    """A scratch HOME + state dir + vault, and memem's CLI run as whole processes in it."""

    def __init__(self, work: Path, name: str, python: str) -> None:
        self.dir = work / name
        self.state, self.vault = self.dir / "state", self.dir / "vault"
        self.python = python
        self.env = {
            **git_env(self.dir / "home"),
            "MEMEM_DIR": str(self.state),
            "MEMEM_OBSIDIAN_VAULT": str(self.vault),
            "MEMEM_ENGINE": "off",
            "PYTHONPATH": str(REPO),
        }

    def run(self, *args: str, **extra: str) -> tuple[float, bool]:
        """(wall seconds, succeeded) of `python -m memem ARGS` (`extra`: more env vars)."""
        env = {**self.env, **extra}
        start = time.perf_counter()
        done = subprocess.run(
            [self.python, "-m", "memem", *args], env=env, capture_output=True, check=False
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            log(f"memem {' '.join(args)} exited {done.returncode}: {done.stderr[-400:]!r}")
        return elapsed, done.returncode == 0

    def timed(self, row: Row, *args: str, **extra: str) -> None:
        elapsed, ok = self.run(*args, **extra)
        row.times.append(elapsed)
        row.failures += not ok


def first_sync(n: int, remote: Path, work: Path, args: argparse.Namespace) -> list[Row]:
    first = Row("first sync: `memem sync init`", n, "s")
    clone = Row("baseline: `git clone --bare` of the remote", n, "s")
    rebuild = Row("baseline: `memem rebuild-index` of the synced vault (no vectors)", n, "s")
    for number in range(args.first_runs):
        device = Device(work, f"first-{number}", sys.executable)
        start = time.perf_counter()
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--no-local", str(remote), str(device.dir / "c")],
            env=device.env,
            check=True,
        )
        clone.times.append(time.perf_counter() - start)
        shutil.rmtree(device.dir / "c")
        with heartbeat(f"n={n}: sync init"):
            device.timed(first, "sync", "init", str(remote))
        with heartbeat(f"n={n}: rebuild-index"):
            # The index only: the vectors are the engine's background work.
            device.timed(rebuild, "rebuild-index", MEMEM_SEMANTIC="off")
        log(f"n={n}: first sync {first.times[-1]:.1f} s (clone {clone.times[-1]:.1f} s)")
        if number:
            shutil.rmtree(device.dir, ignore_errors=True)
    first.baseline = "target <= 60 s at 10k"
    return [first, clone, rebuild]


def seeded(n: int, remote: Path, work: Path, args: argparse.Namespace) -> tuple[Device, Row]:
    """A device that already holds every memory (the synthetic vault and its index, from
    the cache), connected with `memem sync init`: it reads and hashes every file, pulls and
    pushes nothing."""
    device = Device(work, "seeded", sys.executable)
    state_src, vault_src, _ = stores.synth_index(n, args.seed)
    stores.scratch_copy(state_src, device.state)
    link_tree(vault_src, device.vault)
    row = Row("connect a device that has every memory: `memem sync init`", n, "s")
    with heartbeat(f"n={n}: sync init (seeded)"):
        device.timed(row, "sync", "init", str(remote))
    log(f"n={n}: seeded device connected in {row.times[-1]:.1f} s")
    return device, row


def incremental(
    n: int, remote: Path, device: Device, ids: list[str], args: argparse.Namespace
) -> list[Row]:
    names = sorted(p.name for p in (device.vault / "memem" / "memories").glob("*.md"))
    rows = {
        "remote": Row(f"sync, {CHANGES} remote changes", n, "s", baseline="target <= 3 s at 10k"),
        "local": Row(f"sync, {CHANGES} local changes", n, "s", baseline="target <= 3 s at 10k"),
        "none": Row("baseline: sync, nothing changed", n, "s"),
        "status": Row("`memem sync status --json`", n, "ms", baseline="target <= 1 s"),
        "version": Row("baseline: `memem --version`", n, "ms"),
        "list": Row("baseline: `memem list --json`", n, "ms"),
    }
    step = max(1, len(ids) // (CHANGES * (args.runs + 1)))
    for round_ in range(args.runs + 1):
        timed = round_ > 0  # the first round warms the page cache and the bytecode
        picked = [ids[(round_ * CHANGES + k) * step % len(ids)] for k in range(CHANGES)]
        change_remote(remote, picked, round_, device.env)
        seconds, ok = device.run("sync")
        if timed:
            rows["remote"].times.append(seconds)
            rows["remote"].failures += not ok
        local = [names[((round_ * CHANGES + k) * step + 1) % len(names)] for k in range(CHANGES)]
        change_vault(device.vault, local, round_)
        seconds, ok = device.run("sync")
        if timed:
            rows["local"].times.append(seconds)
            rows["local"].failures += not ok
        for key, argv in (
            ("none", ("sync",)),
            ("status", ("sync", "status", "--json")),
            ("version", ("--version",)),
            ("list", ("list", "--json")),
        ):
            seconds, ok = device.run(*argv)
            if timed:
                rows[key].times.append(seconds)
                rows[key].failures += not ok
    for row in rows.values():
        log(f"n={n}: {row.label}: median {statistics.median(row.times):.3f} s")
    return list(rows.values())


def hook_during_sync(
    n: int, remote: Path, device: Device, ids: list[str], args: argparse.Namespace
) -> tuple[list[Row], str]:
    """The prompt hook's latency while a sync runs and with none, in alternating rounds."""
    venv = Path(sys.prefix)
    vectors = stores.vectors_file(n, args.seed)
    if not args.lexical:
        if vectors.exists():
            shutil.copy2(vectors, device.state / stores.VECTORS)
        stores.fill_random(device.state, args.seed)
    project_dir = device.dir / "projects" / "api"
    (project_dir / ".git").mkdir(parents=True, exist_ok=True)
    (project_dir / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (device.dir / "plugin-data").mkdir(exist_ok=True)
    env = {k: v for k, v in device.env.items() if k != "MEMEM_ENGINE"}
    env.update(
        MEMEM_VENV=str(venv),
        CLAUDE_PLUGIN_ROOT=str(REPO),
        CLAUDE_PLUGIN_DATA=str(device.dir / "plugin-data"),
        CLAUDE_PROJECT_DIR=str(project_dir),
        MEMEM_SYNC_INTERVAL="off",  # only the sync we start runs
    )
    if args.lexical:
        env["MEMEM_SEMANTIC"] = "off"
    prompts = [q for q, _ in routed_queries(args.seed)]
    command = ["sh", "-c", hook_command(REPO, "UserPromptSubmit")]
    idle = Row("hook, no sync running", n, "ms")
    during = Row("hook, during `memem sync` (10 remote changes)", n, "ms")
    syncs: list[float] = []

    def hook(row: Row | None, number: int) -> None:
        payload = {
            "session_id": str(uuid.uuid4()),
            "transcript_path": str(device.dir / "none.jsonl"),
            "cwd": str(project_dir),
            "hook_event_name": "UserPromptSubmit",
            "prompt": prompts[number % len(prompts)],
        }
        start = time.perf_counter()
        done = subprocess.run(
            command, input=json.dumps(payload).encode(), env=env, capture_output=True, check=False
        )
        if row is not None:
            row.times.append(time.perf_counter() - start)
            row.failures += done.returncode != 0

    with engines.running(env, str(venv / "bin" / "python"), REPO) as engine:
        if not args.lexical:
            engine.wait_embedded(pending_ok=True)
        for number in range(5):
            hook(None, number)
        round_, asked = 0, 0
        step = max(1, len(ids) // 997)
        while min(len(idle.times), len(during.times)) < args.hook_runs or round_ < 3:
            round_ += 1
            picked = [ids[(round_ * 31 + k * step) % len(ids)] for k in range(CHANGES)]
            change_remote(remote, picked, 1000 + round_, device.env)
            start = time.perf_counter()
            syncing = subprocess.Popen(
                [device.python, "-m", "memem", "sync"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            count = 0
            while syncing.poll() is None:
                asked += 1
                count += 1
                hook(during, asked)
            # A hook that started before the sync ended overlaps it only in part: it counts.
            syncs.append(time.perf_counter() - start)
            for _ in range(max(count, 1)):
                asked += 1
                hook(idle, asked)
        status = engine.status()
    note = (
        f"- hook rows at {n:,}: {round_} syncs (median {statistics.median(syncs):.2f} s each, "
        f"with the engine running), {'lexical' if args.lexical else 'semantic'} engine, "
        f"engine served {status.get('requests')} requests"
    )
    ratio = statistics.median(during.times) / statistics.median(idle.times) - 1
    during.baseline = f"{ratio:+.0%} vs no sync (target within {HOOK_SLOWDOWN:.0%})"
    return [idle, during], note


def run_size(n: int, args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    cached = shared_remote(n, args.seed)
    work = Path(tempfile.mkdtemp(prefix=f"bench-sync-n{n}-"))
    notes: list[str] = []
    try:
        remote = work / "remote.git"
        env = git_env(work / "setup")
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", str(cached), str(remote)], env=env, check=True
        )
        listing = subprocess.run(
            ["git", "-C", str(remote), "ls-tree", "--name-only", f"{BRANCH}:memories"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        ids = [name.removesuffix(".md") for name in listing]
        if n <= args.first_max:
            rows = first_sync(n, remote, work, args)
            device = Device(work, "first-0", sys.executable)
        else:
            device, row = seeded(n, remote, work, args)
            rows = [row]
        rows += incremental(n, remote, device, ids, args)
        if args.hook:
            hook_rows, note = hook_during_sync(n, remote, device, ids, args)
            rows += hook_rows
            notes.append(note)
        return rows, notes
    finally:
        if args.keep:
            log(f"n={n}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_sync",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=5, help="timed incremental syncs per kind")
    parser.add_argument("--first-runs", type=int, default=1, help="first syncs per size")
    parser.add_argument(
        "--first-max",
        type=int,
        default=10_000,
        help="larger sizes skip the first sync (minutes per 10k) and connect a device that "
        "has every memory already",
    )
    parser.add_argument("--hook-runs", type=int, default=40, help="hooks timed per side")
    parser.add_argument("--no-hook", dest="hook", action="store_false", help="skip the hook rows")
    parser.add_argument(
        "--lexical", action="store_true", help="the hook's engine without semantic recall"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs")
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    digest = source_digest()
    log(f"memem sources {digest}; python {sys.executable}")
    load_before = os.getloadavg()
    rows: list[Row] = []
    notes: list[str] = []
    for n in parse_sizes(args.sizes):
        got, more = run_size(n, args)
        rows += got
        notes += more
    print("## Sync (issue 14), whole processes\n")
    print("| what | memories | runs | median | p95 | baseline / target |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row.cells())
    print()
    for label, n, target in TARGETS_S:
        row = next((r for r in rows if r.n == n and r.label == label and r.times), None)
        if row is not None:
            median = statistics.median(row.times)
            verdict = "met" if median <= target else "NOT met"
            print(f"- {label} at {n:,}: <= {target:g} s: {verdict} ({median:.2f} s)")
    for n in sorted({r.n for r in rows}):
        pair = [r for r in rows if r.n == n and r.label.startswith("hook") and r.times]
        if len(pair) == 2:
            ratio = statistics.median(pair[1].times) / statistics.median(pair[0].times) - 1
            verdict = "met" if ratio <= HOOK_SLOWDOWN else "NOT met"
            print(f"- hook during a sync at {n:,}: within 10%: {verdict} ({ratio:+.1%})")
    for note in notes:
        print(note)
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
