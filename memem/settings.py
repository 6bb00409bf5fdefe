"""Settings, read from the environment by entry points only; everything else takes arguments.

`state_dir` and `vault_dir` are plain functions of the environment (strings, not `Path`s):
the hook finds the index with them.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

import os

from memem.core.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Final

DEFAULT_MODEL = "claude-haiku-4-5"
BACKENDS = ("auto", "anthropic", "claude-cli", "heuristic")
INDEX_FILE = "index.sqlite3"
# Set to "1" in the environment of memem's own `claude -p` runs (the claude-cli backend): memem's
# hooks and daemon see it and stay out of the way, so mining never recurses.
MINER_CHILD = "MEMEM_MINER_CHILD"


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def absolute(path: str | os.PathLike[str], home: str | None = None) -> str:
    """`~` expanded (with `home` when given: the HOME of the mapping the settings come from),
    made absolute (and `..` folded): how memem spells every directory."""
    path = os.fspath(path)
    if home is not None and (path == "~" or path.startswith("~/")):
        path = home + path[1:]
    return os.path.abspath(os.path.expanduser(path))


def state_dir(env: Mapping[str, str]) -> str:
    """`MEMEM_DIR`, default `~/.memem`: the index, logs, miner state, sessions."""
    return absolute(env.get("MEMEM_DIR") or os.path.join(_home(env), ".memem"), _home(env))


def vault_dir(env: Mapping[str, str]) -> str:
    """`MEMEM_OBSIDIAN_VAULT`, default `~/obsidian-brain`: the markdown memories."""
    return absolute(
        env.get("MEMEM_OBSIDIAN_VAULT") or os.path.join(_home(env), "obsidian-brain"), _home(env)
    )


def engine_off(env: Mapping[str, str]) -> bool:
    """`MEMEM_ENGINE=off` (or 0, false, no): no engine is started or asked; everything runs
    in-process."""
    return is_off(env.get("MEMEM_ENGINE", ""))


def is_off(value: str) -> bool:
    """A switch or a number set to off: `off`, `0`, `false`, `no` (any case)."""
    return value.strip().lower() in ("off", "0", "false", "no")


SYNC_INTERVAL = 300.0


def sync_interval(value: str | None) -> float:
    """`MEMEM_SYNC_INTERVAL`: seconds between the engine's syncs; `0` or `off` is 0.0 (no
    schedule: `memem sync` by hand). Anything else that is not a finite number of seconds
    (a typo, `-5`, `nan`) is the default: a bad value must not stop syncing."""
    return _interval(value, SYNC_INTERVAL)


def _interval(value: str | None, default: float) -> float:
    """Seconds between runs of a schedule: `0` or `off` is 0.0 (none); unset, or anything
    that is not a positive finite number of seconds, is `default`."""
    text = (value or "").strip()
    if is_off(text):
        return 0.0
    try:
        seconds = float(text or default)
    except ValueError:
        return default
    if seconds == 0.0:
        return 0.0
    return seconds if 0.0 < seconds < float("inf") else default


def learning(env: Mapping[str, str]) -> bool:
    """`MEMEM_LEARNING=off` (or 0, false, no): recall ranks without the memories' record of
    use (the utility store); on by default."""
    return not is_off(env.get("MEMEM_LEARNING", ""))


def retention_interval(value: str | None) -> float:
    """`MEMEM_RETENTION_INTERVAL`: seconds between the engine's retention runs; unset, `0`,
    `off` or not a positive finite number: 0.0, no schedule (retention only by hand)."""
    return _interval(value, 0.0)


def topic_shift(env: Mapping[str, str], default: float) -> float:
    """`MEMEM_TOPIC_SHIFT_THRESHOLD`, a share in [0, 1]; anything else (a typo, `nan`) is the
    default: a bad value must not turn off the prompt hook."""
    try:
        value = float(env.get("MEMEM_TOPIC_SHIFT_THRESHOLD") or default)
    except ValueError:
        return default
    return value if 0.0 <= value <= 1.0 else default


def daily_tokens(value: str | None) -> int:
    """`MEMEM_MINER_DAILY_TOKENS`: a whole number of tokens (`_` and `,` allowed as in
    `200_000`); unset, `0`, `off` or anything unreadable is 0, no cap (a typo must not stop
    mining for good; `memem doctor` shows the cap in force)."""
    text = (value or "").strip().replace("_", "").replace(",", "")
    if not text or is_off(text):
        return 0
    try:
        tokens = int(text)
    except ValueError:
        return 0
    return max(tokens, 0)


# What `Store.open` carries from the environment besides the paths: what recall, learning and
# used-or-not detection read (the engine and the CLI run detection on the store's settings).
STORE_FIELDS = ("semantic", "learning", "immune_tags", "retention_interval", "settle_seconds")


class Settings(Value):
    __slots__ = (
        "anthropic_api_key",
        "anthropic_base_url",
        "claude_executable",
        "immune_tags",
        "import_roots",
        "learning",
        "miner_backend",
        "miner_daily_tokens",
        "miner_model",
        "retention_interval",
        "semantic",
        "session_dirs",
        "settle_seconds",
        "state_dir",
        "sync_interval",
        "vault_dir",
    )

    state_dir: Final[Path]
    vault_dir: Final[Path]
    session_dirs: Final[tuple[Path, ...]]
    settle_seconds: Final[float]
    miner_backend: Final[str]
    miner_model: Final[str]
    anthropic_api_key: Final[str]
    anthropic_base_url: Final[str]
    claude_executable: Final[str]
    import_roots: Final[tuple[Path, ...]]
    semantic: Final[bool]
    sync_interval: Final[float]
    # Mining's tokens a UTC day (in + out, cache included); 0: no cap.
    miner_daily_tokens: Final[int]
    # Learning from use (`memem.core.utility`): the ranking term, retention's immune tags and
    # schedule.
    learning: Final[bool]
    immune_tags: Final[tuple[str, ...]]
    retention_interval: Final[float]

    def __init__(
        self,
        state_dir: Path,
        vault_dir: Path,
        session_dirs: tuple[Path, ...] = (),
        settle_seconds: float = 300.0,
        miner_backend: str = "auto",
        miner_model: str = DEFAULT_MODEL,
        anthropic_api_key: str = "",
        anthropic_base_url: str = "",
        claude_executable: str = "claude",
        import_roots: tuple[Path, ...] = (),
        semantic: bool = True,
        sync_interval: float = SYNC_INTERVAL,
        miner_daily_tokens: int = 0,
        learning: bool = True,
        immune_tags: tuple[str, ...] = (),
        retention_interval: float = 0.0,
    ) -> None:
        self.state_dir = state_dir
        self.vault_dir = vault_dir
        self.session_dirs = session_dirs
        self.settle_seconds = settle_seconds
        self.miner_backend = miner_backend
        self.miner_model = miner_model
        self.anthropic_api_key = anthropic_api_key
        self.anthropic_base_url = anthropic_base_url
        self.claude_executable = claude_executable
        self.import_roots = import_roots
        self.semantic = semantic
        self.sync_interval = sync_interval
        self.miner_daily_tokens = miner_daily_tokens
        self.learning = learning
        self.immune_tags = immune_tags
        self.retention_interval = retention_interval

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """From `env`, by default the process environment (this module is where a library
        caller's defaults are read: nothing below the entry points reads it).
        `MEMEM_DIR` (default `~/.memem`), `MEMEM_OBSIDIAN_VAULT` (default `~/obsidian-brain`),
        `MEMEM_EXTRA_SESSION_DIRS` (colon-separated, watched besides `~/.claude/projects`),
        `MEMEM_MINER_SETTLE_SECONDS` (300), `MEMEM_MINER_BACKEND` (auto | anthropic |
        claude-cli | heuristic), `MEMEM_MINER_MODEL`, `ANTHROPIC_API_KEY`,
        `ANTHROPIC_BASE_URL`, `MEMEM_CLAUDE` (the claude executable), `MEMEM_SEMANTIC`
        (`off`: lexical recall only, no embedding model), `MEMEM_SYNC_INTERVAL` (seconds
        between the engine's syncs, 300; `0` or `off`: no schedule), `MEMEM_MINER_DAILY_TOKENS`
        (mining pauses for the UTC day once it used this many tokens; unset or 0: no cap),
        `CLAUDE_PROJECT_DIR`
        and `MEMEM_IMPORT_PATHS` (colon-separated): where MCP `memory_import` may read,
        besides the server's working directory. `MEMEM_LEARNING` (`off`: rank without the
        record of use), `MEMEM_RETENTION_IMMUNE_TAGS` (comma-separated tags retention never
        archives), `MEMEM_RETENTION_INTERVAL` (seconds between the engine's retention runs;
        unset: none)."""
        from pathlib import Path  # not at module level: the hook imports this module

        if env is None:
            env = os.environ
        extra = [p for p in (env.get("MEMEM_EXTRA_SESSION_DIRS") or "").split(":") if p.strip()]
        try:
            settle = float(env.get("MEMEM_MINER_SETTLE_SECONDS") or 300)
        except ValueError:
            settle = 300.0
        backend = (env.get("MEMEM_MINER_BACKEND") or "auto").strip().lower()
        return cls(
            state_dir=Path(state_dir(env)),
            vault_dir=Path(vault_dir(env)),
            session_dirs=tuple(
                Path(absolute(p, _home(env)))
                for p in [os.path.join(_home(env), ".claude", "projects"), *extra]
            ),
            settle_seconds=max(0.0, settle),
            miner_backend=backend if backend in BACKENDS else "auto",
            miner_model=env.get("MEMEM_MINER_MODEL") or DEFAULT_MODEL,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or "",
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or "",
            claude_executable=env.get("MEMEM_CLAUDE") or "claude",
            import_roots=tuple(
                Path(absolute(p, _home(env)))
                for p in [
                    env.get("CLAUDE_PROJECT_DIR") or "",
                    *(env.get("MEMEM_IMPORT_PATHS") or "").split(":"),
                ]
                if p.strip()
            ),
            semantic=not is_off(env.get("MEMEM_SEMANTIC", "")),
            sync_interval=sync_interval(env.get("MEMEM_SYNC_INTERVAL")),
            miner_daily_tokens=daily_tokens(env.get("MEMEM_MINER_DAILY_TOKENS")),
            learning=learning(env),
            immune_tags=tuple(
                t.strip().lower()
                for t in (env.get("MEMEM_RETENTION_IMMUNE_TAGS") or "").split(",")
                if t.strip()
            ),
            retention_interval=retention_interval(env.get("MEMEM_RETENTION_INTERVAL")),
        )

    @property
    def index_path(self) -> Path:
        return self.state_dir / INDEX_FILE

    @property
    def vectors_path(self) -> Path:
        return self.state_dir / "vectors.sqlite3"

    @property
    def events_path(self) -> Path:
        return self.state_dir / "events.jsonl"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def miner_path(self) -> Path:
        return self.state_dir / "miner.sqlite3"
