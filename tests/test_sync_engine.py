"""The engine's sync schedule with real engines, real git and a bare remote on local disk:
it pulls and pushes by itself on MEMEM_SYNC_INTERVAL, soon after mining saved memories, says
so in its status, survives a remote that is gone, and does nothing under `off`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tests.engine_helpers import Engines, answers
from tests.gitrepos import bare, git_env, remote_memories
from tests.members import Member
from tests.test_miner import write_session
from tests.waiting import wait_until


def with_engine(device: Member, **env: str) -> dict[str, str]:
    """`device`'s environment with the engine allowed (tests stop it by pid at teardown)."""
    environ = {**device.env, "MEMEM_MINER_BACKEND": "heuristic", **env}
    environ.pop("MEMEM_ENGINE")
    device.env = environ
    return environ


def sync_state(env: dict[str, str]) -> dict[str, Any]:
    status = answers(env)
    assert status is not None, "the engine stopped answering"
    state: dict[str, Any] = status["sync"]
    return state


def test_the_engine_pulls_and_pushes_on_its_own_on_the_interval(
    tmp_path: Path, engines: Engines
) -> None:
    remote = bare(tmp_path, "remote.git", git_env(tmp_path))
    laptop, desktop = Member(tmp_path, "Ada"), Member(tmp_path, "Ada-desktop")
    laptop.ok("sync", "init", str(remote))
    desktop.ok("sync", "init", str(remote))
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="0.5")
    engines.start(env)

    pulled = laptop.save("The VPN needs the new certificate.", "--project", "ops")
    laptop.ok("sync")
    wait_until(lambda: desktop.file_of(pulled) is not None, timeout=60, what="the pull")
    wait_until(lambda: pulled in desktop.ids(), timeout=60, what="the pulled memory indexed")

    pushed = desktop.save("The printer is on the second floor.", "--project", "office")
    wait_until(lambda: f"{pushed}.md" in remote_memories(remote), timeout=60, what="the push")
    wait_until(lambda: sync_state(env)["runs"] >= 2, timeout=60, what="both runs counted")
    state = sync_state(env)
    assert state["interval"] == 0.5 and state["last_error"] == ""
    assert state["last_run"] is not None


def test_a_remote_that_is_gone_is_shown_and_the_engine_keeps_serving(
    tmp_path: Path, engines: Engines
) -> None:
    remote = bare(tmp_path, "remote.git", git_env(tmp_path))
    desktop = Member(tmp_path, "Ada-desktop")
    desktop.ok("sync", "init", str(remote))
    remote.rename(tmp_path / "unplugged.git")
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="0.5")
    engines.start(env)
    wait_until(lambda: sync_state(env)["runs"] >= 1, timeout=60, what="a scheduled sync")
    assert sync_state(env)["last_error"].startswith("personal: ")
    memory = desktop.save("Recall works while the remote is away.", "--project", "ops")
    assert memory in desktop.ids()  # answered by the engine
    (status,) = desktop.json("sync", "status", "--json")
    assert status["blocked"] is True and status["next_try"]
    assert "sync: the engine syncs every 0.5 s" in desktop.ok("status")


def test_the_engine_syncs_soon_after_mining_saved_memories(
    tmp_path: Path, engines: Engines
) -> None:
    remote = bare(tmp_path, "remote.git", git_env(tmp_path))
    desktop = Member(tmp_path, "Ada-desktop")
    desktop.ok("sync", "init", str(remote))
    desktop.ok("mine", "--opt-in", "new")  # (with the engine off: it starts no engine)
    # An hour between syncs: only the first one (soon after the start) and mining's come.
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="3600", MEMEM_MINER_SETTLE_SECONDS="0")
    engines.start(env)
    wait_until(lambda: sync_state(env)["runs"] >= 1, timeout=60, what="the first sync")
    assert remote_memories(remote) == []

    repo = tmp_path / "code" / "shop"
    (repo / ".git").mkdir(parents=True)
    transcript = write_session(
        desktop.home / ".claude" / "projects" / "-code-shop" / "s1.jsonl",
        [("user", "We always run make migrate before make test")],
        str(repo),
    )
    os.utime(transcript, (time.time() - 10, time.time() - 10))  # settled
    wait_until(lambda: remote_memories(remote) != [], timeout=90, what="the mined memory pushed")
    wait_until(lambda: sync_state(env)["runs"] >= 2, timeout=60, what="that sync counted")
    assert sync_state(env)["last_error"] == ""


def test_with_the_schedule_off_the_engine_never_syncs(tmp_path: Path, engines: Engines) -> None:
    remote = bare(tmp_path, "remote.git", git_env(tmp_path))
    desktop = Member(tmp_path, "Ada-desktop")
    desktop.ok("sync", "init", str(remote))
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="off")
    engines.start(env)
    assert sync_state(env) == {"interval": None, "runs": 0, "last_run": None, "last_error": ""}
    assert "no schedule (MEMEM_SYNC_INTERVAL=off)" in desktop.ok("status")


def test_a_sync_by_hand_and_the_engines_never_fight(tmp_path: Path, engines: Engines) -> None:
    remote = bare(tmp_path, "remote.git", git_env(tmp_path))
    laptop, desktop = Member(tmp_path, "Ada"), Member(tmp_path, "Ada-desktop")
    laptop.ok("sync", "init", str(remote))
    desktop.ok("sync", "init", str(remote))
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="0.1")
    engines.start(env)
    saved = set()
    facts = (
        "The projector remote lives in the top drawer.",
        "Visitors sign in at the front desk.",
        "The kitchen dishwasher runs at 18:00.",
        "Parking permits are renewed every January.",
    )
    for fact in facts:  # each `memem sync` waits for a run of the engine's in flight
        saved.add(desktop.save(fact, "--project", "office"))
        assert "personal: pulled 0, pushed " in desktop.ok("sync")
    assert {f"{i}.md" for i in saved} <= set(remote_memories(remote))
    wait_until(lambda: sync_state(env)["runs"] >= 2, timeout=60, what="the engine's runs")
    assert sync_state(env)["last_error"] == ""
    laptop.ok("sync")
    assert saved <= laptop.ids()


def test_an_engine_without_sync_connected_makes_nothing_for_it(
    tmp_path: Path, engines: Engines
) -> None:
    desktop = Member(tmp_path, "Ada-desktop")
    env = with_engine(desktop, MEMEM_SYNC_INTERVAL="0.1")
    engines.start(env)
    desktop.save("Nothing here is shared.", "--project", "ops")
    wait_until(lambda: answers(env) is not None, timeout=60, what="the engine answering")
    assert sync_state(env)["runs"] == 0 and not (desktop.state / "sync").exists()
