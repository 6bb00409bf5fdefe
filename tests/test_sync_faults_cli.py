"""Sync's faults at the CLI level, as a user meets them: credentials in a remote URL, a remote
that does not answer, `kill -9` in the middle of a sync, a broken local git copy, a remote
rewritten by force. Separate homes per device (tests/members.py)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from memem.service.store import Store
from tests.gitrepos import all_objects, bare, git, git_env
from tests.members import Member
from tests.test_sync_devices import personal, remote_paths
from tests.waiting import wait_until


def fill(member: Member, count: int, project: str = "notes") -> list[str]:
    """`count` distinct memories saved through the store (the CLI would take minutes)."""
    with Store.open(
        state_dir=member.state, vault_dir=member.vault, env={"HOME": str(member.home)}
    ) as store:
        return [
            store.save(
                f"Fact number {k}: the build of module m{k} needs the flag --with-{k}-extras.",
                project=project,
            ).id
            for k in range(count)
        ]


def test_a_remote_url_with_a_password_is_refused_and_never_stored(tmp_path: Path) -> None:
    device = Member(tmp_path, "laptop")
    device.save("Something worth keeping.", "--project", "notes")
    token = "hunter2TokenValue"

    done = device.memem(
        "sync", "init", f"https://me:{token}@git.example.com/me/memories.git", check=False
    )

    assert done.returncode == 1, done
    assert token not in done.stdout + done.stderr
    for path in device.state.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert device.channels() == []


def test_a_remote_that_does_not_answer_is_named_and_recall_goes_on(tmp_path: Path) -> None:
    device = Member(tmp_path, "laptop")
    memory_id = device.save("The printer is on the third floor.", "--project", "notes")

    done = device.memem("sync", "init", str(tmp_path / "nowhere" / "memories.git"), check=False)

    assert done.returncode != 0 and "nowhere" in done.stderr
    hits = device.json("search", "printer floor", "--json")
    assert memory_id in {h["id"] for h in hits}


def test_an_unreachable_remote_backs_off_and_the_next_sync_catches_up(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    remote = bare(tmp_path, "mount/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")
    laptop.memem("sync", "init", str(remote))
    desktop.memem("sync", "init", str(remote))
    os.rename(tmp_path / "mount", tmp_path / "mount.off")
    memory_id = laptop.save("The VPN needs the new certificate from IT.", "--project", "notes")

    laptop.memem("sync", check=False)

    channel = personal(laptop)
    assert channel["blocked"] and channel["last_error"] and channel["next_try"]
    assert channel["ahead"] >= 1
    assert memory_id in {h["id"] for h in laptop.json("search", "VPN certificate", "--json")}
    os.rename(tmp_path / "mount.off", tmp_path / "mount")
    laptop.memem("sync")
    desktop.memem("sync")
    assert memory_id in desktop.files()
    assert not personal(laptop)["blocked"]


def test_a_sync_killed_midway_is_repaired_by_the_next_one(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    remote = bare(tmp_path, "usb/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")
    saved = fill(laptop, 300)

    running = laptop.start("sync", "init", str(remote))
    wait_until(lambda: (laptop.state / "sync").exists() or running.poll() is not None)
    if running.poll() is None:
        os.kill(running.pid, signal.SIGKILL)
    running.communicate(timeout=60)

    # However far it got, the next run finishes the job (stale locks, half-written refs).
    laptop.memem("sync", "init", str(remote))
    laptop.memem("sync")
    desktop.memem("sync", "init", str(remote))
    assert set(saved) <= set(desktop.files())
    assert {f"memories/{i}.md" for i in saved} <= remote_paths(remote, env)


def test_a_broken_local_git_copy_is_recloned_and_local_memories_pushed(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    remote = bare(tmp_path, "usb/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")
    first = laptop.save("The router's admin page is on port 8443.", "--project", "homelab")
    laptop.memem("sync", "init", str(remote))
    local_only = laptop.save("The NAS runs ZFS with two mirrored disks.", "--project", "homelab")
    (copy,) = [p for p in (laptop.state / "sync").iterdir() if p.name.endswith(".git")]
    shutil.rmtree(copy / "objects")
    (copy / "HEAD").write_bytes(b"\x00garbage")

    laptop.memem("sync")

    desktop.memem("sync", "init", str(remote))
    assert {first, local_only} <= set(desktop.files())
    assert laptop.memories()[first].content == desktop.memories()[first].content


def test_a_remote_rewritten_by_force_loses_no_memory(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    (tmp_path / "gitconfig").write_text(
        "[user]\n\tname = admin\n\temail = admin@example.com\n", encoding="utf-8"
    )
    remote = bare(tmp_path, "usb/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")
    kept = [
        laptop.save("The office wifi is called Lighthouse.", "--project", "office"),
        laptop.save("Lunch orders go in before 11:00.", "--project", "office"),
    ]
    laptop.memem("sync", "init", str(remote))
    desktop.memem("sync", "init", str(remote))
    # Someone rewrites the branch: one orphan commit holding nothing of memem's.
    scratch = tmp_path / "rewrite"
    git("init", "--quiet", str(scratch), env=env)
    (scratch / "README.md").write_text("fresh start\n", encoding="utf-8")
    git("add", "README.md", cwd=scratch, env=env)
    git("commit", "--quiet", "-m", "fresh start", cwd=scratch, env=env)
    git("push", "--quiet", "--force", str(remote), "HEAD:memem", cwd=scratch, env=env)

    for device in (desktop, laptop, desktop):
        device.memem("sync")

    assert set(kept) <= set(laptop.files()) and set(kept) <= set(desktop.files())
    assert {f"memories/{i}.md" for i in kept} <= remote_paths(remote, env)
    assert b"Lighthouse" in all_objects(remote, env)
