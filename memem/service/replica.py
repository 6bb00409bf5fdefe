"""One sync run of one channel (`Sync.run` makes a `Replica` per channel and runs it).

    fetch -> merge per path (memem.core.merge) -> write what came in -> commit, push
          -> (push rejected: a teammate pushed first) fetch, merge, push again

The local side is what the vault holds (`memem.service.snapshot`: each file's remote form
and blob sha, cached by mtime and size). What goes out: memories of the channel's projects
that are not private and pass the secret scan (the rest is held back and listed), local
tombstones of memories the remote has seen, memem's own playbooks. What comes in: memories
written into the vault with `author` from their commit, then vetted by reconcile (an
injection is quarantined and listed), tombstones (purged here too), playbooks that pass the
injection scan. A broken local repository is moved aside and fetched again; the base (kept
outside it) still says what was agreed, and anything the remote lacks is pushed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final

from memem.core import markdown, merge
from memem.core.memory import Memory, check_id, format_datetime, normalize_project
from memem.errors import InvalidInput
from memem.service import purging, recall
from memem.service.linking import Progress
from memem.service.snapshot import Local, Snapshot, eligible, playbooks, scan_text
from memem.service.store import Store
from memem.service.sync import Conflict, Held, Outcome
from memem.storage import index, syncstate, tombstones
from memem.storage.git import Git, GitError
from memem.storage.syncstate import ChannelConfig, ChannelState
from memem.storage.tombstones import Tombstone

log = logging.getLogger("memem.service.replica")

PUSH_ATTEMPTS: Final = 4
# Pulling more files than this writes them without an fsync each (one sync of the disks at
# the end), and builds the index anew in one pass instead of file by file.
BULK: Final = 64
REBUILD_AT: Final = 1000
# Pushing more files than this packs the loose objects they were written as.
PACK_AT: Final = 1000
PROGRESS_EVERY: Final = 500
# Incoming files are read this many at a time: a remote may hold any number of files up to
# 1 MB each, and all of them at once would not fit in memory.
READ_AT_ONCE: Final = 256
# A tombstone is a line of JSON; a larger file in tombstones/ is not one.
TOMBSTONE_BYTES: Final = 4096


def _no_pause() -> None:
    pass


class Replica:
    """The run of channel `config` (its `state` is updated in place; the caller saves it)."""

    def __init__(
        self, store: Store, config: ChannelConfig, state: ChannelState, device: str, now: datetime
    ) -> None:
        self.store = store
        self.config = config
        self.state = state
        self.device = device
        self.now = now
        self.git = Git(syncstate.git_dir(store.settings.state_dir, config.name))
        self.pulled = 0
        self.pushed = 0
        self.conflicts: list[Conflict] = []
        self.incoming: set[str] = set()
        self.bad_incoming: list[Held] = []
        self.written = 0
        self.durable = True
        self.progress: Progress | None = None

    def run(self, pause: Callable[[], None] | None, progress: Progress | None) -> Outcome:
        pause = pause or _no_pause
        self.progress = progress
        problem = self.git.healthy()
        if problem:
            self._repair(problem)
        self.git.clear_stale_locks()
        try:
            snapshot = self._sync(pause, progress)
        except GitError as exc:
            if exc.unreachable:
                raise
            # Anything else that fails in git is this machine's copy: fetch it again once.
            self._repair(str(exc))
            snapshot = self._sync(pause, progress)
        if self.written >= REBUILD_AT:
            self.store.rebuild_index(progress)  # one pass: far faster than file by file
        elif self.written:
            self.store.reconcile(pause)
        quarantined = self._quarantined()
        incoming = {q.id for q in quarantined}
        self.state.behind = 0
        return Outcome(
            self.config.name,
            True,
            pulled=self.pulled,
            pushed=self.pushed,
            conflicts=tuple(self.conflicts),
            # An incoming memory the scan refused is the remote's text, listed as
            # quarantined: holding it back from that remote means nothing.
            held=tuple(Held(*h) for h in snapshot.held(self.config) if h[0] not in incoming),
            quarantined=quarantined,
        )

    def _repair(self, problem: str) -> None:
        # Whatever is left of it (a HEAD that is garbage, no objects): `git init` keeps a
        # garbage HEAD and then refuses the directory.
        if self.git.git_dir.exists():
            aside = self.git.move_aside(format_datetime(self.now).replace(":", ""))
            log.warning(
                "the channel's git data was broken; moved aside and fetched again",
                extra={"channel": self.config.name, "moved_to": str(aside), "reason": problem},
            )
        self.git.init()

    def _sync(self, pause: Callable[[], None], progress: Progress | None) -> Snapshot:
        for _ in range(PUSH_ATTEMPTS):
            head = self.git.fetch(self.config.remote)
            pause()
            snapshot = Snapshot.take(self.store, pause, progress)
            changes = self._merge(head, snapshot, pause)
            if self.written:
                snapshot.save()  # what was written is not read again
            if not changes:
                self.state.head = head
                return snapshot
            paths = sorted(changes)
            shas = self.git.write_blobs([d for p in paths if (d := changes[p]) is not None])
            found = iter(shas)
            tree = {p: (next(found) if changes[p] is not None else None) for p in paths}
            message = f"memem: {len(tree)} change(s) from {self.device}"
            commit = self.git.commit(head, tree, message)
            if self.git.push(self.config.remote, commit):
                for path, sha in tree.items():
                    if sha is None:
                        self.state.base.pop(path, None)
                    else:
                        self.state.base[path] = sha
                self.state.head = commit
                self.pushed += len(tree)
                if len(shas) >= PACK_AT:
                    self.git.pack()
                if progress:
                    progress("pushing", len(tree), len(tree))
                return snapshot
            log.info("the remote moved on; fetching and merging again")
        raise GitError(
            "the remote kept moving while memem pushed; will try again", unreachable=True
        )

    # -- the merge -----------------------------------------------------------------------------

    def _merge(
        self, head: str | None, snapshot: Snapshot, pause: Callable[[], None]
    ) -> dict[str, bytes | None]:
        """Merge the remote at `head` with the vault: write what comes in, return what goes
        out (remote path -> bytes, None to remove)."""
        remote = self.git.tree(head)
        base = self.state.base
        out: dict[str, bytes | None] = {}
        stones = self._tombstones(remote, snapshot, out)
        pulls: dict[str, str] = {}  # memory id -> remote blob
        ids = {merge.id_of(p, merge.MEMORIES, ".md") for p in (*remote, *base)}
        # A remote path that names no id is no memory memem wrote (nor listed: its name is
        # a teammate's text, and sync's status is shown to the model by /memem-status).
        ids = {i for i in ids if _is_id(i)} | set(snapshot.by_id)
        for memory_id in sorted(ids - stones):
            path = merge.memory_path(memory_id)
            local = snapshot.by_id.get(memory_id)
            if local is not None and not eligible(local, self.config):
                continue  # private, held, another project: neither pushed nor overwritten
            action = merge.decide(base.get(path), local.blob if local else None, remote.get(path))
            if action == merge.SAME:
                if path in remote:
                    base[path] = remote[path]
            elif action == merge.PUSH and local is not None:
                out[path] = snapshot.data(memory_id)
            elif action in (merge.PULL, merge.CONFLICT):
                pulls[memory_id] = remote[path]  # a conflict is resolved as it is pulled
        self._playbooks(remote, snapshot, out)
        if pulls:
            self._pull(head, pulls, snapshot, out, pause)
        return out

    def _tombstones(
        self, remote: dict[str, str], snapshot: Snapshot, out: dict[str, bytes | None]
    ) -> set[str]:
        """Purge what the remote's tombstones name, push the local tombstones of memories
        the remote has seen; the ids of every tombstone (no merge for them)."""
        local = tombstones.read(self.store.settings.state_dir)
        theirs = {merge.id_of(p, merge.TOMBSTONES, ".json"): p for p in remote}
        theirs.pop("", None)
        read = self.git.read_blobs(
            (remote[p] for i, p in theirs.items() if i not in local), TOMBSTONE_BYTES
        )
        for memory_id, path in theirs.items():
            if memory_id in local:
                continue
            stone = Tombstone.from_json(read.get(remote[path], b""))
            if stone is None or stone.id != memory_id or not _is_id(memory_id):
                continue
            found = snapshot.by_id.get(memory_id)
            if found is not None and not self._shared(found, memory_id):
                continue  # a remote purges only what it was given: not a private memory
            local[memory_id] = self._purge(stone, snapshot)
        for memory_id, stone in local.items():
            path = merge.memory_path(memory_id)
            seen = path in remote or path in self.state.base or memory_id in theirs
            if not seen:
                continue  # never shared here (a private memory's id stays private too)
            if memory_id not in theirs:
                out[merge.tombstone_path(memory_id)] = stone.to_json()
            if path in remote:
                out[path] = None
            self.state.base.pop(path, None)
        return set(local) | set(theirs)

    def _shared(self, local: Local, memory_id: str) -> bool:
        """Whether the local memory `local` was agreed with this channel's remote and may
        still go there: only then may the remote's tombstone purge it (a teammate cannot
        purge a private memory, one of another project, or one never shared with them)."""
        if local.private or (self.config.project not in (None, local.project)):
            return False
        return merge.memory_path(memory_id) in self.state.base

    def _purge(self, stone: Tombstone, snapshot: Snapshot) -> Tombstone:
        """Purge what an incoming tombstone names (its reason left out if the scan refuses
        it: the purge itself is what matters)."""
        found = snapshot.by_id.get(stone.id)
        for reason in (stone.reason, ""):
            try:
                purged = purging.purge(
                    self.store.vault,
                    self.store.index,
                    self.store.settings,
                    stone.id,
                    reason,
                    stone.at,
                    missing_ok=True,
                    file=found.file if found else None,
                )
            except InvalidInput:  # SecurityError, TooLarge
                continue
            snapshot.forget(stone.id)
            return purged
        raise AssertionError("a purge without a reason is never refused")

    def _pull(
        self,
        head: str | None,
        pulls: dict[str, str],
        snapshot: Snapshot,
        out: dict[str, bytes | None],
        pause: Callable[[], None],
    ) -> None:
        """Write the remote's side of `pulls` (id -> blob) into the vault; a conflict keeps
        the loser as a superseded version (written here, and pushed)."""
        assert head is not None
        self.durable = len(pulls) < BULK
        authors = self.git.authors(self.state.head, head, [merge.MEMORIES.rstrip("/")])
        order = sorted(pulls.items())
        blobs: dict[str, bytes] = {}
        for n, (memory_id, sha) in enumerate(order, start=1):
            if (n - 1) % READ_AT_ONCE == 0:
                blobs = self.git.read_blobs(s for _, s in order[n - 1 : n - 1 + READ_AT_ONCE])
            pause()
            if self.progress and (n % PROGRESS_EVERY == 0 or n == len(pulls)):
                self.progress("pulling", n, len(pulls))
            path = merge.memory_path(memory_id)
            if sha not in blobs:
                self.bad_incoming.append(Held(memory_id, path, "larger than a memory file may be"))
                continue
            theirs = self._parse(memory_id, blobs[sha])
            if theirs is None:
                continue
            if self.config.project is not None and (
                self.store.canonical(theirs.project) != self.config.project
            ):
                self.state.base[path] = sha  # a team channel carries its project's only
                continue
            local = snapshot.by_id.get(memory_id)
            if local is not None and local.blob != self.state.base.get(path):
                # Both sides changed it: the newer wins, the other is kept, superseded.
                mine = snapshot.memory(memory_id)
                if merge.local_wins(mine, local.blob, theirs, sha):
                    loser, loser_sha, winner, side = theirs, sha, mine, "local"
                    out[path] = snapshot.data(memory_id)
                else:
                    loser, loser_sha, winner, side = mine, local.blob, theirs, "remote"
                old = merge.superseded(loser, loser_sha, winner)
                if all(c.superseded != old.id for c in self.conflicts):  # once, when retried
                    self.conflicts.append(
                        Conflict(memory_id, side, old.id, format_datetime(self.now))
                    )
                if old.id not in snapshot.by_id:
                    data = merge.remote_form(old)
                    self._write(old, None, snapshot, merge.blob_sha(data))
                    out[merge.memory_path(old.id)] = data
                if side == "local":
                    continue
            author = authors.get(path, "")
            if not author and local is not None:  # not in the commits fetched: keep ours
                author = str(snapshot.memory(memory_id).extra.get("author") or "")
            if author:
                theirs = theirs.evolve(extra={**theirs.extra, "author": author})
            self._write(theirs, local.file if local else None, snapshot, sha)
            self.state.base[path] = sha
            self.incoming.add(memory_id)
            self.pulled += 1
        if not self.durable:
            self.store.vault.flush()

    def _parse(self, memory_id: str, data: bytes) -> Memory | None:
        """The memory in a remote blob; None (listed as quarantined) when it is not one."""
        path = merge.memory_path(memory_id)
        try:
            memory = markdown.parse(
                data.decode("utf-8"),
                fallback_id=memory_id,
                fallback_time=self.now,
                fallback_title=memory_id,
            )
        except (UnicodeDecodeError, InvalidInput):
            # memem's own words: the parser's would quote the teammate's text.
            self.bad_incoming.append(Held(memory_id, path, "not a memory file memem can read"))
            return None
        if memory.id != memory_id:
            self.bad_incoming.append(Held(memory_id, path, "its id is not its file's name"))
            return None
        return memory

    def _write(self, memory: Memory, file: str | None, snapshot: Snapshot, blob: str) -> None:
        """Write `memory` (whose remote form is the blob `blob`) into the vault."""
        vault = self.store.vault
        name = file or vault.free_name(memory)
        conn = self.store.index.connection()
        links = {i: f.removesuffix(".md") for i, f in index.files_of(conn, memory.related).items()}
        stat, _ = vault.write(memory, name, links, durable=self.durable)
        snapshot.record(stat, memory, blob)
        self.written += 1

    def _playbooks(
        self, remote: dict[str, str], snapshot: Snapshot, out: dict[str, bytes | None]
    ) -> None:
        """Playbooks both ways: memem's own go out, incoming ones pass the injection scan."""
        settings = self.store.settings
        mine = playbooks(self.store.vault, settings.state_dir, self.config)
        projects = {merge.id_of(p, merge.PLAYBOOKS, ".md") for p in remote} | set(mine)
        projects.discard("")
        wanted: dict[str, str] = {}
        for project in sorted(projects):
            if project != normalize_project(project):
                continue  # not a name memem gives a playbook: nothing to write it as
            if self.config.project is not None and project != self.config.project:
                continue
            path = merge.playbook_path(project)
            local = mine.get(project)
            if local is None and (self.store.vault.playbooks_dir / f"{project}.md").exists():
                continue  # edited by hand: neither pushed nor overwritten
            blob = merge.blob_sha(local) if local is not None else None
            action = merge.decide(self.state.base.get(path), blob, remote.get(path))
            if action in (merge.PUSH, merge.CONFLICT) and local is not None:
                if not scan_text(local.decode("utf-8", "replace")):
                    out[path] = local
            elif action == merge.PULL:
                wanted[project] = remote[path]
            elif action == merge.SAME and path in remote:
                self.state.base[path] = remote[path]
        blobs = self.git.read_blobs(wanted.values())
        for project, sha in wanted.items():
            path = merge.playbook_path(project)
            text = blobs.get(sha, b"").decode("utf-8", "replace")
            reason = scan_text(text) if sha in blobs else "larger than a playbook may be"
            if reason:
                self.bad_incoming.append(Held(f"playbook:{project}", path, reason))
                continue
            self.store.vault.write_text(self.store.vault.playbooks_dir / f"{project}.md", text)
            recall.record_playbook(settings.state_dir, project, text)
            self.state.base[path] = sha
            self.pulled += 1

    def _quarantined(self) -> tuple[Held, ...]:
        """The incoming memories reconcile quarantined (still quarantined, this run's and
        earlier ones) and the incoming files that were not memories."""
        held = index.quarantined_files(self.store.index.connection())
        known = {q["id"] for q in self.state.quarantined} | self.incoming
        found = [
            Held(memory_id, file, reason)
            for file, (memory_id, reason, *_rest) in held.items()
            if memory_id in known
        ]
        found += self.bad_incoming
        self.state.quarantined = [h.to_dict() for h in found]
        return tuple(found)


def _is_id(text: str) -> bool:
    """Whether `text` (from a remote's path) is a memory id as memem writes one."""
    try:
        return check_id(text)[0] == text
    except InvalidInput:
        return False


def local_changes(
    store: Store, config: ChannelConfig, state: ChannelState, stones: dict[str, Tombstone]
) -> int:
    """How many local memories and purges a run of `config` would push, as far as the file
    stats tell (no file is read: a file changed since the last run counts)."""
    snapshot = Snapshot.take(store, None, None, read=False)
    ahead = 0
    for memory_id, local in snapshot.by_id.items():
        agreed = state.base.get(merge.memory_path(memory_id))
        if local.stale or (eligible(local, config) and local.blob != agreed):
            ahead += 1
    for memory_id in stones:
        if merge.memory_path(memory_id) in state.base:
            ahead += 1
    return ahead
