"""The CLI's commands about memories over git (memem.service.sync): `memem sync` (run, init,
status, off), `memem team` (add, list, remove) and `memem purge`, the one hard delete, whose
tombstone syncs. They run in this process; the engine's scheduled sync and a command never
run at the same time (the sync lock, memem.service.sync)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from memem.cli.output import Add, print_json, progress
from memem.core import fence
from memem.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from memem.service.store import Store
    from memem.service.sync import ChannelStatus, Conflict, Held, Outcome


REMOTES = """\
REMOTE is any git URL or path git can push to: a private repository on a hosting service
(git@github.com:you/memories.git, https://github.com/you/memories.git), a bare repository
on a disk (/mnt/usb/memories.git, made with `git init --bare`). memem uses the branch
`memem` in it, so an existing repository can carry memories without touching its code.
Credentials are git's own (an SSH agent or key, a credential helper): memem never asks for,
stores or logs one, and refuses a URL with a password or token in it.
"""

SYNC = (
    "Sync memories with git remotes: every channel is pulled, the index reconciled, and "
    "what changed here pushed (`memem sync init REMOTE` connects first)."
)
SYNC_EPILOG = f"""\
commands:
  memem sync                 run every channel now (the engine also does, on a schedule)
  memem sync init REMOTE     connect your memories (every project) to REMOTE, or move them
  memem sync status [--json] ahead, behind, blocked and why, held back, quarantined, conflicts
  memem sync off             disconnect (nothing local is lost; the remote keeps its copy)

{REMOTES}
What syncs: memory files (not `private: true` ones, and not one with a secret in it: held
back and listed by `sync status`), tombstones of purged memories, playbooks. What never
does: the index, the ledger, usage statistics. The git data lives in <state>/sync/, never
in the vault. MEMEM_SYNC_INTERVAL sets the engine's schedule (seconds, default 300; 0 or
off: only by hand).
"""
TEAM = "Share one project's memories with a team through a git remote: add | list | remove."
TEAM_EPILOG = f"""\
commands:
  memem team add NAME REMOTE --project PROJECT   share PROJECT with the team NAME
  memem team list [--json]                      the teams, their remotes and projects
  memem team remove NAME                        stop sharing (nothing local is lost)

Teammates' memories arrive in the vault marked with their author, and enter recall like any
other once they pass the injection scan (one that fails is quarantined and listed).

{REMOTES}"""
PURGE = (
    "Delete a memory for good: its file and index entry go, and a tombstone keeps it from "
    "coming back through sync (`forget` only deprecates)."
)


def register(add: Add) -> None:
    """The `sync`, `team` and `purge` parsers, made with memem.cli's `add`."""
    p = add("sync", cmd_sync, SYNC)
    p.epilog = SYNC_EPILOG
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    sub = _sub(
        actions,
        "init",
        "Connect your memories (every project) to REMOTE and sync; with another REMOTE than "
        "the one connected, move to it.",
        REMOTES,
    )
    sub.add_argument("remote", metavar="REMOTE", help="a git URL or path")
    sub = _sub(actions, "status", "Per channel: ahead, behind, blocked and why, held, conflicts.")
    sub.add_argument(
        "--json",
        action="store_true",
        help="a JSON list of {name, remote, project, ahead, behind, held, quarantined, "
        "conflicts, last_sync, last_error, next_try, blocked}",
    )
    _sub(actions, "off", "Disconnect your memories from their remote (nothing local is lost).")

    p = add("team", cmd_team, TEAM)
    p.epilog = TEAM_EPILOG
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    sub = _sub(
        actions, "add", "Share PROJECT's memories with the team NAME through REMOTE.", REMOTES
    )
    sub.add_argument("name", metavar="NAME", help="a short name for the team, e.g. shop-team")
    sub.add_argument("remote", metavar="REMOTE", help="a git URL or path")
    sub.add_argument(
        "--project", required=True, help="the project shared (as `memem list` names it)"
    )
    sub = _sub(actions, "list", "The teams: their names, remotes and projects.")
    sub.add_argument("--json", action="store_true", help="a JSON list of {name, remote, project}")
    sub = _sub(actions, "remove", "Stop sharing with the team NAME (nothing local is lost).")
    sub.add_argument("name", metavar="NAME")

    p = add("purge", cmd_purge, PURGE)
    p.add_argument("id", metavar="ID", help="the memory's id (or a unique prefix)")
    p.add_argument("--reason", default="", help="why, kept in the tombstone")


