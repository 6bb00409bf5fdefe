"""Sync under faults, with real git and real processes: a remote that does not answer, a push
race, kill -9 mid-sync, a corrupted local repository, a remote rewritten by force."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memem.core.memory import to_datetime
from memem.service.sync import Outcome, Sync
from tests.conftest import ROOT
from tests.gitrepos import bare, git, remote_files
from tests.sync_devices import Device, devices, git_env
from tests.waiting import wait_until

__all__ = ["devices", "git_env"]  # fixtures


def ok(outcomes: list[Outcome] | Outcome) -> Outcome:
    outcome = outcomes if isinstance(outcomes, Outcome) else outcomes[0]
    assert outcome.ok, outcome.error
    return outcome


def test_an_unreachable_remote_backs_off_leaves_recall_alone_and_catches_up(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a = devices["a"]
    first = a.store.save("The queue is RabbitMQ", project="ops")
    ok(a.sync.connect(str(remote)))
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    sync = Sync(a.store, device="a", clock=lambda: now[0])
    away = remote.rename(tmp_path / "away.git")
    queued = a.store.save("The cache is Redis", project="ops")

    [failed] = sync.run()
    assert not failed.ok and "away" not in failed.error and failed.error, failed.error
    [status] = sync.status()
    assert status.blocked and status.last_error == failed.error and status.ahead == 1
    assert to_datetime(status.next_try or "") == now[0] + timedelta(seconds=60)
    assert [h.id for h in a.store.search("RabbitMQ queue")] == [first.id]

    now[0] += timedelta(seconds=30)
    assert sync.run(due_only=True) == []  # not due yet
    now[0] += timedelta(seconds=31)
    [again] = sync.run(due_only=True)
    assert not again.ok
    assert to_datetime(sync.status()[0].next_try or "") == now[0] + timedelta(seconds=120)

    away.rename(remote)
    now[0] += timedelta(seconds=121)
    assert ok(sync.run(due_only=True)).pushed == 1
    assert f"memories/{queued.id}.md" in remote_files(remote)
    [status] = sync.status()
    assert not status.blocked and status.next_try is None and status.ahead == 0


def test_a_push_race_fetches_merges_and_pushes_again(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "team.git", os.environ)
    a, b = devices["a"], devices["b"]
    ok(a.sync.connect(str(remote)))
    ok(b.sync.connect(str(remote)))
    mine = b.store.save("Feature flags live in LaunchDarkly", project="web")
    theirs = a.store.save("Error tracking is Sentry", project="web")
    raced = []

    def teammate_pushes_first() -> None:
        if not raced:
            raced.append(ok(a.sync.run()))

    outcome = ok(b.sync.run(pause=teammate_pushes_first))
    assert raced and outcome.pulled == 1 and outcome.pushed == 1
    assert {f"memories/{mine.id}.md", f"memories/{theirs.id}.md"} <= set(remote_files(remote))
    assert b.ids() == {mine.id, theirs.id}
    log = git("--git-dir", str(remote), "log", "--format=%s", "memem", env=os.environ).splitlines()
    assert log[0].endswith("from b") and log[1].endswith("from a")


CHILD = """
import sys
from memem.service.store import Store
from memem.service.sync import Sync
store = Store.open(state_dir=sys.argv[1], vault_dir=sys.argv[2], semantic="off")
Sync(store, device="b").connect(sys.argv[3])
"""


def test_kill_9_during_a_sync_then_the_next_sync_finishes_cleanly(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a = devices["a"]
    saved = a.write_memories(400)
    ok(a.sync.connect(str(remote)))
    b_root = tmp_path / "devices" / "b"
    vault = b_root / "vault" / "memem" / "memories"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, "-c", CHILD, str(b_root / "state"), str(b_root / "vault"), str(remote)]
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(
            lambda: vault.is_dir() and sum(1 for _ in vault.glob("*.md")) >= 20,
            timeout=60,
            what="the child sync writing memories",
        )
        assert child.poll() is None, "the sync finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert len(list(vault.glob("*.md"))) < 400

    b = devices["b"]
    outcome = ok(b.sync.run())
    assert outcome.pulled > 0
    assert b.ids() == saved
    assert not list(vault.glob(".*.tmp"))
    assert ok(b.sync.run()).pulled == 0 and b.sync.status()[0].ahead == 0


def test_locks_left_by_a_killed_git_do_not_block_the_next_sync(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a = devices["a"]
    ok(a.sync.connect(str(remote)))
    git_dir = a.state_dir / "sync" / "personal.git"
    for lock in ("refs/remotes/origin/memem.lock", "packed-refs.lock", "config.lock"):
        (git_dir / lock).parent.mkdir(parents=True, exist_ok=True)
        (git_dir / lock).write_text("left by a killed git")
    memory = a.store.save("Secrets are in 1Password", project="ops")
    assert ok(a.sync.run()).pushed == 1
    assert f"memories/{memory.id}.md" in remote_files(remote)


@pytest.mark.parametrize("damage", ["refs", "objects", "gone-objects"])
def test_a_corrupted_local_repository_is_moved_aside_and_fetched_again(
    tmp_path: Path, devices: dict[str, Device], damage: str
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a = devices["a"]
    old = a.store.save("Terraform state is in S3", project="infra")
    ok(a.sync.connect(str(remote)))
    git_dir = a.state_dir / "sync" / "personal.git"
    if damage == "refs":
        (git_dir / "refs" / "remotes" / "origin" / "memem").write_bytes(b"garbage\n")
    elif damage == "objects":
        for path in (git_dir / "objects").rglob("*"):
            if path.is_file() and "info" not in path.parts:
                path.chmod(0o600)
                path.write_bytes(b"garbage")
    else:
        for path in sorted((git_dir / "objects").iterdir()):
            if path.name not in ("info", "pack"):
                subprocess.run(["rm", "-rf", str(path)], check=True)
        for path in (git_dir / "objects" / "pack").iterdir():
            path.unlink()
    new = a.store.save("Terraform runs in Atlantis", project="infra")

    assert ok(a.sync.run()).pushed == 1
    assert list((a.state_dir / "sync").glob("personal.git.broken-*"))
    assert {f"memories/{old.id}.md", f"memories/{new.id}.md"} <= set(remote_files(remote))
    assert ok(a.sync.run()).pushed == 0


def test_a_remote_rewritten_by_force_loses_nothing(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a, b = devices["a"], devices["b"]
    first = a.store.save("The docs site is built with mkdocs", project="docs")
    ok(a.sync.connect(str(remote)))
    second = b.store.save("Docs deploy to GitHub Pages", project="docs")
    ok(b.sync.connect(str(remote)))
    empty_tree = git(
        "--git-dir", str(remote), "hash-object", "-t", "tree", "-w", "/dev/null", env=os.environ
    )
    ident = ("-c", "user.name=Force", "-c", "user.email=f@example.com")
    orphan = git(
        "--git-dir",
        str(remote),
        *ident,
        "commit-tree",
        empty_tree.strip(),
        "-m",
        "rewrite",
        env=os.environ,
    )
    git("--git-dir", str(remote), "update-ref", "refs/heads/memem", orphan.strip(), env=os.environ)
    assert remote_files(remote) == {}

    ok(a.sync.run())
    ok(b.sync.run())
    ok(a.sync.run())
    assert a.ids() == b.ids() == {first.id, second.id}
    assert {f"memories/{first.id}.md", f"memories/{second.id}.md"} == set(remote_files(remote))


def test_connecting_again_over_a_broken_local_repository_repairs_it(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    remote = bare(tmp_path, "memories.git", os.environ)
    a = devices["a"]
    memory = a.store.save("Feature branches are rebased, never merged", project="web")
    ok(a.sync.connect(str(remote)))
    (a.state_dir / "sync" / "personal.git" / "HEAD").write_bytes(b"\x00garbage")
    assert ok(a.sync.connect(str(remote))).pushed == 0
    assert f"memories/{memory.id}.md" in remote_files(remote)
    assert not list((a.state_dir / "sync").glob("*.probe.git"))
