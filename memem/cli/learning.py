"""The CLI's commands about learning from use: `memem ledger`, what memem injected into the
model's context and whether it was used (memem.storage.ledger, memem.service.usage)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from memem.cli.output import Add, Usage, print_json

if TYPE_CHECKING:
    from memem.service.store import Store


LEDGER = (
    "What memem injected into the model's context (each hook event, each slice tool call) "
    "and whether the assistant used each memory."
)
LEDGER_EPILOG = """\
Each injection: when, the session, the event (UserPromptSubmit, SessionStart, PreToolUse,
active_memory_slice, context_assemble), and per item its id, role, score, characters,
source (search, anchor, neighbour, playbook, kept, artifact) and whether it was used: yes, no,
or ? while undecided (a turn is decided once the next prompt arrives or after
MEMEM_MINER_SETTLE_SECONDS). The ledger keeps a digest of each prompt, never the prompt,
lives in <state>/ledger/ (rotated, bounded) and never leaves this machine.

examples:
  memem ledger                          the last 20 injections
  memem ledger --since 2026-12-04       everything since midnight UTC that day
  memem ledger --session 4f1c... --json
"""


def register(add: Add) -> None:
    """The `ledger` parser, made with memem.cli's `add`."""
    p = add("ledger", cmd_ledger, LEDGER)
    p.epilog = LEDGER_EPILOG
    p.add_argument("--session", metavar="ID", help="only this Claude Code session")
    p.add_argument(
        "--since",
        metavar="DATE",
        help="only injections since an ISO date or datetime (UTC unless it says), e.g. "
        "2026-12-04 or 2026-12-04T15:30:00Z",
    )
    p.add_argument(
        "--limit", type=int, default=20, metavar="N", help="the newest N (default 20; 0: all)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="a JSON list of {at, session_id, event, prompt_digest, transcript, chars, items: "
        "[{id, role, score, chars, source, used}]}",
    )


def cmd_ledger(store: Store, args: argparse.Namespace) -> int:
    from memem.service import usage

    if args.limit < 0:
        raise Usage("--limit takes 0 (all) or a positive number")
    try:
        shots = usage.ledger_view(
            store.settings, session_id=args.session, since=args.since, limit=args.limit or None
        )
    except ValueError as exc:
        raise Usage(f"--since: {exc}") from None
    if args.json:
        print_json(shots)
        return 0
    if not shots:
        print(
            "no injections recorded"
            + (" for that filter" if args.session or args.since else " yet")
        )
        return 0
    print(usage.render(shots))
    return 0
