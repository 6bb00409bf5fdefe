"""One person, two devices, one personal remote: `memem sync init`, `memem sync`, `memem
purge`, `memem sync off`, at the CLI level (separate homes: tests/members.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitrepos import all_objects, bare, git, git_env
from tests.members import Member

PRIVATE_WORDS = "my bank's support line answers at night"


def personal(member: Member) -> dict[str, Any]:
    return member.channel("personal")


def remote_paths(remote: Path, env: dict[str, str]) -> set[str]:
    listing = git("-C", str(remote), "ls-tree", "-r", "--name-only", "memem", env=env)
    return set(listing.split())


def test_memories_follow_the_user_between_two_devices(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    remote = bare(tmp_path, "usb/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")

    first = laptop.save("Prefer uv over pip for new Python projects.", "--project", "global")
    laptop.memem("sync", "init", str(remote))
    desktop.memem("sync", "init", str(remote))
    assert desktop.memories()[first].content == laptop.memories()[first].content

    second = laptop.save("The home NAS backs up at 02:00 with restic.", "--project", "homelab")
    private = laptop.save(PRIVATE_WORDS, "--project", "global", "--private")
    laptop.memem("sync")
    desktop.memem("sync")
    got = desktop.memories()
    assert got[second].project == "homelab"
    assert got[second].content == laptop.memories()[second].content
    # A private memory never leaves the machine.
    assert private not in got
    assert PRIVATE_WORDS.encode() not in all_objects(remote, env)
    assert personal(laptop)["ahead"] == 0

    # A deprecation syncs as a deprecation: the file stays, status deprecated on both.
    laptop.memem("forget", first, "--reason", "switched to pixi")
    laptop.memem("sync")
    desktop.memem("sync")
    assert desktop.memories()[first].status == "deprecated"
    assert first not in {h["id"] for h in desktop.json("search", "uv pip", "--json")}

    # A purge is the one hard delete; its tombstone keeps the memory from coming back.
    laptop.memem("purge", second, "--reason", "wrong machine")
    assert second not in laptop.files()
    laptop.memem("sync")
    assert f"tombstones/{second}.json" in remote_paths(remote, env)
    assert f"memories/{second}.md" not in remote_paths(remote, env)
    desktop.memem("sync")
    assert second not in desktop.files()
    assert second not in {h["id"] for h in desktop.json("search", "restic backups", "--json")}
    for device in (laptop, desktop, laptop):
        device.memem("sync")
    assert second not in laptop.files() and second not in desktop.files()
    tablet = Member(tmp_path, "tablet")
    tablet.memem("sync", "init", str(remote))
    assert first in tablet.files() and second not in tablet.files()

    # `sync off` disconnects and keeps every memory.
    before = desktop.memories()
    desktop.memem("sync", "off")
    assert desktop.channels() == []
    assert desktop.memories() == before


def test_an_edit_on_one_device_reaches_the_other(tmp_path: Path) -> None:
    env = git_env(tmp_path, tmp_path / "gitconfig")
    remote = bare(tmp_path, "usb/memories.git", env)
    laptop, desktop = Member(tmp_path, "laptop"), Member(tmp_path, "desktop")
    memory_id = laptop.save("The blog builds with Hugo 0.120.", "--project", "blog")
    laptop.memem("sync", "init", str(remote))
    desktop.memem("sync", "init", str(remote))

    desktop.edit(memory_id, lambda text: text.replace("Hugo 0.120", "Hugo 0.125"))
    desktop.memem("sync")
    laptop.memem("sync")

    assert "Hugo 0.125" in laptop.memories()[memory_id].content
    hits = laptop.json("search", "Hugo", "--json")
    assert memory_id in {h["id"] for h in hits}
    assert not [m for m in laptop.memories().values() if m.extra.get("superseded_by")]
