"""What mining left behind, as the CLI shows it: a mined memory's source (`memem get`) and the
token receipt (`memem status`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from memem.core import fence

if TYPE_CHECKING:
    from memem.core.memory import Memory
    from memem.service.provenance import Source
    from memem.service.store import Store


def source_of(store: Store, memory: Memory) -> Source | None:
    """The memory's source excerpt from this machine's transcripts (None: not mined with
    provenance). The session folders are this process's (`~/.claude/projects` and
    `MEMEM_EXTRA_SESSION_DIRS`)."""
    if memory.provenance is None:
        return None
    from memem.service.provenance import source
    from memem.settings import Settings

    dirs = Settings.from_env(os.environ).session_dirs
    return source(memory, state_dir=store.settings.state_dir, session_dirs=dirs)


def show_source(found: Source) -> None:
    """The "Source" section of `memem get`: the pointer, then the excerpt or why there is none."""
    entries = len(found.entries)
    print(f"\nSource: session {fence.label(found.session)}, {entries} transcript entries")
    if found.transcript:
        print(f"transcript {fence.line(found.transcript, 300)}")
    if found.note:
        print(f"({fence.line(found.note)})")
    if found.excerpt:
        print(found.excerpt)


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 10_000 else f"{n:,}"


def _part(name: str, used: Mapping[str, Any]) -> str:
    cache = used["cache_read"] + used["cache_write"]
    text = f"{name} {_count(used['input'])} in, {_count(used['output'])} out"
    text += f", {_count(cache)} cache" if cache else ""
    return text + (" (estimated)" if used["estimated"] else "")


def tokens_line(tokens: Mapping[str, Any]) -> str:
    """`mining tokens: today 12.3k in, 1,204 out; this month ...; cap 200.0k a day`."""
    line = (
        f"mining tokens: {_part('today', tokens['today'])}; {_part('this month', tokens['month'])}"
    )
    cap = tokens["daily_cap"]
    if cap:
        line += f"; cap {_count(cap)} a day"
        if tokens["paused"]:
            line += " (reached: mining paused until 00:00 UTC)"
    return line
