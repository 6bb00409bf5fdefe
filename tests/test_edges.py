"""Front-end edges: bytes that are not UTF-8 on the command line or stdin."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _run(argv: list[bytes], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8")
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"memem", *argv],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [
        [b"save", b"caf\xe9 latte is the build tool"],
        [b"search", b"\xff\xfe"],
        [b"save", b"ok text here", b"--title", b"\xc3("],
        [b"import", b"/tmp/\xed\xa0\x80"],
    ],
)
def test_invalid_utf8_argument_is_a_clear_user_error(argv: list[bytes]) -> None:
    result = _run(argv)
    assert result.returncode == 1, result.stderr
    assert b"not valid UTF-8" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("data", [b"caf\xe9 is good\n", b"\xff\xfe\x00x", b"ok \xed\xa0\x80 no"])
def test_invalid_utf8_on_stdin_is_a_clear_user_error(data: bytes) -> None:
    result = _run([b"save", b"-"], stdin=data)
    assert result.returncode == 1, result.stderr
    assert b"not valid UTF-8" in result.stderr
    assert b"Traceback" not in result.stderr