def _sub(actions: Any, name: str, help: str, epilog: str = "") -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name,
        help=help,
        description=help,
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _behind_the_prompt() -> None:
    """A sync by hand runs at git's niceness, as the engine's does: a user's prompt (the hook,
    answered by the engine) must not wait for a sync's reading, hashing and indexing."""
    from memem.storage.git import NICENESS

    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def cmd_sync(store: Store, args: argparse.Namespace) -> int:
    from memem.service.sync import PERSONAL, Sync

    sync = Sync(store)
    if args.action == "init":
        before = {c.name: c for c in sync.channels()}
        outcome = _with_progress(
            lambda shown: sync.connect(args.remote, name=PERSONAL, progress=shown)
        )
        old = before.get(PERSONAL)
        channel = {c.name: c for c in sync.channels()}[PERSONAL]
        moved = f" (moved from {old.remote})" if old and old.remote != channel.remote else ""
        print(f"connected your memories to {channel.remote}{moved}")
        return _report([outcome])
    if args.action == "status":
        statuses = sync.status()
        if args.json:
            print_json([s.to_dict() for s in statuses])
            return 0
        if not statuses:
            print(NOT_CONNECTED)
        for status in statuses:
            print("\n".join(status_lines(status)))
        return 0
    if args.action == "off":
        if PERSONAL not in {c.name for c in sync.channels()}:
            raise NotFound(NOT_CONNECTED)
        channel = sync.disconnect(PERSONAL)
        print(
            f"disconnected your memories from {channel.remote}: the vault keeps every memory, "
            "the remote keeps its copy"
        )
        return 0
    if not sync.channels():
        raise NotFound(NOT_CONNECTED)
    return _report(_with_progress(lambda shown: sync.run(progress=shown)))


NOT_CONNECTED = (
    "sync is not connected: `memem sync init REMOTE` connects your memories to a git remote, "
    "`memem team add NAME REMOTE --project PROJECT` shares a project with a team"
)


def cmd_team(store: Store, args: argparse.Namespace) -> int:
    from memem.core.memory import GLOBAL_PROJECT, normalize_project
    from memem.service.sync import PERSONAL, Sync

    sync = Sync(store)
    teams = [c for c in sync.channels() if c.project is not None]
    if args.action == "list":
        if args.json:
            print_json([c.to_dict() for c in teams])
            return 0
        elif not teams:
            print("no team: `memem team add NAME REMOTE --project PROJECT` shares a project")
        for c in teams:
            print(f"{c.name}  {c.project}  {c.remote}")
        return 0
    if args.name == PERSONAL:
        raise InvalidInput(
            f"`{PERSONAL}` is your own channel: `memem sync init` or `memem sync off`"
        )
    if args.action == "remove":
        if args.name not in {c.name for c in teams}:
            known = ", ".join(c.name for c in teams) or "none"
            raise NotFound(f"no team named {args.name!r} (teams: {known})")
        channel = sync.disconnect(args.name)
        print(
            f"stopped sharing {channel.project} with {channel.name} ({channel.remote}): "
            "its memories stay in the vault"
        )
        return 0
    project = normalize_project(args.project)
    if project != args.project or project == GLOBAL_PROJECT:
        hint = (
            f" (did you mean {project!r}?)" if project not in (args.project, GLOBAL_PROJECT) else ""
        )
        raise InvalidInput(f"{args.project!r} is not a project a team can share{hint}")
    outcome = _with_progress(
        lambda shown: sync.connect(args.remote, name=args.name, project=project, progress=shown)
    )
    channel = {c.name: c for c in sync.channels()}[args.name]
    print(f"sharing {project} with {channel.name} through {channel.remote}")
    return _report([outcome])


