"""`memem doctor` on the engine: off, not running, running and answering with the installed
code, running but deaf, and dead after a kill; each said with its reason and a fix. The other
checks are exercised by tests/test_cli.py, test_quarantine.py and test_store_integrity.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memem.engine import protocol
from tests.conftest import ROOT, run_cli
from tests.engines import engine_env, running_engine


def doctor(env: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """The doctor's verdict and its engine check."""
    result = subprocess.run(
        [sys.executable, "-m", "memem", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=engine_env() if env is None else env,
        timeout=120,
    )
    report = json.loads(result.stdout)
    (engine,) = [c for c in report["checks"] if c["name"] == "engine"]
    return report["verdict"], engine


def test_doctor_says_the_engine_is_off_under_memem_engine_off_and_not_as_a_problem() -> None:
    report = json.loads(run_cli("doctor", "--json").stdout)  # the suite runs with it off
    (engine,) = [c for c in report["checks"] if c["name"] == "engine"]
    assert engine["level"] == "ok" and "MEMEM_ENGINE=off" in engine["detail"]
    assert "engine" not in {c["name"] for c in report["checks"] if c["level"] != "ok"}


def test_doctor_says_how_to_start_an_engine_that_is_not_running() -> None:
    verdict, engine = doctor()
    assert (verdict, engine["level"]) == ("DEGRADED", "warn")
    assert "not running" in engine["detail"] and "memem daemon ensure" in engine["fix"]
    assert not (Path(os.environ["MEMEM_DIR"]) / "daemon.json").exists()  # it started nothing


def test_doctor_sees_the_running_engine_answer_with_the_installed_code() -> None:
    with running_engine() as engine:
        _, check = doctor()
    assert check["level"] == "ok", check
    assert f"pid {engine.pid}" in check["detail"]
    assert protocol.socket_path(os.environ["MEMEM_DIR"]) in check["detail"]
    assert f"code {protocol.code_digest()} (installed)" in check["detail"]


def test_doctor_says_an_engine_that_was_killed_did_not_stop_cleanly_and_where_its_log_is() -> None:
    with running_engine() as engine:
        engine.kill()
        engine.wait(timeout=30)
        _, check = doctor()
    assert check["level"] == "warn"
    assert "not running; it could not start or did not stop cleanly" in check["detail"]
    assert "daemon.out" in check["detail"] and "memem daemon ensure" in check["fix"]


@pytest.fixture
def blocked_socket() -> Iterator[Path]:
    """A directory where the engine's socket belongs: it cannot listen."""
    path = Path(protocol.socket_path(os.environ["MEMEM_DIR"]))
    path.mkdir(mode=0o700, parents=True)
    yield path
    path.rmdir()


def test_doctor_names_an_engine_that_runs_but_cannot_listen_and_why(blocked_socket: Path) -> None:
    with running_engine(answering=False) as engine:
        _, check = doctor()
    assert check["level"] == "warn"
    assert f"running (pid {engine.pid}) but not answering on {blocked_socket}" in check["detail"]
    assert "cannot listen" in check["detail"]
    assert "memem daemon stop" in check["fix"]


def test_doctor_names_an_engine_running_other_code_than_the_installed(tmp_path: Path) -> None:
    """A plugin update while the engine runs: the engine's code is not the installed one."""
    old = tmp_path / "old-install"
    shutil.copytree(ROOT / "memem", old / "memem", ignore=shutil.ignore_patterns("__pycache__"))
    with running_engine(root=old, answering=False) as engine:
        _, check = doctor()
    assert check["level"] == "warn"
    assert f"running (pid {engine.pid}) other code" in check["detail"]
    assert f"than the installed ({protocol.code_digest()})" in check["detail"]
    assert "memem daemon ensure" in check["fix"]
