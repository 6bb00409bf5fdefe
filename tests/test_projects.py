"""Project aliases (memem.storage.projects, Store.canonical, Store.project_of): memories saved
under a repository's folder name join the project named after its remote, once; the index
keeps the canonical name through saves, vault edits and rebuilds; `memem save` and `memem list`
name projects the same way. Real git repositories, real stores, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memem.service.store import Store
from memem.storage import index, projects
from tests.conftest import ROOT
from tests.gitrepos import git_repo

REMOTE = "git@github.com:Acme/Shop.git"


def old_memories(store: Store) -> list[str]:
    """Memories saved while the project was named after its folder, `shop`."""
    return [
        store.save("Deploys go through Fly.io from the main branch.", project="shop").id,
        store.save("Invoices are numbered per calendar year.", project="shop").id,
    ]


def rows(store: Store) -> dict[str, str]:
    return {r.memory.id: r.memory.project for r in index.all_memories(store.index.connection())}


def test_memories_under_the_folder_name_join_the_remotes_project_once(
    store: Store, tmp_path: Path
) -> None:
    ids = old_memories(store)
    repo = git_repo(tmp_path / "code" / "shop", REMOTE)
    env = store.project_of(repo)
    assert (env.project, env.folder) == ("acme-shop", "shop")
    assert projects.aliases(store.settings.state_dir) == {"shop": "acme-shop"}
    assert rows(store) == dict.fromkeys(ids, "acme-shop")
    # The files keep the name they were written with.
    assert "project: shop\n" in store.file_of(ids[0]).read_text(encoding="utf-8")
    # Once: nothing is indexed under the folder's name any more.
    assert not projects.adopt(
        store.index.connection(), store.settings.state_dir, "shop", "acme-shop"
    )
    built = store.slice("how do we deploy?", cwd=str(repo))
    assert ids[0] in [i.id for i in built.items] and built.project == "acme-shop"


def test_the_slice_adopts_the_folder_name_on_the_first_prompt(store: Store, tmp_path: Path) -> None:
    ids = old_memories(store)
    repo = git_repo(tmp_path / "shop", REMOTE)
    built = store.slice("how do we deploy?", cwd=str(repo / "."))
    assert built.project == "acme-shop" and ids[0] in [i.id for i in built.items]
    assert store.canonical("shop") == "acme-shop"


def test_nothing_is_recorded_when_no_memory_has_the_folder_name(
    store: Store, tmp_path: Path
) -> None:
    store.save("Deploys go through Fly.io from the main branch.", project="other")
    store.project_of(git_repo(tmp_path / "shop", REMOTE))
    assert projects.aliases(store.settings.state_dir) == {}
    assert not (store.settings.state_dir / projects.PROJECTS_FILE).exists()
    assert store.canonical("shop") == "shop"


def test_the_canonical_name_survives_vault_edits_saves_and_rebuilds(
    store: Store, tmp_path: Path
) -> None:
    ids = old_memories(store)
    store.project_of(git_repo(tmp_path / "shop", REMOTE))
    # A file that still says the old name (written by another device, or by hand).
    edited = store.file_of(ids[1])
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("calendar year", "fiscal year"), encoding="utf-8"
    )
    store.reconcile()
    assert rows(store) == dict.fromkeys(ids, "acme-shop")
    later = store.save("Refunds take five working days.", project="shop")
    assert later.project == "acme-shop"
    store.rebuild_index()
    assert set(rows(store).values()) == {"acme-shop"}
    assert [h.id for h in store.search("fiscal year invoices", project="shop")] == [ids[1]]
    (listing,) = store.list(project="shop")
    assert (listing.project, listing.aliases, listing.active) == ("acme-shop", ("shop",), 3)


def test_a_later_alias_keeps_the_chain_pointing_at_the_newest_name(tmp_path: Path) -> None:
    state = tmp_path / "aliases"
    projects.record(state, "shop", "acme-shop")
    assert projects.record(state, "acme-shop", "acme-store") == {
        "shop": "acme-store",
        "acme-shop": "acme-store",
    }
    assert projects.record(state, "acme-store", "acme-shop") == {
        "shop": "acme-shop",
        "acme-store": "acme-shop",
    }


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[1, 2]", b'{"aliases": [1]}', b'{"aliases": {"a": 3}}', b"\xff\xfe"],
)
def test_a_damaged_projects_file_means_no_aliases(tmp_path: Path, content: bytes) -> None:
    (tmp_path / projects.PROJECTS_FILE).write_bytes(content)
    assert projects.aliases(tmp_path) == {}


def test_a_fifo_as_the_projects_file_means_no_aliases(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / projects.PROJECTS_FILE)
    assert projects.aliases(tmp_path) == {}


# -- the CLI -------------------------------------------------------------------------------------


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "memem", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_save_inside_a_repository_saves_to_its_project_and_elsewhere_to_global(
    tmp_path: Path,
) -> None:
    repo = git_repo(tmp_path / "checkout", REMOTE)
    (repo / "src").mkdir()
    inside = cli(repo / "src", "save", "The API uses Postgres 16, not MySQL.")
    assert "saved L" in inside.stdout and " acme-shop: " in inside.stdout
    outside = tmp_path / "notes"
    outside.mkdir()
    assert " global: " in cli(outside, "save", "I prefer short commit messages.").stdout
    named = cli(repo, "save", "Releases are tagged vX.Y.Z.", "--project", "ops").stdout
    assert " ops: " in named


def test_save_private_round_trips_through_the_file_and_get(tmp_path: Path) -> None:
    saved = cli(tmp_path, "save", "My staging login is in the team vault.", "--private")
    assert "(private)" in saved.stdout
    memory_id = saved.stdout.split()[-1]
    (got,) = json.loads(cli(tmp_path, "get", memory_id, "--json").stdout)
    assert got["private"] is True and got["branch"] is None
    files = list((tmp_path / "vault").rglob("*.md"))
    assert any("\nprivate: true\n" in f.read_text(encoding="utf-8") for f in files)
    plain = cli(tmp_path, "save", "The office closes at six.").stdout.split()[-1]
    assert json.loads(cli(tmp_path, "get", plain, "--json").stdout)[0]["private"] is False


def test_list_shows_the_aliases_of_a_project_in_text_and_json(tmp_path: Path) -> None:
    cli(tmp_path, "save", "Deploys go through Fly.io.", "--project", "shop")
    repo = git_repo(tmp_path / "shop", REMOTE)
    cli(repo, "save", "Invoices are numbered per calendar year.")
    text = cli(tmp_path, "list").stdout
    assert "acme-shop: 2 active" in text and "alias: shop -> acme-shop" in text
    (listing,) = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert listing["project"] == "acme-shop" and listing["aliases"] == ["shop"]
    assert {"project", "active", "deprecated", "layers", "recent"} <= set(listing)
