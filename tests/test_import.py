"""`memem import` / `Store.import_path`: what it reads, and what it refuses to read."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from memem.store import Store
from tests.conftest import run_cli

SECRET = "machine example.com login alice password hunter2-netrc-marker"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A private file outside the directory being imported (like ~/.netrc)."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "netrc.md").write_text(SECRET + "\n", encoding="utf-8")
    (private / "notes.md").write_text("Outside note about netrc-dir-marker.\n", encoding="utf-8")
    return private


@pytest.fixture
def docs(tmp_path: Path, outside: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "real.md").write_text("The shop deploys with Fly.io from main.\n", encoding="utf-8")
    (root / "sub" / "inner.md").write_text("Postgres 16 behind pgbouncer.\n", encoding="utf-8")
    (root / "to-netrc.md").symlink_to(outside / "netrc.md")
    (root / "to-private").symlink_to(outside, target_is_directory=True)
    (root / "sub" / "up.md").symlink_to("../../private/netrc.md")
    (root / "inside-link.md").symlink_to(root / "sub" / "inner.md")
    (root / "loop").symlink_to(root, target_is_directory=True)
    return root


def test_import_never_follows_a_symlink_out_of_the_directory(store: Store, docs: Path) -> None:
    report = store.import_path(docs)
    assert not store.search("hunter2"), "a symlinked file outside the root was imported"
    assert not store.search("netrc-dir-marker"), "a symlinked dir outside the root was walked"
    skipped = {Path(p).name for p, _ in report.errors}
    assert {"to-netrc.md", "to-private", "up.md"} <= skipped
    assert all("outside" in why for p, why in report.errors if Path(p).name in skipped)
    assert store.search("Fly.io") and store.search("pgbouncer")


def test_import_of_a_fifo_or_device_does_not_block_or_read_it(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "fifo"
    root.mkdir()
    os.mkfifo(root / "pipe.md")
    (root / "dev.md").symlink_to("/dev/zero")
    (root / "ok.md").write_text("A plain note about ruff format.\n", encoding="utf-8")
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(store.import_path(root)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "import blocked on a FIFO"
    [report] = result
    skipped = {Path(p).name for p, _ in report.errors}  # type: ignore[attr-defined]
    assert {"pipe.md", "dev.md"} <= skipped
    assert store.search("ruff format")


def test_cli_import_reports_the_skipped_symlinks(docs: Path) -> None:
    result = run_cli("import", str(docs))
    assert result.returncode == 0, result.stderr
    assert "to-netrc.md" in result.stdout + result.stderr
    assert "hunter2" not in run_cli("search", "hunter2", "--json").stdout
