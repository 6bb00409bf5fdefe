"""Settings, read from the environment by entry points only; everything else takes arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path
    vault_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """`MEMEM_DIR` (default `~/.memem`) and `MEMEM_OBSIDIAN_VAULT` (default `~/obsidian-brain`)."""
        home = Path(env.get("HOME") or Path.home())
        state = env.get("MEMEM_DIR") or str(home / ".memem")
        vault = env.get("MEMEM_OBSIDIAN_VAULT") or str(home / "obsidian-brain")
        return cls(
            state_dir=Path(state).expanduser().absolute(),
            vault_dir=Path(vault).expanduser().absolute(),
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
