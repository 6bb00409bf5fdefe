"""`running_engine`: a real engine (`python -m memem daemon run`) for one test, answering on
its socket while the test runs and stopped by its pid afterwards, whatever the test did.
Imported as `from tests.engines import running_engine`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from memem.engine import client
from tests.conftest import ROOT
from tests.waiting import wait_until


def engine_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this test's environment) with the engine turned on."""
    environ = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT))
    environ.pop("MEMEM_ENGINE", None)
    return environ


def answers(env: Mapping[str, str]) -> bool:
    try:
        client.call(env, env["MEMEM_DIR"], "status", timeout=2.0)
    except client.Unavailable:
        return False
    return True


@contextmanager
def running_engine(env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """An engine for the state dir of `env` (default: this test's), once it answers."""
    environ = engine_env(env)
    engine = subprocess.Popen(
        [sys.executable, "-m", "memem", "daemon", "run"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: engine.poll() is not None or answers(environ),
            timeout=60,
            what="the engine answering",
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
