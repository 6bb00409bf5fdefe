"""The `memem` command line: everything a person or a slash command needs.

Every command has --help. An error is one line on stderr and a non-zero exit, never a
traceback: 1 for a memem error (bad input, not found, refused), 2 for bad usage, 3 for an
internal error (details in the log file).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from memem.core import fence
from memem.errors import InvalidInput, MememError

if TYPE_CHECKING:
    from memem.core.memory import Memory
    from memem.service.store import Store

log = logging.getLogger("memem.cli")

EPILOG = """\
paths: MEMEM_DIR (state: index, logs; default ~/.memem) and MEMEM_OBSIDIAN_VAULT
(the vault; default ~/obsidian-brain). Memories live in <vault>/memem/memories/*.md.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"memem: {message} (see: {self.prog} --help)\n")


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _layer_line(layers: dict[int, int] | Any) -> str:
    return " · ".join(f"L{k} {v}" for k, v in sorted(layers.items()))


def _short(memory_id: str) -> str:
    from memem.core.fence import short_id  # a hand-written id may read as the slice's fence

    return short_id(memory_id)


def _show(memory: Memory) -> None:
    print(f"# {memory.title}")
    print(
        f"id {memory.id} · {memory.project} · L{memory.layer} · importance {memory.importance} "
        f"· {memory.status} · {memory.source_type} · created {memory.created:%Y-%m-%d %H:%M}"
    )
    if memory.tags:
        print("tags " + ", ".join(memory.tags))
    if memory.valid_to:
        print(f"valid to {memory.valid_to:%Y-%m-%d %H:%M}")
    print()
    print(memory.content)
    if memory.related:
        print("\nrelated: " + " ".join(_short(i) for i in memory.related))


def _read_stdin() -> str:
    """Standard input as text; bytes that are not UTF-8 are the user's mistake, not ours."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"standard input is not valid UTF-8 (byte {exc.start})") from None


def _undecodable(argv: Sequence[str]) -> int | None:
    """The 1-based position of the first argument that is not valid UTF-8, if any. Python
    hands such bytes over as lone surrogates (surrogateescape), which fail much later, on
    the first encode, as an internal error."""
    for n, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return n
    return None


# -- commands ----------------------------------------------------------------------------------


def cmd_save(store: Store, args: argparse.Namespace) -> int:
    text = _read_stdin() if args.text == "-" else args.text
    tags = [t for t in (args.tags or "").split(",") if t.strip()]
    saved = store.add(
        text,
        title=args.title,
        project=args.project,
        tags=tags,
        layer=args.layer,
        importance=args.importance,
    )
    for kind in saved.redacted:
        print(f"redacted a secret ({kind})")
    for old, why in zip(saved.superseded, saved.reasons, strict=True):
        print(f"superseded {_short(old)}: {why}")
    m = saved.memory
    if saved.outcome == "duplicate":
        print(f"already known (duplicate), L{m.layer} {m.project}: {m.id}")
    else:
        print(f"saved L{m.layer} {m.project}: {m.id}")
        if not saved.indexed:
            print(
                "the index could not be updated; it catches up at the next reconcile",
                file=sys.stderr,
            )
    return 0


def cmd_search(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    hits = store.search(
        args.query,
        project=args.project,
        limit=args.limit,
        include_deprecated=args.include_deprecated,
    )
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    if not hits:
        print("no memories match", file=sys.stderr)
    for h in hits:
        flag = "" if h.status == "active" else f" [{h.status}]"
        print(f"{_short(h.id)}  L{h.layer}  {h.score:.3f}  {h.project}  {h.title}{flag}")
        print(f"          {h.snippet}")
    return 0


def cmd_get(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    memories = store.get_many(args.ids)
    if args.json:
        _print_json([m.to_dict() for m in memories])
        return 0
    for n, m in enumerate(memories):
        if n:
            print("\n" + "-" * 60 + "\n")
        _show(m)
    return 0


def cmd_list(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    listings = store.list(project=args.project, recent=args.recent)
    if args.json:
        _print_json(
            [
                {
                    "project": p.project,
                    "active": p.active,
                    "deprecated": p.deprecated,
                    "layers": {f"L{k}": v for k, v in p.layers.items()},
                    "recent": [
                        {
                            "id": m.id,
                            "title": m.title,
                            "layer": m.layer,
                            "created": m.to_dict()["created"],
                        }
                        for m in p.recent
                    ],
                }
                for p in listings
            ]
        )
        return 0
    if not listings:
        print("no memories yet: add one with `memem save TEXT`", file=sys.stderr)
    from memem.core.fence import label, line  # memory-derived names on memem's own lines

    for p in listings:
        print(
            f"{label(p.project)}: {p.active} active ({_layer_line(p.layers)}),"
            f" {p.deprecated} deprecated"
        )
        for m in p.recent:
            print(f"  {_short(m.id)}  L{m.layer}  {line(m.title)}")
    return 0


def cmd_timeline(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    thread = store.timeline(args.id, window=args.window)
    if args.json:
        _print_json([{**m.to_dict(), "why": why} for m, why in thread])
        return 0
    from memem.core.fence import line

    for m, why in thread:
        marker = ">" if why == "this memory" else " "
        print(
            f"{marker} {m.created:%Y-%m-%d %H:%M}  {_short(m.id)}  L{m.layer}  {line(m.title)}"
            f"  ({why})"
        )
    return 0


def cmd_forget(store: Store, args: argparse.Namespace) -> int:
    m = store.forget(args.id, reason=args.reason)
    print(f"deprecated (the file stays in the vault, out of recall): {m.id}")
    return 0


def cmd_import(store: Store, args: argparse.Namespace) -> int:
    report = store.import_path(args.path, project=args.project)
    for path, why in report.errors:
        print(f"skipped {path}: {why}", file=sys.stderr)
    for memory_id, why in report.quarantined:
        print(f"quarantined: {why} ({memory_id}; review it, then `memem quarantine release`)")
    print(
        f"imported {len(report.created)} memories, {len(report.duplicates)} already known, "
        f"{len(report.errors)} files skipped, {len(report.quarantined)} quarantined"
    )
    nothing = not (report.created or report.duplicates or report.quarantined)
    return 1 if report.errors and nothing else 0


def cmd_quarantine(store: Store, args: argparse.Namespace) -> int:
    if args.action == "release":
        if not args.id:
            raise _usage("quarantine release needs a memory id")
        released = store.release(args.id)
        print(f"released {released.id} ({released.file}): it is indexed and recalled from now on")
        return 0
    if args.id:
        raise _usage("quarantine list takes no id")
    store.reconcile()
    held = store.quarantined()
    if args.json:
        _print_json([q.to_dict() for q in held])
        return 0
    if not held:
        print("nothing quarantined")
    for q in held:
        print(f"{q.id}  {fence.line(q.file)}: {fence.line(q.reason)}")
        print(f"    sha256 {q.hash[:16]}  {fence.line(q.excerpt)}")
    return 0


def cmd_graph(store: Store, args: argparse.Namespace) -> int:
    action = args.action
    if action == "rebuild":
        counts = store.graph_rebuild()
        print(f"graph rebuilt: {sum(counts.values())} edges " + json.dumps(counts))
        return 0
    store.reconcile()
    if action == "stats":
        stats = store.graph_stats()
        if args.json:
            _print_json(stats)
        else:
            for key, value in stats.items():
                print(f"{key}: {value}")
        return 0
    if action == "audit":
        a = store.graph_audit()
        result = {
            "orphans": list(a.orphans),
            "dead_links": [{"memory": m, "missing": r} for m, r in a.dead_links],
            "hubs": [{"memory": m, "degree": d} for m, d in a.hubs],
            "stale_edges": [{"src": e.src, "dst": e.dst, "type": e.type} for e in a.stale_edges],
            "edge_counts": dict(a.edge_counts),
        }
        if args.json:
            _print_json(result)
        else:
            print(
                f"orphans: {len(a.orphans)}  dead links: {len(a.dead_links)}  "
                f"hubs: {len(a.hubs)}  stale edges: {len(a.stale_edges)}"
            )
            for m, r in a.dead_links[:20]:
                print(f"  dead link {_short(m)} -> {r}")
            for e in a.stale_edges[:20]:
                print(f"  stale {e.type} {_short(e.src)} -> {_short(e.dst)}")
        return 0
    if not args.id:
        raise _usage("graph neighbors needs a memory id")
    neighbors = store.neighbors(args.id, limit=args.limit)
    if args.json:
        _print_json(
            [
                {
                    "id": n.memory.id,
                    "title": n.memory.title,
                    "type": n.type,
                    "score": n.score,
                    "direction": n.direction,
                }
                for n in neighbors
            ]
        )
        return 0
    if not neighbors:
        print("no neighbours", file=sys.stderr)
    for n in neighbors:
        arrow = "->" if n.direction == "out" else "<-"
        print(f"{arrow} {n.type:<13} {n.score:.2f}  {_short(n.memory.id)}  {n.memory.title}")
    return 0


def cmd_rebuild_index(store: Store, args: argparse.Namespace) -> int:
    print("rebuilding the index from the vault...", file=sys.stderr)
    report = store.rebuild_index()
    print(
        f"index rebuilt: {report.added} memories, {report.broken} broken files skipped, "
        f"{report.quarantined} quarantined"
    )
    return 0


def cmd_reconcile(store: Store, args: argparse.Namespace) -> int:
    r = store.reconcile()
    print(
        f"added {r.added}, updated {r.updated}, removed {r.removed}, broken {r.broken}, "
        f"quarantined {r.quarantined}, unchanged {r.unchanged}"
    )
    return 0


def miner_status() -> dict[str, Any]:
    """What `status` says about mining: opt-in, backend, daemon, sessions, errors."""
    from memem.mining import backends, lifecycle
    from memem.mining.miner import MinerState
    from memem.settings import Settings

    settings = Settings.from_env(os.environ)
    state = MinerState(settings.miner_path)
    daemon = lifecycle.read_status(settings)
    last = state.rows("mined_at IS NOT NULL")
    errors = state.rows("last_error IS NOT NULL AND status IN ('failed', 'dead')")
    return {
        "opt_in": state.opt_in,
        "backend": backends.describe(settings),
        "daemon": "running" if daemon["running"] else "not running",
        "heartbeat": daemon.get("heartbeat"),
        "sessions": state.counts(),
        "last_mined": max(last, key=lambda r: r.mined_at or 0).path if last else None,
        "errors": [
            {"session": r.path, "status": r.status, "error": r.last_error} for r in errors[-5:]
        ],
    }


def cmd_status(store: Store, args: argparse.Namespace) -> int:
    store.reconcile()
    status = store.status()
    mining = miner_status()
    if args.json:
        _print_json({**status.to_dict(), "miner": mining})
        return 0
    print(f"vault  {status.vault_dir}")
    print(f"state  {status.state_dir}")
    print(
        f"memories: {status.active} active, {status.deprecated} deprecated; "
        f"{status.edges} graph edges; index {status.index_bytes / 1e6:.1f} MB"
    )
    for project, layers in status.projects.items():
        print(f"  {project}: {_layer_line(dict(layers))}")
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
    return 0


def cmd_welcome(store: Store, args: argparse.Namespace) -> int:
    """/memem: a welcome with the two mining choices for a new user, status for the others."""
    mining = miner_status()
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

    report = doctor.check(store)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.render())
    return 0 if report.verdict != "FAILING" else 1


def cmd_slice(store: Store, args: argparse.Namespace) -> int:
    built = store.slice(
        args.query,
        scope=args.scope,
        session_id=args.session_id,
        cwd=args.cwd or os.getcwd(),
        task_mode=args.task_mode,
        writeback_preview=args.writeback_preview,
        auto_commit_safe=args.auto_commit_safe,
    )
    if args.json:
        _print_json(built.to_dict())
        return 0
    if built.abstained:
        print(f"(no slice: {built.reason})", file=sys.stderr)
    else:
        print(built.markdown)
    # After the fence: every memory-derived string here is neutralised like the slice's body.
    from memem.core.fence import label, line

    for delta in built.deltas:
        mark = "safe" if delta.safe else "needs review"
        print(line(f"proposed {delta.kind} ({mark}): {delta.summary}", 400))
    for memory_id in built.applied:
        print(f"saved {label(memory_id)}")
    return 0


def cmd_mine(store: Store, args: argparse.Namespace) -> int:
    import time

    from memem.mining import backends, lifecycle
    from memem.mining.miner import Miner, MinerState, session_files
    from memem.settings import Settings

    settings = Settings.from_env(os.environ)
    state = MinerState(settings.miner_path)
    state.discover(session_files(settings.session_dirs))
    if args.count:
        print(
            f"{len(state.rows())} past sessions found in "
            f"{', '.join(map(str, settings.session_dirs))}; mining is {state.opt_in}"
        )
        return 0
    if args.opt_out:
        state.set_opt_in("none", time.time())
        print("mining is off: no session will be mined (memories already saved stay)")
        return 0
    if args.opt_in == "new":
        state.set_opt_in("new", time.time())
        print(f"mining on for new sessions; daemon {lifecycle.ensure(settings)}")
        return 0
    if args.opt_in == "history":
        count = len(state.rows())
        print(f"{count} past sessions found in {', '.join(map(str, settings.session_dirs))}")
        if sys.stdin.isatty() and not args.yes:
            answer = input("Mine all of them (and every new session)? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("nothing changed")
                return 0
        state.set_opt_in("history", time.time())
        print(f"mining on for every session; daemon {lifecycle.ensure(settings)}")
        return 0
    if args.retry_failed:
        print(f"{state.reset_failed()} failed sessions will be retried")
    targets = (
        [str(p) for p in args.session]
        if args.session
        else [r.path for r in state.rows("size > cursor AND status != 'skipped'")]
        if args.all or args.retry_failed
        else []
    )
    if not targets:
        raise _usage(
            "say what to mine: --session PATH, --all, --retry-failed, or --opt-in new|history"
        )
    miner = Miner(store, state, backends.choose(settings))
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
    from memem.mining import lifecycle
    from memem.settings import Settings

    settings = Settings.from_env(os.environ)
    if args.action == "ensure":
        print(f"daemon {lifecycle.ensure(settings)}")
    elif args.action == "stop":
        print(f"daemon {lifecycle.stop(settings)}")
    elif args.action == "status":
        status = lifecycle.read_status(settings)
        if args.json:
            _print_json(status)
        else:
            state = "running" if status["running"] else "not running"
            beat = status.get("heartbeat")
            ago = f", heartbeat {time_ago(beat)}" if beat else ""
            print(f"daemon {state}{ago}; backend {status.get('backend', '?')}")
            if status.get("last_error"):
                print(f"last error: {status['last_error']}")
    else:
        raise _usage("`memem daemon run` is started directly, not through the CLI parser")
    return 0


def time_ago(stamp: float) -> str:
    import time

    seconds = max(0, int(time.time() - float(stamp)))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def cmd_entry(store: Store, args: argparse.Namespace) -> int:
    raise AssertionError("`memem hook` and `memem mcp` are dispatched by memem.__main__")


def cmd_demo(store: Store, args: argparse.Namespace) -> int:
    from memem.cli import demo

    return demo.run(store)


# -- wiring ------------------------------------------------------------------------------------


class _Usage(MememError):
    pass


def _usage(message: str) -> _Usage:
    return _Usage(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="memem",
        description="Persistent memory for Claude Code: markdown memories in an Obsidian vault, "
        "searchable through a SQLite FTS5 + graph index.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="memem 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(
        name: str, func: Callable[[Store, argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    p = add("save", cmd_save, "Save a memory (prints its id as the last word).")
    p.add_argument("text", help="the memory's content ('-' reads standard input)")
    p.add_argument("--title", help="a short title (default: the first line)")
    p.add_argument("--project", help="project name (default: global)")
    p.add_argument("--tags", help="comma-separated tags, e.g. db,postgres")
    p.add_argument(
        "--layer",
        type=int,
        choices=range(4),
        metavar="N",
        help="0 identity, 1 convention, 2 domain, 3 archival (default: classified)",
    )
    p.add_argument(
        "--importance", type=int, choices=range(1, 6), metavar="N", help="1-5 (default 3)"
    )

    p = add("search", cmd_search, "Search memories (any wording: a question, keywords).")
    p.add_argument("query")
    p.add_argument("--project", help="only this project (default: every project)")
    p.add_argument(
        "--limit", type=int, default=10, help="at most this many hits (1-100, default 10)"
    )
    p.add_argument(
        "--include-deprecated", action="store_true", help="also superseded/forgotten memories"
    )
    p.add_argument(
        "--json", action="store_true", help="a JSON list of {id,title,project,layer,score,snippet}"
    )

    p = add("get", cmd_get, "Show memories in full by id (or unique short-id prefix).")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument(
        "--json", action="store_true", help="a JSON list of memories (all fields + content)"
    )

    p = add("list", cmd_list, "Memories grouped by project, with counts per layer.")
    p.add_argument("--project", help="only this project")
    p.add_argument(
        "--recent", type=int, default=10, help="recent memories shown per project (default 10)"
    )
    p.add_argument("--json", action="store_true")

    p = add("timeline", cmd_timeline, "The chronological thread around a memory.")
    p.add_argument("id")
    p.add_argument(
        "--window", type=int, default=3, help="project memories before and after (default 3)"
    )
    p.add_argument("--json", action="store_true")

    p = add("forget", cmd_forget, "Deprecate a memory (its file stays, marked deprecated).")
    p.add_argument("id")
    p.add_argument("--reason", help="why, kept in the file")

    p = add("import", cmd_import, "Import markdown/text files, a directory, or a CLAUDE.md.")
    p.add_argument("path")
    p.add_argument("--project", help="project for the imported memories")

    p = add("graph", cmd_graph, "The memory graph: rebuild | audit | stats | neighbors ID.")
    p.add_argument("action", choices=("rebuild", "audit", "stats", "neighbors"))
    p.add_argument("id", nargs="?", help="memory id (for neighbors)")
    p.add_argument("--limit", type=int, default=20, help="neighbours shown (default 20)")
    p.add_argument("--json", action="store_true")

    p = add(
        "quarantine",
        cmd_quarantine,
        "Memories the security scan refused on a vault edit or an import: list | release ID.",
    )
    p.add_argument("action", choices=("list", "release"))
    p.add_argument("id", nargs="?", help="memory id (for release), full or a unique prefix")
    p.add_argument("--json", action="store_true", help="with list: [{id, file, reason}]")

    add("rebuild-index", cmd_rebuild_index, "Recreate the whole index from the vault.")
    add("reconcile", cmd_reconcile, "Index vault files added or edited outside memem now.")

    p = add("status", cmd_status, "Counts per project and layer, index size, broken files.")
    p.add_argument("--json", action="store_true")

    p = add("welcome", cmd_welcome, "What /memem shows: a welcome for new users, else status.")
    p.add_argument("--json", action="store_true", help="(status only)")

    p = add(
        "doctor", cmd_doctor, "Check the installation: HEALTHY, DEGRADED or FAILING, with fixes."
    )
    p.add_argument("--json", action="store_true")

    add("demo", cmd_demo, "Seed a temporary vault with sample memories and search it.")
    p = add("slice", cmd_slice, "The Active Memory Slice a hook would inject for QUERY.")
    p.add_argument("query")
    p.add_argument("--scope", help="project (default: from --cwd: its git root's name)")
    p.add_argument("--session-id", help="continue this session (no repeats)")
    p.add_argument("--cwd", help="working directory (default: the current one)")
    p.add_argument("--task-mode", choices=("debug", "implement", "review", "plan"))
    p.add_argument("--writeback-preview", action="store_true", help="show proposed writes")
    p.add_argument("--auto-commit-safe", action="store_true", help="save the safe proposals")
    p.add_argument("--no-llm", action="store_true", help="heuristic judgement only (the default)")
    p.add_argument("--json", action="store_true", help="markdown, abstained, items, deltas")

    p = add("hook", cmd_entry, "Run a Claude Code hook: the event payload on stdin.")
    p.add_argument(
        "event", choices=("SessionStart", "UserPromptSubmit", "PreToolUse", "PreCompact")
    )

    add("mcp", cmd_entry, "Run the MCP server on stdin/stdout (Claude Code starts it).")

    p = add("mine", cmd_mine, "Mine Claude Code sessions into memories (opt in first).")
    p.add_argument(
        "--opt-in",
        choices=("new", "history"),
        help="new: sessions from now on; history: also every past session",
    )
    p.add_argument("--opt-out", action="store_true", help="stop mining")
    p.add_argument("--yes", action="store_true", help="no confirmation for --opt-in history")
    p.add_argument(
        "--session",
        action="append",
        type=str,
        metavar="PATH",
        help="mine this transcript now (repeatable), whatever the backoff",
    )
    p.add_argument("--all", action="store_true", help="mine every known session now")
    p.add_argument("--retry-failed", action="store_true", help="retry failed and dead sessions now")
    p.add_argument("--count", action="store_true", help="only count the sessions there are")

    p = add("daemon", cmd_daemon, "The miner daemon: run [--once] | ensure | stop | status.")
    p.add_argument("action", choices=("run", "ensure", "stop", "status"))
    p.add_argument("--once", action="store_true", help="with run: mine what is due, then exit")
    p.add_argument("--json", action="store_true", help="with status")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    bad = _undecodable(args_list)
    if bad is not None:
        print(f"memem: argument {bad} is not valid UTF-8", file=sys.stderr)
        return 1
    parser = build_parser()
    args = parser.parse_args(args_list)
    from memem import logs
    from memem.settings import Settings
    from memem.storage import permissions

    permissions.restrict()
    settings = Settings.from_env(os.environ)
    permissions.tighten(settings.state_dir, settings.vault_dir)
    logs.setup(settings.log_dir)
    try:
        if args.command == "demo":
            return cmd_demo(None, args)  # type: ignore[arg-type]  # the demo opens its own store
        from memem.service.store import Store

        with Store.open(state_dir=settings.state_dir, vault_dir=settings.vault_dir) as store:
            code: int = args.func(store, args)
            return code
    except _Usage as exc:
        print(f"memem: {exc}", file=sys.stderr)
        return 2
    except MememError as exc:
        print(f"memem: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        log.exception("index error")
        from memem.storage import index

        if index.unusable(exc):
            # Damage the open-time check could not see (a bad page deep in the file): the
            # index is derived, so it is moved aside and rebuilt now.
            from memem.service.store import Store

            with Store.open(state_dir=settings.state_dir, vault_dir=settings.vault_dir) as store:
                aside = store.recover_index(str(exc))
            print(
                f"memem: the index was damaged ({exc}); moved it aside to {aside} and rebuilt "
                "it from the vault: run the command again",
                file=sys.stderr,
            )
            return 1
        print(f"memem: index error: {exc} (try `memem rebuild-index`)", file=sys.stderr)
        return 1
    except OSError as exc:
        log.exception("file system error")
        print(f"memem: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.exception("internal error")
        print(
            f"memem: internal error: {type(exc).__name__}: {exc} (details in "
            f"{settings.log_dir / 'memem.log'})",
            file=sys.stderr,
        )
        return 3