def cmd_purge(store: Store, args: argparse.Namespace) -> int:
    tombstone = store.purge(args.id, reason=args.reason)
    print(
        f"purged {tombstone.id}: its file and index entry are gone; its tombstone keeps it from "
        "coming back, and `memem sync` deletes it on the other devices and teams"
    )
    return 0


def _with_progress(work: Callable[[Any], Any]) -> Any:
    """`work(progress)` (a sync) behind the prompt, with a progress line on stderr when it is
    a terminal (a first sync reads and writes every memory)."""
    _behind_the_prompt()
    shown = progress(sys.stderr)
    try:
        return work(shown)
    finally:
        if shown is not None:
            shown.end()


def _report(outcomes: Iterable[Outcome]) -> int:
    """What each channel did, one line each plus the memories held back, quarantined or in
    conflict; 1 with the reason on stderr when a channel failed."""
    failed = []
    for o in outcomes:
        line = f"{o.channel}: {'' if o.ok else 'failed, '}pulled {o.pulled}, pushed {o.pushed}"
        counts = [
            f"{len(items)} {what}"
            for items, what in (
                (o.held, "held back"),
                (o.quarantined, "quarantined"),
                (o.conflicts, "conflicts resolved"),
            )
            if items
        ]
        print(line + (f"; {', '.join(counts)}" if counts else ""))
        for detail in detail_lines(o.held, o.quarantined, o.conflicts):
            print(detail)
        if not o.ok:
            failed.append(o)
    for o in failed:
        print(f"memem: sync of {o.channel} failed: {fence.line(o.error)}", file=sys.stderr)
    return 1 if failed else 0


def detail_lines(
    held: Iterable[Held], quarantined: Iterable[Held], conflicts: Iterable[Conflict]
) -> list[str]:
    """The memories held back, quarantined and in conflict, one line each.
    Ids, files and reasons come from the vault or a remote: shown outside the fence the way
    memem shows any memory-derived text."""
    lines = [
        f"  held back (a secret; never pushed): {fence.line(h.id)}  {fence.line(h.file)}: "
        f"{fence.line(h.reason)}"
        for h in held
    ]
    lines += [
        f"  quarantined (never recalled; `memem quarantine release ID` after review): "
        f"{fence.line(q.id)}  {fence.line(q.file)}: {fence.line(q.reason)}"
        for q in quarantined
    ]
    lines += [
        f"  conflict on {fence.line(c.id)}: the {c.winner} version won; the other is kept as "
        f"{fence.line(c.superseded)}"
        for c in conflicts
    ]
    return lines


def status_lines(status: ChannelStatus) -> list[str]:
    """One channel's `sync status`: what it shares, where, when, and what is wrong."""
    shares = "every project" if status.project is None else f"project {status.project}"
    lines = [f"{status.name}: {shares} with {status.remote}"]
    behind = "?" if status.behind is None else str(status.behind)
    last = when(status.last_sync) if status.last_sync else "never"
    lines.append(
        f"  last sync {last}; {status.ahead} to push, {behind} to pull (as of the last fetch)"
    )
    if status.blocked:
        retry = f"; next try {when(status.next_try)}" if status.next_try else ""
        lines.append(f"  blocked: {fence.line(status.last_error)}{retry}")
    return lines + detail_lines(status.held, status.quarantined, status.conflicts)


def when(stamp: str) -> str:
    """An ISO time of the sync state as a person reads it: `2026-12-03 21:40 UTC`."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(stamp).astimezone(UTC)
    except ValueError:
        return fence.line(stamp)
    return f"{moment:%Y-%m-%d %H:%M} UTC"
