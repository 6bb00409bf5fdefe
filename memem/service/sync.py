"""Sync: the user's memories on every device, and a project's memories with a team, over git.

    sync = Sync(store)
    sync.connect("git@github.com:me/memories.git")                  # `memem sync init`
    sync.connect("/srv/git/shop.git", name="shop", project="shop")  # `memem team add`
    outcomes = sync.run()                                            # `memem sync`
    sync.status()                                                    # no network

A channel is one git connection: `personal` (every project) or a team (one project). Its git
data is a bare repository in the state dir (`memem.storage.git`), never inside the vault (a
vault that is itself in the user's git repository is left alone); the remote's branch is
`memem`. A run fetches, merges by content per memory (`memem.core.merge`, the work itself in
`memem.service.replica`), writes what came in into the vault, reconciles the index (so the
existing vet quarantines an incoming injection), and pushes. Private memories never leave;
a memory with a secret is held back and listed; a tombstone (`Store.purge`) syncs both ways.
A run that fails (the remote does not answer) leaves recall as it is and backs off: the
next try waits 1 minute, doubling to 1 hour, and resets on success.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from memem.core.memory import format_datetime, to_datetime
from memem.errors import InvalidInput, NotFound, SyncError
from memem.service.linking import Progress
from memem.service.store import Store
from memem.storage import git, syncstate, tombstones
from memem.storage.git import Git, GitError
from memem.storage.syncstate import ChannelConfig, ChannelState

PERSONAL: Final = "personal"
BACKOFF_FIRST: Final = 60.0
BACKOFF_MAX: Final = 3600.0
# How long a sync run by hand waits for one already running (the engine's) to finish.
LOCK_WAIT: Final = 300.0
MAX_CONFLICTS_KEPT: Final = 50
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True, slots=True)
class Channel:
    """One git connection: `remote` as given (never with credentials); `project` None for
    the personal channel (every project)."""

    name: str
    remote: str
    project: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "remote": self.remote, "project": self.project}


@dataclass(frozen=True, slots=True)
class Held:
    """A memory kept from a remote (`held`: a secret or a refused text in it, never pushed)
    or from recall (`quarantined`: an incoming memory the injection scan refused)."""

    id: str
    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "file": self.file, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Conflict:
    """A memory changed on both sides: which side won and the loser's new (superseded) id."""

    id: str
    winner: str  # "local" | "remote"
    superseded: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "winner": self.winner, "superseded": self.superseded, "at": self.at}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of one channel did. `pulled`: files written into the vault from the
    remote (memories and playbooks); `pushed`: files changed in the remote (memories,
    tombstones, playbooks). `error` is one line, "" when `ok`."""

    channel: str
    ok: bool
    pulled: int = 0
    pushed: int = 0
    conflicts: tuple[Conflict, ...] = ()
    held: tuple[Held, ...] = ()
    quarantined: tuple[Held, ...] = ()
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": self.ok,
            "pulled": self.pulled,
            "pushed": self.pushed,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "held": [h.to_dict() for h in self.held],
            "quarantined": [q.to_dict() for q in self.quarantined],
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel as of its last run, without the network. `ahead`: local memories (and
    purges) changed since the last sync; `behind`: remote changes not yet pulled as of the
    last fetch (None: never fetched); `blocked`: the last run failed (`last_error` says why,
    `next_try` when the engine tries again)."""

    name: str
    remote: str
    project: str | None
    ahead: int
    behind: int | None
    held: tuple[Held, ...]
    quarantined: tuple[Held, ...]
    conflicts: tuple[Conflict, ...]
    last_sync: str | None
    last_error: str
    next_try: str | None
    blocked: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "remote": self.remote,
            "project": self.project,
            "ahead": self.ahead,
            "behind": self.behind,
            "held": [h.to_dict() for h in self.held],
            "quarantined": [q.to_dict() for q in self.quarantined],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "last_sync": self.last_sync,
            "last_error": self.last_error,
            "next_try": self.next_try,
            "blocked": self.blocked,
        }


def _held(items: list[dict[str, str]]) -> tuple[Held, ...]:
    return tuple(Held(i.get("id", ""), i.get("file", ""), i.get("reason", "")) for i in items)


def _conflicts(items: list[dict[str, str]]) -> tuple[Conflict, ...]:
    return tuple(
        Conflict(i.get("id", ""), i.get("winner", ""), i.get("superseded", ""), i.get("at", ""))
        for i in items
    )


def _remote_location(remote: str) -> str:
    """`remote` as git will be given it: a local path made absolute (the engine runs in
    another directory than the command that connected it)."""
    text = remote.strip()
    if not text:
        raise InvalidInput("a remote is needed: a git URL or the path of a repository")
    scp_like = re.match(r"^[^/]+:", text) is not None and "://" not in text
    if "://" in text or (scp_like and not os.path.exists(text)):
        return text
    return os.path.abspath(os.path.expanduser(text))


