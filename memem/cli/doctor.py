"""`memem doctor`: HEALTHY, DEGRADED or FAILING, with a fix for every problem found."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memem.core import fence
from memem.core.text import clip
from memem.settings import is_off
from memem.storage.index import SQLiteError

if TYPE_CHECKING:
    from memem.mining.service import Mining
    from memem.service.store import Store

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: str
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> str:
        levels = {c.level for c in self.checks}
        return "FAILING" if FAIL in levels else "DEGRADED" if WARN in levels else "HEALTHY"

    def render(self) -> str:
        marks = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL"}
        lines = [f"memem doctor: {self.verdict}"]
        for c in self.checks:
            lines.append(f"  [{marks[c.level]}] {c.name}: {c.detail}")
            if c.fix:
                lines.append(f"         fix: {c.fix}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "checks": [
                {"name": c.name, "level": c.level, "detail": c.detail, "fix": c.fix}
                for c in self.checks
            ],
        }


def _writable(directory: Path) -> str | None:
    """None when a file can be created, written and removed in `directory`; else why not."""
    try:
        fd, name = tempfile.mkstemp(prefix=".memem-canary-", dir=directory)
        os.write(fd, b"ok")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check(store: Store, mining: Mining) -> Report:
    checks: list[Check] = []
    version = ".".join(map(str, sys.version_info[:3]))
    checks.append(
        Check("python", OK, version)
        if sys.version_info >= (3, 11)
        else Check("python", FAIL, version, "install Python 3.11 or newer")
    )
    for label, directory, env in (
        ("state dir", store.settings.state_dir, "MEMEM_DIR"),
        ("vault", store.vault.memories_dir, "MEMEM_OBSIDIAN_VAULT"),
    ):
        problem = _writable(directory)
        checks.append(
            Check(label, OK, str(directory))
            if problem is None
            else Check(label, FAIL, f"{directory}: {problem}", f"make it writable or set {env}")
        )
    mode = store.vault.memories_dir.stat().st_mode & 0o777
    if mode & 0o077:
        checks.append(
            Check(
                "permissions",
                WARN,
                f"{store.vault.memories_dir} is {mode:o}",
                f"chmod 700 {store.vault.memories_dir}",
            )
        )
    try:
        # A damaged index is moved aside and rebuilt here (opening the store does the same
        # for one that cannot be opened at all); the check says it happened.
        if store.index.verify():
            store.rebuild_index()
        for aside, reason in store.index.recovered:
            checks.append(
                Check(
                    "index",
                    WARN,
                    f"the index could not be used ({reason}); moved aside to {aside} and "
                    "rebuilt from the vault",
                    f"nothing to do; delete {aside} once you no longer need it",
                )
            )
        if not store.index.recovered:
            checks.append(Check("index", OK, f"{store.settings.index_path} (ok)"))
    except SQLiteError as exc:
        checks.append(Check("index", FAIL, str(exc), "run `memem rebuild-index`"))
    sync = store.reconcile()
    checks.append(
        Check(
            "vault sync",
            OK,
            f"{sync.unchanged + sync.added + sync.updated} files indexed "
            f"(just now: +{sync.added} ~{sync.updated} -{sync.removed})",
        )
    )
    status = store.status()
    for memory_id, (name, reason) in status.quarantined.items():
        checks.append(
            Check(
                "quarantined",
                WARN,
                f"{fence.line(name)}: {fence.line(reason)}",
                f"review {fence.line(str(store.vault.memories_dir / name))}; "
                f"`memem quarantine release {memory_id}` if it is safe",
            )
        )
    for name, reason in status.broken.items():
        checks.append(
            Check(
                "broken file",
                WARN,
                f"{fence.line(name)}: {fence.line(reason)}",
                "fix the file in an editor (memem leaves it untouched) or move it out of the vault",
            )
        )
    checks.append(_learning_check(store, status.archived))
    in_venv = sys.prefix != sys.base_prefix
    checks.append(
        Check("venv", OK, sys.prefix)
        if in_venv
        else Check(
            "venv",
            WARN,
            f"running on {sys.executable}, not memem's venv",
            "run memem through bootstrap.sh",
        )
    )
    for module, purpose in (
        ("mcp", "the MCP server"),
        ("anthropic", "mining with the Anthropic API"),
        ("watchdog", "the miner daemon's file watching"),
        ("yaml", "reading memory files"),
    ):
        if importlib.util.find_spec(module) is None:
            checks.append(
                Check(
                    "dependency",
                    WARN,
                    f"{module} is missing: {purpose} is unavailable",
                    "run `sh bootstrap.sh setup` to reinstall the locked dependencies",
                )
            )
    from memem.cli.system import engine_status

    engine = engine_status(mining)
    checks.append(_engine_check(mining, engine))
    checks.append(_embedder_check(store, engine))
    checks += _sync_checks(store)
    checks += _miner_checks(mining)
    return Report(tuple(checks))


def _learning_check(store: Store, archived: int) -> Check:
    """Learning from use: on or off, the record of use readable, what retention archived."""
    from memem.storage.utility import Utility

    settings = store.settings
    schedule = (
        f"every {settings.retention_interval:g} s" if settings.retention_interval else "by hand"
    )
    try:
        with Utility.open(settings.state_dir) as utility:
            known = len(utility.records())
            damaged = utility.damaged
    except SQLiteError:
        damaged = True
    if damaged:
        path = settings.state_dir / "utility.sqlite3"
        return Check(
            "learning",
            WARN,
            f"{path} is not a readable database: recall ranks without the record of use",
            f"move {path} aside (the record of use starts afresh)",
        )
    state = "on" if settings.learning else "off (MEMEM_LEARNING)"
    line = (
        f"{state}; {known} memories with a record of use; {archived} archived; retention {schedule}"
    )
    return Check("learning", OK, line)


def _engine_check(mining: Mining, status: dict[str, Any]) -> Check:
    """Whether the engine runs, answers on its socket and runs the installed code; when it
    does not run, why it stopped (its status file, the tail of its output) and how to start
    it. Not running is DEGRADED, not FAILING: hooks and commands work in-process."""
    from memem.cli.system import last_words
    from memem.engine import client, protocol

    if not client.enabled(mining.env):
        return Check("engine", OK, "off (MEMEM_ENGINE=off): hooks and commands work in-process")
    installed, pid = protocol.code_digest(), status.get("pid")
    restart = "`memem daemon stop`, then `memem daemon ensure`"
    if status["running"] and status.get("version") not in (None, installed):
        return Check(
            "engine",
            WARN,
            f"running (pid {pid}) other code ({status['version']}) than the installed "
            f"({installed}); it makes way for it at its next request or heartbeat",
            restart,
        )
    if status["ready"]:
        return Check(
            "engine",
            OK,
            f"running (pid {pid}), answering on {status.get('socket')}; "
            f"{status.get('requests')} requests; code {installed} (installed)",
        )
    if status["running"]:
        return Check(
            "engine",
            WARN,
            f"running (pid {pid}) but not answering on "
            f"{protocol.socket_path(str(mining.settings.state_dir))}: "
            f"{last_words(mining.settings)}",
            restart,
        )
    if _died(status, mining.settings.log_dir / "daemon.out"):
        return Check(
            "engine",
            WARN,
            f"not running; it could not start or did not stop cleanly: "
            f"{last_words(mining.settings)}",
            "fix the cause above, then `memem daemon ensure`",
        )
    return Check(
        "engine",
        WARN,
        "not running: hooks and commands work in-process (slower)",
        "`memem daemon ensure` (the next hook also starts it)",
    )


def _embedder_check(store: Store, engine: dict[str, Any]) -> Check:
    """Whether recall is hybrid: the model stack installed and loaded by the engine. Without
    it recall is lexical: DEGRADED, never FAILING."""
    from memem.cli.system import embedder_line, embedder_summary

    embedder = embedder_summary(store, engine)
    line = embedder_line(embedder)
    if embedder["state"] == "missing":
        fix = (
            "unset MEMEM_SEMANTIC"
            if not store.settings.semantic
            else "run `sh bootstrap.sh setup` to install the model stack (see its log: "
            "model-failure.txt in the plugin's data folder)"
        )
        return Check("embedder", WARN, line, fix)
    if embedder["state"] == "loading":
        return Check("embedder", WARN, line, "wait a few seconds; `memem status` shows it")
    return Check("embedder", OK, line)


def _sync_checks(store: Store) -> list[Check]:
    """Whether sync works: OK when not connected or every channel is well; WARN, with the fix,
    for a channel whose last run failed and for memories held back or quarantined."""
    from memem.cli.sync import when
    from memem.service.sync import Sync

    channels = Sync(store).status()
    if not channels:
        return [Check("sync", OK, "not connected (`memem sync init REMOTE` to connect)")]
    checks = []
    for c in channels:
        if c.blocked:
            retry = f"; next try {when(c.next_try)}" if c.next_try else ""
            checks.append(
                Check(
                    "sync",
                    WARN,
                    f"{c.name}: the last sync with {c.remote} failed: {fence.line(c.last_error)}{retry}",
                    "check that the remote answers (`git ls-remote REMOTE` with your credentials), "
                    "then `memem sync`; recall works meanwhile",
                )
            )
        if c.held:
            ids = ", ".join(fence.line(h.id) for h in c.held)
            checks.append(
                Check(
                    "sync",
                    WARN,
                    f"{c.name}: {len(c.held)} memories held back, never pushed (a secret in them): {ids}",
                    "remove the secret from each file (`memem sync status` says where), then "
                    "`memem sync`; or mark it `private: true` to keep it on this machine",
                )
            )
        if c.quarantined:
            ids = ", ".join(fence.line(q.id) for q in c.quarantined)
            checks.append(
                Check(
                    "sync",
                    WARN,
                    f"{c.name}: {len(c.quarantined)} incoming memories quarantined, never recalled: {ids}",
                    "review each file; `memem quarantine release ID` if it is safe, "
                    "`memem purge ID` if it is not",
                )
            )
        if not (c.blocked or c.held or c.quarantined):
            checks.append(
                Check(
                    "sync",
                    OK,
                    f"{c.name}: {c.remote}; last sync {when(c.last_sync) if c.last_sync else 'never'}",
                )
            )
    return checks


def _died(status: dict[str, Any], output: Path) -> bool:
    """Whether the engine's last run failed (it is not running now): its status file says it
    was running (it was killed or crashed: nothing holds its lock), or it wrote output (a
    traceback: it logs to files) after its last heartbeat, or without ever writing one."""
    if status.get("state", "stopped") != "stopped":
        return True
    try:
        out = output.stat()
    except OSError:
        return False
    return out.st_size > 0 and out.st_mtime >= float(status.get("heartbeat") or 0)


def _miner_checks(mining: Mining) -> list[Check]:
    checks: list[Check] = []
    backend = mining.backend_name()
    if backend.startswith("heuristic"):
        fix = "set ANTHROPIC_API_KEY or install the claude CLI for model-quality mining"
        checks.append(Check("miner backend", WARN, backend, fix))
    else:
        checks.append(Check("miner backend", OK, backend))
    mode = mining.opt_in
    if mode == "none":
        checks.append(Check("mining", OK, "off (opt in with /memem-mine or /memem-mine-history)"))
    elif mining.daemon_running():
        checks.append(Check("daemon", OK, f"running; mining {mode} sessions"))
    else:
        checks.append(
            Check(
                "daemon",
                WARN,
                f"mining is on ({mode}) but the daemon is not running",
                "`memem daemon ensure` (the next session start also starts it)",
            )
        )
    dead = mining.dead()
    if dead:
        checks.append(
            Check(
                "mining errors",
                WARN,
                f"{len(dead)} sessions keep failing (retried automatically after a day or more); "
                f"last: {dead[-1].last_error}",
                "fix the cause, then `memem mine --retry-failed` to retry them now",
            )
        )
    tokens = mining.tokens()
    if tokens["paused"]:
        checks.append(
            Check(
                "mining tokens",
                WARN,
                f"today's {tokens['today']['total']:,} tokens reached the daily cap "
                f"({tokens['daily_cap']:,}): mining is paused until 00:00 UTC, nothing is lost",
                "raise MEMEM_MINER_DAILY_TOKENS (or unset it) to resume now",
            )
        )
    raw = (mining.env.get("MEMEM_MINER_DAILY_TOKENS") or "").strip()
    if not mining.settings.miner_daily_tokens and raw and not is_off(raw):
        checks.append(
            Check(
                "mining tokens",
                WARN,
                f"MEMEM_MINER_DAILY_TOKENS={fence.line(raw)!r} is not a whole number of tokens: "
                "no daily cap is in force",
                "set it to a whole number, e.g. MEMEM_MINER_DAILY_TOKENS=200000 (or unset it)",
            )
        )
    failure = mining.settings.state_dir / "bootstrap-failure.txt"
    if failure.exists():
        checks.append(
            Check(
                "bootstrap",
                WARN,
                clip(failure.read_text(errors="replace"), 300),
                "run `sh bootstrap.sh setup` and read its output",
            )
        )
    return checks
