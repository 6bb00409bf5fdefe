"""The CLI's commands about memem itself: `status`, `welcome`, `doctor`, `mine` (opt in or
out, mine now) and `daemon` (ensure, stop, status); mining goes through the mining service
(memem.mining.service)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from memem.cli.output import Usage, layer_line, print_json
from memem.core import fence

if TYPE_CHECKING:
    from memem.mining.service import Mining
    from memem.service.store import Store
    from memem.service.sync import ChannelStatus
    from memem.settings import Settings


def service() -> Mining:
    """The mining service, configured by this process's environment."""
    from memem.mining.service import Mining
    from memem.settings import Settings

    return Mining(Settings.from_env(os.environ), os.environ)


def cmd_status(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    status = store.status()
    mining_service = service()
    mining = mining_service.status()
    live = engine_status(mining_service)
    engine = engine_summary(mining_service, live)
    embedder = embedder_summary(store, live)
    from memem.service.sync import Sync

    channels = Sync(store).status()
    if args.json:
        print_json(
            {
                **status.to_dict(),
                "miner": mining,
                "engine": engine,
                "embedder": embedder,
                "sync": [c.to_dict() for c in channels],
            }
        )
        return 0
    print(f"vault  {status.vault_dir}")
    print(f"state  {status.state_dir}")
    print(
        f"memories: {status.active} active, {status.deprecated} deprecated"
        + (f", {status.archived} archived" if status.archived else "")
        + "; "
        f"{status.edges} graph edges; index {status.index_bytes / 1e6:.1f} MB"
    )
    for project, layers in status.projects.items():
        print(f"  {project}: {layer_line(dict(layers))}")
    if status.broken:
        print(f"broken files ({len(status.broken)}), skipped and left untouched:")
        for name, reason in status.broken.items():
            # A file name and a reason quote the vault (a bad value, a hostile name): shown
            # the way memem shows any memory-derived text outside the fence.
            print(f"  {fence.line(name)}: {fence.line(reason)}")
    if status.quarantined:
        print(
            f"quarantined ({len(status.quarantined)}), never recalled; "
            "`memem quarantine release ID` after review:"
        )
        for memory_id, (name, reason) in status.quarantined.items():
            print(f"  {memory_id}  {fence.line(name)}: {fence.line(reason)}")
    sessions = ", ".join(f"{n} {s}" for s, n in sorted(mining["sessions"].items())) or "none seen"
    print(f"mining: {mining['opt_in']}; backend {mining['backend']}; daemon {mining['daemon']}")
    print(f"  sessions: {sessions}; last mined: {mining['last_mined'] or '-'}")
    for e in mining["errors"]:
        print(f"  {e['status']}: {e['session']}: {e['error']}")
    print(f"engine: {engine_line(engine)}")
    print(f"embedder: {embedder_line(embedder)}")
    for line in sync_lines(mining_service.settings, channels, live.get("sync")):
        print(line)
    return 0


def sync_lines(
    settings: Settings, channels: list[ChannelStatus], engine: dict[str, Any] | None
) -> list[str]:
    """`memem status`'s sync lines: whether it is connected and scheduled, each channel's
    state (memem.cli.sync), and a failure of the engine's last scheduled sync (`engine`: the
    engine's `sync` status while it answers)."""
    from memem.cli.sync import status_lines

    if not channels:
        return ["sync: not connected (`memem sync init REMOTE`, `memem team add ...`)"]
    # The engine's own schedule while it answers; else the one it will run with.
    every = (engine.get("interval") or 0.0) if engine else settings.sync_interval
    schedule = (
        f"the engine syncs every {every:g} s and after mining"
        + ("" if engine else " (while it runs)")
        if every
        else "no schedule (MEMEM_SYNC_INTERVAL=off): `memem sync` by hand"
    )
    lines = [f"sync: {schedule}"]
    lines += ["  " + line for c in channels for line in status_lines(c)]
    failed = (engine or {}).get("last_error")
    if failed and not any(c.blocked for c in channels):
        lines.append(f"  the engine's last sync failed: {fence.line(str(failed))}")
    return lines


def cmd_welcome(store: Store, args: argparse.Namespace) -> int:
    """/memem: a welcome with the two mining choices for a new user, status for the others."""
    mining = service().status()
    status = store.status()
    if mining["opt_in"] == "none" and status.memories == 0:
        past = sum(mining["sessions"].values())
        print("WELCOME (new memem user)")
        print(f"past Claude Code sessions found: {past}")
        print("choice 1: /memem-mine          mine new sessions from now on")
        print(f"choice 2: /memem-mine-history  also mine the {past} past sessions")
        print(f"memories will be markdown files in {status.vault_dir}/memem/memories")
        return 0
    return cmd_status(store, args)


def cmd_doctor(store: Store, args: argparse.Namespace) -> int:
    from memem.cli import doctor

    report = doctor.check(store, service())
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return 0 if report.verdict != "FAILING" else 1


def cmd_mine(store: Store, args: argparse.Namespace) -> int:
    mining = service()
    mining.discover()
    folders = ", ".join(map(str, mining.settings.session_dirs))
    if args.count:
        print(f"{mining.sessions()} past sessions found in {folders}; mining is {mining.opt_in}")
        return 0
    if args.opt_out:
        mining.opt("none")
        print("mining is off: no session will be mined (memories already saved stay)")
        return 0
    if args.opt_in == "new":
        print(f"mining on for new sessions; daemon {mining.opt('new')}")
        return 0
    if args.opt_in == "history":
        print(f"{mining.sessions()} past sessions found in {folders}")
        if sys.stdin.isatty() and not args.yes:
            answer = input("Mine all of them (and every new session)? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("nothing changed")
                return 0
        print(f"mining on for every session; daemon {mining.opt('history')}")
        return 0
    if args.retry_failed:
        print(f"{mining.retry_failed()} failed sessions will be retried")
        if not args.session and not mining.unmined():
            return 0  # asked, answered: nothing is left to mine, which is not a usage error
    if args.all and not args.session and not mining.unmined():
        print("nothing to mine: every session found is mined")
        return 0
    targets = (
        [str(p) for p in args.session]
        if args.session
        else mining.unmined()
        if args.all or args.retry_failed
        else []
    )
    if not targets:
        raise Usage(
            "say what to mine: --session PATH, --all, --retry-failed, or --opt-in new|history"
        )
    miner = mining.miner(store)
    total = 0
    for n, path in enumerate(targets, 1):
        if not os.path.isfile(path):
            print(f"[{n}/{len(targets)}] {path}: no such file", file=sys.stderr)
            continue
        outcome = miner.mine(path, explicit=True)
        total += outcome.memories
        detail = f", {outcome.error}" if outcome.error else ""
        print(
            f"[{n}/{len(targets)}] {outcome.status}: {outcome.memories} new memories, "
            f"{outcome.duplicates} already known{detail} ({path})"
        )
    print(f"mined {len(targets)} sessions with {miner.backend.name}: {total} new memories")
    return 0


def cmd_daemon(store: Store, args: argparse.Namespace) -> int:
    mining = service()
    if args.action == "ensure":
        started = mining.daemon_ensure()
        problem = engine_ready(mining, wait=ENSURE_SECONDS) if "not started" not in started else ""
        if problem:
            print(f"memem: the engine did not start: {problem}", file=sys.stderr)
            return 1
        print(f"daemon {started}" + ("" if "not started" in started else "; the engine answers"))
    elif args.action == "stop":
        print(f"daemon {mining.daemon_stop()}")
    elif args.action == "status":
        status = engine_status(mining)
        if args.json:
            print_json(status)
        else:
            state = "running" if status["running"] else "not running"
            if status["running"]:
                state += ", answering" if status["ready"] else ", not answering yet"
            beat = status.get("heartbeat")
            ago = f", heartbeat {time_ago(beat)}" if beat else ""
            print(f"daemon {state}{ago}; backend {status.get('backend', '?')}")
            if status.get("socket"):
                print(
                    f"socket {status['socket']} · pid {status.get('pid')} · code {status.get('version')}"
                )
            if status.get("last_error"):
                print(f"last error: {status['last_error']}")
    else:
        # `memem daemon run [--once]` is run by memem.__main__ before this parser; only a form
        # it does not recognise (`memem daemon run --json`) gets here.
        raise Usage("`memem daemon run` takes no option but --once")
    return 0


ENSURE_SECONDS = 20.0


def engine_status(mining: Mining) -> dict[str, Any]:
    """The heartbeat file, whether a daemon holds the lock (`running`), and whether it
    answers on its socket (`ready`, with its own view when it does)."""
    from memem.engine import client

    status = mining.daemon_status()
    for key in ("pid", "socket", "version"):
        status.setdefault(key, None)
    status["ready"] = False
    if status["running"]:
        try:
            live = client.call(mining.env, str(mining.settings.state_dir), "status", timeout=2.0)
        except client.Unavailable:
            pass
        else:
            status.update(live)
    return status


def engine_summary(mining: Mining, status: dict[str, Any]) -> dict[str, Any]:
    """`memem status`'s "engine" from its `engine_status`: whether it is `enabled` (not
    MEMEM_ENGINE=off), `running` and `ready` (answering on its socket); its `pid`, `socket` and
    code `version` while it runs; the `requests` it served and whether it is `watching_vault`
    while it answers."""
    from memem.engine import client

    running, ready = bool(status["running"]), bool(status["ready"])
    return {
        "enabled": client.enabled(mining.env),
        "running": running,
        "ready": ready,
        "pid": status.get("pid") if running else None,
        "socket": status.get("socket") if running else None,
        "version": status.get("version") if running else None,
        "requests": status.get("requests") if ready else None,
        "watching_vault": bool(status.get("watching_vault")) if ready else False,
    }


def embedder_summary(store: Store, engine: dict[str, Any]) -> dict[str, Any]:
    """`memem status`'s "embedder": the engine's (from its `engine_status`) when it answers
    (it holds the model); else whether the model could be used here. `state` is `ready`,
    `loading` or `missing`, `reason` says why when it is not ready, `vectors` counts the
    memories with a vector."""
    from memem.storage import embedder

    local = store.semantic.status(store.index.connection())
    live = engine.get("embedder")
    if isinstance(live, dict) and live.get("mode") == "background":
        state, reason = str(live.get("state")), live.get("reason")
        local["vectors"], local["pending"] = live.get("vectors"), live.get("pending")
        where = "engine"
    elif not store.settings.semantic:
        # This store is off (a command runs lexically here); its reason names the setting.
        state, reason, where = "missing", local["reason"], ""
    else:
        reason = embedder.probe() or None
        state = "missing" if reason else "ready"
        where = ""
    if state == "off":
        state = "missing"
    return {**local, "state": state, "reason": reason, "engine": where == "engine"}


def embedder_line(embedder: dict[str, Any]) -> str:
    """The embedding model's state in one line (`memem status`)."""
    counts = f"{embedder['vectors']} of {embedder['memories']} memories have a vector"
    if embedder["state"] == "missing":
        return f"missing: {embedder['reason']}; recall is lexical (words only)"
    if embedder["state"] == "loading":
        return f"loading in the engine; {counts}; recall is lexical until it is ready"
    if not embedder["engine"]:
        return (
            f"installed; {counts}; the engine is not running: hooks and commands recall "
            "lexically until it starts (`memem daemon ensure`)"
        )
    return f"ready (hybrid recall: words and meaning); {counts}"


def engine_line(engine: dict[str, Any]) -> str:
    """The engine's state in one line (`memem status`)."""
    off = "" if engine["enabled"] else "off (MEMEM_ENGINE=off): hooks and commands work in-process"
    if not engine["running"]:
        return off or "not running: hooks and commands work in-process; `memem daemon ensure`"
    line = f"running (pid {engine['pid']})"
    if engine["ready"]:
        watching = "; watching the vault" if engine["watching_vault"] else ""
        line += f", answering on {engine['socket']}; {engine['requests']} requests{watching}"
    else:
        line += ", not answering on its socket"
    return f"{off}; {line}" if off else line


def engine_ready(mining: Mining, *, wait: float) -> str:
    """ "" once the engine answers on its socket; else why not (after `wait` seconds)."""
    import time

    from memem.engine import client
    from memem.mining import lifecycle

    settings = mining.settings
    deadline = time.monotonic() + wait
    grace = time.monotonic() + 3.0  # a process just spawned needs a moment to take its lock
    reason = "it did not answer"
    while time.monotonic() < deadline:
        try:
            client.call(mining.env, str(settings.state_dir), "status", timeout=2.0)
            return ""
        except client.Unavailable as exc:
            reason = str(exc)
        running = lifecycle.read_status(settings)
        # Running without a socket and with an error: it could not listen (without an error,
        # it is a `daemon run --once`, busy mining).
        listening = running.get("state") != "running" or running.get("socket")
        if running["running"] and not listening and running.get("last_error"):
            return f"it runs but cannot listen: {running['last_error']}"
        if time.monotonic() > grace and not running["running"]:
            return f"it is not running ({last_words(settings)})"
        time.sleep(0.05)
    return f"{reason} within {wait:.0f} s"


def last_words(settings: Settings) -> str:
    """Why the engine stopped, from its status file or the tail of its output."""
    from memem.mining import lifecycle

    error = lifecycle.read_status(settings).get("last_error")
    out = settings.log_dir / "daemon.out"
    try:
        tail = out.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    except OSError:
        tail = []
    return f"{error or ' / '.join(tail) or 'no output'}; log: {out}"


def time_ago(stamp: float) -> str:
    import time

    seconds = max(0, int(time.time() - float(stamp)))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
