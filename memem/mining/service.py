"""The mining service: the one API the front-ends call to mine, opt in and run the daemon.

    mining = Mining(settings, env)         env: the entry point's environment (the daemon and
                                           the claude CLI are started in it; never read here
                                           beyond what they need)
    mining.discover() / sessions()         record the transcripts on disk / count the known
    mining.opt("new" | "history" | "none") the user's choice; opting in starts the daemon
    mining.miner(store)                    a Miner with the configured backend
    mining.due(now)                        what the daemon mines now (none while the breaker
                                           is open)
    mining.status() / search() / dead()    what status, doctor and the MCP server show
    mining.tokens(now)                     the token receipt and the daily cap
    mining.daemon_ensure() / _stop() / _status() / _running()   (memem.mining.lifecycle)

The CLI (`memem mine`, `memem daemon`, `memem status`), the daemon, the demo, the doctor and
the MCP server's `transcript_search` all go through it; none of them builds the miner's
state or a backend by hand.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from memem.mining import backends, lifecycle
from memem.mining.miner import Miner, session_files
from memem.settings import Settings
from memem.storage.miner_state import MinerState, SessionRow, receipt

if TYPE_CHECKING:
    from memem.service.store import Store

OPT_IN_MODES: Final = ("none", "new", "history")
_NO_ENVIRONMENT: Final[Mapping[str, str]] = MappingProxyType({})


class Mining:
    """Mining for one user: `settings` say where the state is and which backend to use."""

    def __init__(self, settings: Settings, env: Mapping[str, str] = _NO_ENVIRONMENT) -> None:
        self.settings = settings
        self.env = env

    @functools.cached_property
    def state(self) -> MinerState:
        """The miner's database, opened (and created) on first use: the MCP server only needs
        it when `transcript_search` is called."""
        return MinerState(self.settings.miner_path)

    # -- sessions and the opt-in -----------------------------------------------------------------

    @property
    def opt_in(self) -> str:
        """ "none", "new" (sessions written after opting in) or "history" (every session)."""
        return self.state.opt_in

    def discover(self) -> int:
        """Record the transcripts in the session folders; how many are new or changed."""
        return self.state.discover(session_files(self.settings.session_dirs))

    def sessions(self) -> int:
        """How many sessions are known (found by `discover`, mined or not)."""
        return len(self.state.rows())

    def opt(self, mode: str, now: float | None = None) -> str:
        """Set the opt-in. Opting in starts the daemon (unless the environment forbids it);
        returns what `daemon_ensure` said, or "" when opting out."""
        if mode not in OPT_IN_MODES:
            raise ValueError(f"opt-in is one of {OPT_IN_MODES}, not {mode!r}")
        self.state.set_opt_in(mode, time.time() if now is None else now)
        return "" if mode == "none" else self.daemon_ensure()

    def retry_failed(self) -> int:
        """Failed and dead sessions go back to pending at once; how many."""
        return self.state.reset_failed()

    def unmined(self) -> list[str]:
        """Every session with bytes not mined yet, whatever its backoff (`--all`)."""
        return [r.path for r in self.state.unmined()]

    def dead(self) -> list[SessionRow]:
        return self.state.dead()

    # -- mining ----------------------------------------------------------------------------------

    def backend_name(self) -> str:
        """One line: the backend `miner()` uses and why; never raises, never shows a key."""
        return backends.describe(self.settings)

    def miner(self, store: Store, *, deadline: float | None = None, offline: bool = False) -> Miner:
        """A miner into `store` with the configured backend (`offline`: the heuristic one, no
        model). Raises `ConfigError` when the configured backend cannot work. `deadline`
        (time.monotonic()) is when no new model call starts any more."""
        backend = (
            backends.HeuristicBackend() if offline else backends.choose(self.settings, self.env)
        )
        return Miner(
            store,
            self.state,
            backend,
            deadline=deadline,
            daily_tokens=self.settings.miner_daily_tokens,
        )

    def breaker_open(self, now: float) -> bool:
        return self.state.breaker_open(now)

    def due(self, now: float) -> list[str]:
        """The sessions to mine now: settled, opted in, not backing off; none while the
        breaker is open or today's tokens reached the daily cap."""
        cap = self.settings.miner_daily_tokens
        if self.state.breaker_open(now) or (cap and self.state.tokens_today(now) >= cap):
            return []
        return [r.path for r in self.state.due(now, self.settings.settle_seconds)]

    # -- reading ---------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What `memem status` says about mining: opt-in, backend, daemon, sessions, errors."""
        daemon = self.daemon_status()
        last = self.state.last_mined()
        errors = self.state.failing()
        return {
            "opt_in": self.state.opt_in,
            "backend": self.backend_name(),
            "daemon": "running" if daemon["running"] else "not running",
            "heartbeat": daemon.get("heartbeat"),
            "sessions": self.state.counts(),
            "last_mined": last.path if last else None,
            "errors": [
                {"session": r.path, "status": r.status, "error": r.last_error} for r in errors[-5:]
            ],
        }

    def tokens(self, now: float | None = None) -> dict[str, Any]:
        """The token receipt (`memem status`'s "mining tokens"): `today` and `month` (UTC),
        each `input`, `output`, `cache_write`, `cache_read`, `total`, `calls` and whether any
        is `estimated`; the `daily_cap` (None: none) and whether mining is `paused` by it.
        Read without creating the miner's database."""
        found = receipt(self.settings.miner_path, time.time() if now is None else now)
        cap = self.settings.miner_daily_tokens
        return {
            **found,
            "daily_cap": cap or None,
            "paused": bool(cap) and found["today"]["total"] >= cap,
        }

    def search(self, query: str, limit: int = 10) -> list[dict[str, str]]:
        """The mined transcripts' exchanges that match `query` (session, project, date, user,
        assistant, with the matches marked)."""
        return self.state.search(query, limit=limit)

    # -- the daemon ------------------------------------------------------------------------------

    def daemon_ensure(self) -> str:
        return lifecycle.ensure(self.settings, self.env)

    def daemon_stop(self) -> str:
        return lifecycle.stop(self.settings)

    def daemon_status(self) -> dict[str, Any]:
        """`daemon.json` (the heartbeat) and whether a daemon holds the lock now."""
        return lifecycle.read_status(self.settings)

    def daemon_running(self) -> bool:
        return lifecycle.is_running(self.settings)
