"""Devices for the API-level sync tests: each device is its own state dir and vault (one
store, one `Sync`) in the test's process. Git, in memem and in the test (`tests.gitrepos.git`
with `env=os.environ`), runs with HOME in the test's tmp_path and GIT_CONFIG_NOSYSTEM=1 (the
autouse `git_env` fixture), so no real git configuration is read or written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from memem.core import markdown
from memem.core.memory import Memory
from memem.service.store import Store
from memem.service.sync import Sync
from memem.storage import index
from tests.gitrepos import git


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_SSH_COMMAND", "GIT_WORK_TREE"):
        monkeypatch.delenv(key, raising=False)


class Device:
    """One machine of one user: its store and its sync."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.root = root / name
        self.store = Store.open(
            state_dir=self.root / "state", vault_dir=self.root / "vault", semantic="off"
        )
        self.sync = Sync(self.store, device=name)

    @property
    def state_dir(self) -> Path:
        return self.store.settings.state_dir

    @property
    def memories_dir(self) -> Path:
        return self.store.vault.memories_dir

    def ids(self) -> set[str]:
        """The ids of the memories in the index (what recall can find)."""
        return {r.memory.id for r in index.all_memories(self.store.index.connection())}

    def file_ids(self) -> set[str]:
        """The ids of every memory file in the vault (indexed or not)."""
        return {self.store.vault.read(st.name).memory.id for st in self.store.vault.scan()}

    def write_memories(self, count: int, project: str = "ops") -> set[str]:
        """`count` memory files written straight into the vault, then indexed in one pass
        (far faster than as many saves); their ids."""
        ids = set()
        for n in range(count):
            memory = Memory(
                id=f"{n + 1:032x}",
                title=f"Service {n}",
                content=f"Service {n} listens on port {9000 + n} behind the {n % 7}th proxy",
                created="2030-01-01T00:00:00Z",
                updated="2030-01-01T00:00:00Z",
                project=project,
            )
            (self.memories_dir / memory.filename).write_text(markdown.render(memory))
            ids.add(memory.id)
        self.store.rebuild_index()
        return ids

    def set_identity(self, name: str, channel: str = "personal") -> None:
        """The git identity this device's commits carry (the channel's repository config)."""
        git_dir = self.state_dir / "sync" / f"{channel}.git"
        git("--git-dir", str(git_dir), "config", "user.name", name, env=os.environ)
        email = f"{name.lower()}@example.com"
        git("--git-dir", str(git_dir), "config", "user.email", email, env=os.environ)

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[dict[str, Device]]:
    made: dict[str, Device] = {}

    class Devices(dict[str, Device]):
        def __missing__(self, name: str) -> Device:
            made[name] = self[name] = Device(tmp_path / "devices", name)
            return made[name]

    yield Devices()
    for device in made.values():
        device.close()
