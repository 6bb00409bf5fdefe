"""Shared fixtures. Every test runs with HOME, the state dir and the vault in tmp_path and
with MEMEM_*/CLAUDE_*/ANTHROPIC_* scrubbed from the environment: no test touches the real
home directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from memem.service.store import Store
from tests.fake_anthropic import FakeAnthropic

if TYPE_CHECKING:
    from tests.engine_helpers import Engines

# The property tests run the same examples on every run by default, so that a red CI can be
# reproduced and a green one means the same thing twice; `HYPOTHESIS_PROFILE=explore` searches
# new examples (do that when changing a rule, the ranking, the planner or the scanner).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
SCRUBBED = ("MEMEM_", "CLAUDE_", "ANTHROPIC_")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith(SCRUBBED) or key == "CLAUDECODE":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MEMEM_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MEMEM_OBSIDIAN_VAULT", str(tmp_path / "vault"))
    # A hook or command would start a detached engine that outlives the test: the tests of
    # the engine start their own and stop it (tests/test_engine*.py).
    monkeypatch.setenv("MEMEM_ENGINE", "off")
    yield tmp_path


@pytest.fixture
def engines() -> Iterator[Engines]:
    """Engines a test starts (or watches: one a hook started), stopped by pid afterwards."""
    from tests.engine_helpers import Engines  # it imports this module

    running = Engines()
    yield running
    running.stop_all()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault") as s:
        yield s


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a separate process, environment from the isolated fixture."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "memem", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    """A fake Messages API on 127.0.0.1 (tests/fake_anthropic.py), stopped after the test."""
    with FakeAnthropic() as fake:
        yield fake