class Sync:
    """The sync channels of `store`'s user. `device` names this machine in commits."""

    def __init__(
        self,
        store: Store,
        *,
        device: str = "",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.state_dir: Path = store.settings.state_dir
        self.device = device or socket.gethostname() or "a device"
        self.clock = clock or (lambda: datetime.now(UTC))

    def channels(self) -> list[Channel]:
        return [Channel(c.name, c.remote, c.project) for c in syncstate.channels(self.state_dir)]

    def _config(self, name: str) -> ChannelConfig:
        for config in syncstate.channels(self.state_dir):
            if config.name == name:
                return config
        raise NotFound(f"no sync channel named {name!r}")

    def connect(
        self,
        remote: str,
        *,
        name: str = PERSONAL,
        project: str | None = None,
        progress: Progress | None = None,
    ) -> Outcome:
        """Connect a channel (`sync init`, `team add`) and run its first sync. The remote
        must answer (SyncError says why not); a URL with a password or token in it is refused
        (git's credential helper or ssh carry those). Connecting `personal` to another remote
        moves it: the vault is kept and pushed there."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(
                f"not a channel name: {name!r} (lowercase letters, digits, - and _; at most 40)"
            )
        if (name == PERSONAL) != (project is None):
            raise InvalidInput(
                "the personal channel carries every project; a team channel needs --project"
                if name == PERSONAL
                else f"team {name!r} needs the project it shares"
            )
        why = git.credentials_in(remote)
        if why:
            raise SyncError(f"refused {git.shown_url(remote)}: {why}")
        location = _remote_location(remote)
        shared = self.store.canonical(project) if project is not None else None
        configs = syncstate.channels(self.state_dir)
        old = next((c for c in configs if c.name == name), None)
        target = syncstate.git_dir(self.state_dir, name)
        # A repository of its own: the channel's may be the broken one a run would repair.
        probe = Git(target.with_name(f"{name}.probe.git"))
        try:
            probe.init()
            probe.remote_head(location)
        except GitError as exc:
            raise SyncError(f"{git.shown_url(location)} does not answer: {exc}") from None
        finally:
            probe.remove()
        if old and (old.remote != location or old.project != shared):
            Git(target).remove()
            syncstate.forget_channel(self.state_dir, name)
        config = ChannelConfig(name, location, shared)
        syncstate.save_channels(self.state_dir, [c for c in configs if c.name != name] + [config])
        return self.run(name, progress=progress)[0]

    def disconnect(self, name: str) -> Channel:
        """Disconnect a channel (`sync off`, `team remove`): its git data and state go, the
        vault and every memory in it stay."""
        config = self._config(name)
        with syncstate.locked(self.state_dir, wait=LOCK_WAIT) as got:
            if not got:
                raise SyncError("a sync is running; try again when it is done")
            rest = [c for c in syncstate.channels(self.state_dir) if c.name != name]
            syncstate.save_channels(self.state_dir, rest)
            shutil.rmtree(syncstate.git_dir(self.state_dir, name), ignore_errors=True)
            syncstate.forget_channel(self.state_dir, name)
        return Channel(config.name, config.remote, config.project)

    def run(
        self,
        name: str | None = None,
        *,
        due_only: bool = False,
        pause: Callable[[], None] | None = None,
        progress: Progress | None = None,
    ) -> list[Outcome]:
        """Sync every channel (or the one named): pull, reconcile the index, push. With
        `due_only` (the engine) only the channels whose backoff is over, and nothing at all
        while another sync runs. A channel that fails gives an Outcome with `ok` False."""
        from memem.service.replica import Replica

        configs = [self._config(name)] if name else syncstate.channels(self.state_dir)
        outcomes: list[Outcome] = []
        with syncstate.locked(self.state_dir, wait=0.0 if due_only else LOCK_WAIT) as got:
            if not got:
                if due_only:
                    return []
                raise SyncError("another sync is running; try again when it is done")
            for config in configs:
                state = syncstate.load_state(self.state_dir, config.name)
                now = self.clock()
                if due_only and state.next_try and to_datetime(state.next_try) > now:
                    continue
                replica = Replica(self.store, config, state, self.device, now)
                try:
                    outcome = replica.run(pause, progress)
                except GitError as exc:
                    outcome = Outcome(config.name, False, error=str(exc))
                self._settle(state, outcome, now)
                syncstate.save_state(self.state_dir, config.name, state)
                outcomes.append(outcome)
        return outcomes

    def _settle(self, state: ChannelState, outcome: Outcome, now: datetime) -> None:
        """Record a run's result in the channel's state: backoff on failure, reset on success."""
        if outcome.ok:
            state.last_sync = format_datetime(now)
            state.last_error = ""
            state.failures = 0
            state.next_try = None
        else:
            state.failures += 1
            wait = min(BACKOFF_FIRST * 2 ** (state.failures - 1), BACKOFF_MAX)
            state.last_error = outcome.error
            state.next_try = format_datetime(now + timedelta(seconds=wait))
        state.held = [h.to_dict() for h in outcome.held] if outcome.ok else state.held
        if outcome.conflicts:
            state.conflicts = (state.conflicts + [c.to_dict() for c in outcome.conflicts])[
                -MAX_CONFLICTS_KEPT:
            ]

    def status(self) -> list[ChannelStatus]:
        """Every channel as of its last run: no network, one look at the vault's file stats."""
        from memem.service.replica import local_changes

        found = []
        stones = tombstones.read(self.state_dir)
        for config in syncstate.channels(self.state_dir):
            state = syncstate.load_state(self.state_dir, config.name)
            ahead = local_changes(self.store, config, state, stones)
            found.append(
                ChannelStatus(
                    name=config.name,
                    remote=git.shown_url(config.remote),
                    project=config.project,
                    ahead=ahead,
                    behind=state.behind,
                    held=_held(state.held),
                    quarantined=_held(state.quarantined),
                    conflicts=_conflicts(state.conflicts),
                    last_sync=state.last_sync,
                    last_error=state.last_error,
                    next_try=state.next_try,
                    blocked=bool(state.last_error),
                )
            )
        return found
