"""Settings, read from the environment by entry points only; everything else takes arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "claude-haiku-4-5"
BACKENDS = ("auto", "anthropic", "claude-cli", "heuristic")


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path
    vault_dir: Path
    session_dirs: tuple[Path, ...] = ()
    settle_seconds: float = 300.0
    miner_backend: str = "auto"
    miner_model: str = DEFAULT_MODEL
    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    claude_executable: str = "claude"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """`MEMEM_DIR` (default `~/.memem`), `MEMEM_OBSIDIAN_VAULT` (default `~/obsidian-brain`),
        `MEMEM_EXTRA_SESSION_DIRS` (colon-separated, watched besides `~/.claude/projects`),
        `MEMEM_MINER_SETTLE_SECONDS` (300), `MEMEM_MINER_BACKEND` (auto | anthropic |
        claude-cli | heuristic), `MEMEM_MINER_MODEL`, `ANTHROPIC_API_KEY`,
        `ANTHROPIC_BASE_URL`, `MEMEM_CLAUDE` (the claude executable)."""
        home = Path(env.get("HOME") or Path.home())
        state = env.get("MEMEM_DIR") or str(home / ".memem")
        vault = env.get("MEMEM_OBSIDIAN_VAULT") or str(home / "obsidian-brain")
        extra = [p for p in (env.get("MEMEM_EXTRA_SESSION_DIRS") or "").split(":") if p.strip()]
        try:
            settle = float(env.get("MEMEM_MINER_SETTLE_SECONDS") or 300)
        except ValueError:
            settle = 300.0
        backend = (env.get("MEMEM_MINER_BACKEND") or "auto").strip().lower()
        return cls(
            state_dir=Path(state).expanduser().absolute(),
            vault_dir=Path(vault).expanduser().absolute(),
            session_dirs=tuple(
                Path(p).expanduser().absolute()
                for p in [str(home / ".claude" / "projects"), *extra]
            ),
            settle_seconds=max(0.0, settle),
            miner_backend=backend if backend in BACKENDS else "auto",
            miner_model=env.get("MEMEM_MINER_MODEL") or DEFAULT_MODEL,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or "",
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or "",
            claude_executable=env.get("MEMEM_CLAUDE") or "claude",
        )

    @property
    def index_path(self) -> Path:
        return self.state_dir / "index.sqlite3"

    @property
    def events_path(self) -> Path:
        return self.state_dir / "events.jsonl"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def miner_path(self) -> Path:
        return self.state_dir / "miner.sqlite3"
