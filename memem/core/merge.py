"""The three-way merge of sync, by content. Pure: bytes and memories in, decisions out.

A channel's remote holds `memories/<id>.md` (a memory file's text without the keys that are
local to one machine, `REMOTE_FORM`), `tombstones/<id>.json` and `playbooks/<project>.md`.
For each path the channel remembers the blob last agreed (its base). Local changed = the
local blob differs from the base; remote changed = the remote blob differs from the base.
Absence never deletes (a remote rewritten by force, a file removed by hand): only a tombstone
does. When both sides changed a memory, the newer `updated` wins (a tie: the larger blob
sha) and the loser is kept as a superseded version, `<id>-<8 hex of its blob>`, deprecated
and linked to the winner: deterministic, so two devices resolving one conflict write the
same files.
"""

from __future__ import annotations

import hashlib
from typing import Final

from memem.core import markdown
from memem.core.memory import Memory

# Frontmatter keys that describe this machine's copy, never pushed: `author` is written on
# an incoming memory from its commit.
LOCAL_KEYS: Final = frozenset({"author"})
MEMORIES: Final = "memories/"
TOMBSTONES: Final = "tombstones/"
PLAYBOOKS: Final = "playbooks/"
SUPERSEDED_HEX: Final = 8

SAME: Final = "same"  # both sides hold the same text (or neither has one)
PUSH: Final = "push"  # only the local side changed (or the remote lacks it)
PULL: Final = "pull"  # only the remote side changed (or only the remote has it)
CONFLICT: Final = "conflict"  # both changed, to different texts


def memory_path(memory_id: str) -> str:
    return f"{MEMORIES}{memory_id}.md"


def tombstone_path(memory_id: str) -> str:
    return f"{TOMBSTONES}{memory_id}.json"


def playbook_path(project: str) -> str:
    return f"{PLAYBOOKS}{project}.md"


def id_of(path: str, prefix: str, suffix: str) -> str:
    """The id (or project) a remote path names; "" when it is not one of `prefix`."""
    if not path.startswith(prefix) or not path.endswith(suffix) or "/" in path[len(prefix) :]:
        return ""
    return path[len(prefix) : -len(suffix)]


def blob_sha(data: bytes) -> str:
    """The sha git gives `data` as a blob (so a local file is compared without running git)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def remote_form(memory: Memory) -> bytes:
    """What a remote holds of `memory`: its file text without the local keys, with related
    memories linked by id (a file name is local too)."""
    extra = {k: v for k, v in memory.extra.items() if k not in LOCAL_KEYS}
    if extra != dict(memory.extra):
        memory = memory.evolve(extra=extra)
    return markdown.render(memory).encode("utf-8")


def decide(base: str | None, local: str | None, remote: str | None) -> str:
    """What to do with one path, given the blob shas of its base, local and remote sides
    (None: that side has none)."""
    if local == remote:
        return SAME
    if local is None:
        return PULL  # absence never deletes: the remote's copy comes back
    if remote is None or remote == base:
        return PUSH
    if local == base:
        return PULL
    return CONFLICT


def local_wins(local: Memory, local_blob: str, remote: Memory, remote_blob: str) -> bool:
    """Whether the local side of a conflict wins: the newer `updated`, then the larger sha."""
    if local.updated != remote.updated:
        return local.updated > remote.updated
    return local_blob > remote_blob


def superseded(loser: Memory, loser_blob: str, winner: Memory) -> Memory:
    """The losing side of a conflict, kept: its own id, deprecated, linked to the winner."""
    extra = {k: v for k, v in loser.extra.items() if k not in LOCAL_KEYS}
    extra["superseded_by"] = winner.id
    return loser.evolve(
        id=f"{loser.id}-{loser_blob[:SUPERSEDED_HEX]}",
        status="deprecated",
        valid_to=max(winner.updated, loser.updated),
        related=(winner.id, *loser.related),
        extra=extra,
    )
