"""`running_engine`: a real engine (`python -m memem daemon run`) for one test, answering on
its socket while the test runs and stopped by its pid afterwards, whatever the test did.
Imported as `from tests.engines import running_engine`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from memem.engine import client
from tests.conftest import ROOT
from tests.waiting import wait_until


def engine_env(env: Mapping[str, str] | None = None, root: Path = ROOT) -> dict[str, str]:
    """`env` (default: this test's environment) with the engine turned on, running the code
    under `root`."""
    environ = dict(os.environ if env is None else env, PYTHONPATH=str(root))
    environ.pop("MEMEM_ENGINE", None)
    return environ


def answers(env: Mapping[str, str]) -> bool:
    try:
        client.call(env, env["MEMEM_DIR"], "status", timeout=2.0)
    except client.Unavailable:
        return False
    return True


def heartbeat(env: Mapping[str, str]) -> str:
    """The state in the engine's status file (`running`, `stopped`...), or ""."""
    try:
        return str(json.loads((Path(env["MEMEM_DIR"]) / "daemon.json").read_text())["state"])
    except (OSError, ValueError, KeyError):
        return ""


@contextmanager
def running_engine(
    env: Mapping[str, str] | None = None, *, root: Path = ROOT, answering: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """An engine for the state dir of `env` (default: this test's), running the code under
    `root`, once it answers (or, with `answering=False`, once its heartbeat says it runs:
    asking an engine that runs other code would make it exit)."""
    environ = engine_env(env, root)
    engine = subprocess.Popen(
        [sys.executable, "-m", "memem", "daemon", "run"],
        cwd=root,  # `-m` imports from the working directory first
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: (
                engine.poll() is not None
                or (answers(environ) if answering else heartbeat(environ) == "running")
            ),
            timeout=60,
            what="the engine running",
        )
        assert engine.poll() is None, f"the engine exited with {engine.returncode}"
        yield engine
    finally:
        stop(engine)


def stop(engine: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the engine drains and exits), SIGKILL if it does not within 30 s."""
    if engine.poll() is None:
        engine.terminate()
        try:
            engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(timeout=30)
