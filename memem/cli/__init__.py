"""The `memem` command line: everything a person or a slash command needs.

Every command has --help. An error is one line on stderr and a non-zero exit, never a
traceback: 1 for a memem error (bad input, not found, refused), 2 for bad usage, 3 for an
internal error (details in the log file).

    memem.cli           the parser and the dispatch, with the error translation
    memem.cli.memories  the memory commands (save, search, get, ... slice)
    memem.cli.system    memem itself: status, welcome, doctor, mine, daemon
    memem.cli.sync      memories over git: sync (init, status, off), team, purge
    memem.cli.learning  learning from use: ledger
    memem.cli.steering  steering recall: feedback, restore, retention (preview, run)
    memem.cli.output    how the CLI writes and fails; demo, doctor: their own commands
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from memem.cli.memories import (
    cmd_forget,
    cmd_get,
    cmd_graph,
    cmd_import,
    cmd_list,
    cmd_quarantine,
    cmd_rebuild_index,
    cmd_reconcile,
    cmd_save,
    cmd_search,
    cmd_slice,
    cmd_timeline,
)
from memem.cli.output import Usage, undecodable
from memem.cli.system import cmd_daemon, cmd_doctor, cmd_mine, cmd_status, cmd_welcome
from memem.errors import MememError

if TYPE_CHECKING:
    from memem.service.store import Store
    from memem.settings import Settings

log = logging.getLogger("memem.cli")

EPILOG = """\
paths: MEMEM_DIR (state: index, logs; default ~/.memem) and MEMEM_OBSIDIAN_VAULT
(the vault; default ~/obsidian-brain). Memories live in <vault>/memem/memories/*.md.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"memem: {message} (see: {self.prog} --help)\n")


def _started_directly(store: Store, args: argparse.Namespace) -> int:
    """`memem hook EVENT` and `memem mcp` are run by memem.__main__ before this parser (which
    has them for --help); only a form __main__ does not recognise and the parser accepts
    (`memem hook -- EVENT`) gets here."""
    raise Usage(f"`memem {args.command}` takes no other arguments")


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
        name: str, func: Callable[[Store, argparse.Namespace], int] | None, help: str
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
    p.add_argument(
        "--project",
        help="project name (default: inside a git repository, its project, named after its "
        "remote, else its folder; elsewhere global)",
    )
    p.add_argument("--tags", help="comma-separated tags, e.g. db,postgres")
    p.add_argument(
        "--private",
        action="store_true",
        help="never leaves this machine: sync does not push it (frontmatter private: true)",
    )
    p.add_argument(
        "--situation",
        action="append",
        default=[],
        metavar="TEXT",
        help="a question or task the memory answers (repeatable), e.g. 'Which database?'",
    )
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
        "--json",
        action="store_true",
        help="a JSON list of {id,title,project,layer,score,snippet,status,ranking}",
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

    p = add(
        "rebuild-index",
        cmd_rebuild_index,
        "Recreate the whole index from the vault, and the vectors that are missing.",
    )
    p.add_argument(
        "--vectors",
        action="store_true",
        help="also make every memory's vector again (the embedding model reads them all)",
    )
    add("reconcile", cmd_reconcile, "Index vault files added or edited outside memem now.")

    p = add("status", cmd_status, "Counts per project and layer, index size, broken files.")
    p.add_argument("--json", action="store_true")

    p = add("welcome", cmd_welcome, "What /memem shows: a welcome for new users, else status.")
    p.add_argument("--json", action="store_true", help="(status only)")

    p = add(
        "doctor", cmd_doctor, "Check the installation: HEALTHY, DEGRADED or FAILING, with fixes."
    )
    p.add_argument("--json", action="store_true")

    add("demo", None, "Seed a temporary vault with sample memories and search it.")
    p = add("slice", cmd_slice, "The Active Memory Slice a hook would inject for QUERY.")
    p.add_argument("query")
    p.add_argument("--scope", help="project (default: from --cwd: its git repository's)")
    p.add_argument("--session-id", help="continue this session (no repeats)")
    p.add_argument("--cwd", help="working directory (default: the current one)")
    p.add_argument("--task-mode", choices=("debug", "implement", "review", "plan"))
    p.add_argument("--writeback-preview", action="store_true", help="show proposed writes")
    p.add_argument("--auto-commit-safe", action="store_true", help="save the safe proposals")
    p.add_argument("--json", action="store_true", help="markdown, abstained, items, deltas")

    from memem.cli import learning, sync

    sync.register(add)
    learning.register(add)

    from memem.cli import steering

    steering.register(add)

    p = add("hook", _started_directly, "Run a Claude Code hook: the event payload on stdin.")
    p.add_argument(
        "event", choices=("SessionStart", "UserPromptSubmit", "PreToolUse", "PreCompact")
    )

    add("mcp", _started_directly, "Run the MCP server on stdin/stdout (Claude Code starts it).")

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
    bad = undecodable(args_list)
    if bad is not None:
        print(f"memem: argument {bad} is not valid UTF-8", file=sys.stderr)
        return 1
    parser = build_parser()
    args = parser.parse_args(args_list)
    from memem import logs
    from memem.engine import client
    from memem.settings import Settings
    from memem.storage import permissions

    permissions.restrict()
    # memem.__main__ asked the engine first (client.cli); without one, the read commands
    # run here and start it for the next command.
    engine = client.enabled(os.environ) and args.command in client.CLI_COMMANDS
    settings = Settings.from_env(os.environ)
    permissions.tighten(settings.state_dir, settings.vault_dir)
    logs.setup(settings.log_dir)
    try:
        if args.func is None:  # `memem demo` opens its own store, in a temporary folder
            from memem.cli import demo

            return demo.run(settings, os.environ)
        from memem.service.store import Store

        try:
            # The model is loaded by the engine; a command run here is lexical, but for
            # `rebuild-index`, which makes the vectors.
            opened = Store.open(
                state_dir=settings.state_dir,
                vault_dir=settings.vault_dir,
                semantic="sync" if args.command == "rebuild-index" else "off",
            )
        except OSError as exc:  # a state dir or vault that cannot be made or read
            print(
                f"memem: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
            )
            return 1
        with opened as store:
            # A read command picks up edits made outside memem (no engine watches the vault).
            return run(store, args, settings, reconcile=args.command in client.CLI_COMMANDS)
    finally:
        if engine:
            client.start(os.environ)  # the next command finds the engine warm


def run(
    store: Store, args: argparse.Namespace, settings: Settings, *, reconcile: bool = False
) -> int:
    """Run a parsed command against `store` (after reconciling the index with the vault when
    `reconcile`): its exit code, memem's errors as one line on stderr (1 for a memem error, 2
    for bad usage, 3 for an internal error; a damaged index is moved aside and rebuilt)."""
    from memem.storage import index

    try:
        if reconcile:
            store.reconcile()
        code: int = args.func(store, args)
        return code
    except Usage as exc:
        print(f"memem: {exc}", file=sys.stderr)
        return 2
    except MememError as exc:
        print(f"memem: {exc}", file=sys.stderr)
        return 1
    except index.SQLiteError as exc:
        log.exception("index error")
        if index.unusable(exc):
            # Damage the open-time check could not see (a bad page deep in the file): the
            # index is derived, so it is moved aside and rebuilt now.
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


def run_captured(store: Store, argv: Sequence[str]) -> tuple[int, str, str]:
    """A read command run in the engine for a client: (exit code, stdout, stderr), as the
    client's own process would have printed them."""
    from memem.cli.output import captured
    from memem.engine.client import CLI_COMMANDS
    from memem.errors import InvalidInput

    if undecodable(argv) is not None:  # the client's own process says which argument
        raise InvalidInput("an argument is not valid UTF-8")
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit:  # a usage error or --help: the client's own process prints it
        raise InvalidInput("not a command the engine runs") from None
    if args.command not in CLI_COMMANDS:
        raise Usage(f"`memem {args.command}` does not run in the engine")
    with captured() as (out, err):
        code = run(store, args, store.settings)
    return code, out.getvalue(), err.getvalue()
