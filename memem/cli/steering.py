"""The CLI's commands that steer what memem recalls (memem.service.feedback): `memem feedback`,
`memem restore` and `memem retention` (preview, run)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from memem.cli.output import Add, Usage, print_json, short
from memem.core import fence
from memem.core.memory import MAX_TITLE_CHARS
from memem.core.utility import MIN_INJECTIONS, RECENT_DAYS, UNHELPFUL_TIMES, USE_RATIO, VERDICTS

if TYPE_CHECKING:
    from memem.service.feedback import Candidate
    from memem.service.store import Store


FEEDBACK = "Tell memem whether a memory helped: helpful | unhelpful | wrong | outdated."
FEEDBACK_EPILOG = """\
verdicts:
  helpful     it saved work: ranked higher when it is relevant, never archived
  unhelpful   injected but of no use: ranked lower; twice and never used, retention archives it
  wrong       it is false: deprecated (out of recall), the note kept as the reason
  outdated    it was true once: deprecated, `valid_to` set to now

`memem restore ID` undoes wrong and outdated. The record of use lives in
<state>/utility.sqlite3, never in the memory files (it does not sync).
"""
RESTORE = (
    "Undo a wrong or outdated verdict, a `memem forget` or an archive: the memory is active "
    "again and its record of use starts afresh."
)
RETENTION = (
    "Archive memories that are injected again and again and never used: preview | run. "
    "Nothing is deleted (`memem purge ID` is the one delete)."
)
RETENTION_EPILOG = f"""\
commands:
  memem retention preview [--json]  what would be archived and why, and what is immune
  memem retention run               archive them

Archived: injected at least {MIN_INJECTIONS} times and used at most once in {USE_RATIO}, or
judged unhelpful {UNHELPFUL_TIMES} times and never used. The file stays where it is with
`status: archived`: out of automatic recall, still found by `memem search` (marked
archived), back with `memem restore ID`. Immune: L0 anchors, memories saved by hand, used in
the last {RECENT_DAYS} days, judged helpful, or tagged with one of MEMEM_RETENTION_IMMUNE_TAGS
(comma-separated). The engine runs retention on a schedule only when MEMEM_RETENTION_INTERVAL
(seconds) is set.
"""


def register(add: Add) -> None:
    """The `feedback`, `restore` and `retention` parsers, made with memem.cli's `add`."""
    p = add("feedback", cmd_feedback, FEEDBACK)
    p.epilog = FEEDBACK_EPILOG
    p.add_argument("id", metavar="ID", help="the memory's id (or a unique prefix)")
    p.add_argument("verdict", metavar="VERDICT", choices=VERDICTS, help=" | ".join(VERDICTS))
    p.add_argument("--note", default="", help="why (with wrong: the deprecation reason)")
    p.add_argument("--json", action="store_true", help="{id, title, verdict, status, ...}")

    p = add("restore", cmd_restore, RESTORE)
    p.add_argument("id", metavar="ID", help="the memory's id (or a unique prefix)")
    p.add_argument("--json", action="store_true", help="{id, title, status, changed, ...}")

    p = add("retention", cmd_retention, RETENTION)
    p.epilog = RETENTION_EPILOG
    p.add_argument("action", choices=("preview", "run"))
    p.add_argument(
        "--json",
        action="store_true",
        help='{"archive": [{id, title, reason, injected, used}], "immune": [...]}',
    )


def cmd_feedback(store: Store, args: argparse.Namespace) -> int:
    if len(args.note) > MAX_TITLE_CHARS:
        raise Usage(f"--note is {len(args.note):,} characters; the limit is {MAX_TITLE_CHARS}")
    done = store.feedback(args.id, args.verdict, args.note)
    if args.json:
        print_json(done.to_dict())
        return 0
    what = f": {done.changed}" if done.changed else ""
    print(f"{args.verdict} {short(done.memory.id)} {fence.line(done.memory.title)}{what}")
    return 0


def cmd_restore(store: Store, args: argparse.Namespace) -> int:
    done = store.restore(args.id)
    if args.json:
        print_json(done.to_dict())
        return 0
    what = f"undid {done.changed}" if done.changed else "was active already"
    print(
        f"restored {short(done.memory.id)} {fence.line(done.memory.title)}: {what}; "
        "its record of use starts afresh"
    )
    return 0


def cmd_retention(store: Store, args: argparse.Namespace) -> int:
    result = store.retention_run() if args.action == "run" else store.retention_preview()
    if args.json:
        shown = result.to_dict()
        if args.action == "run":
            shown["archived"] = list(result.archived)
        print_json(shown)
        return 0
    verb = "archived" if args.action == "run" else "would archive"
    print(f"{verb} {len(result.archive)} memories" + (":" if result.archive else ""))
    _rows(result.archive)
    if result.immune:
        print(f"immune ({len(result.immune)}):")
        _rows(result.immune)
    if args.action == "preview" and result.archive:
        print("`memem retention run` archives them; `memem restore ID` brings one back")
    return 0


def _rows(candidates: tuple[Candidate, ...]) -> None:
    for c in candidates:
        print(f"  {short(c.id)}  {fence.line(c.title)}  ({fence.line(c.reason)})")
