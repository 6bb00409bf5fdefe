"""Retention (`memem retention preview|run`): archive what is injected and never used, with
its immunities; archived memories leave automatic recall, stay findable, come back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memem.service.store import Store
from memem.storage.ledger import iso
from memem.storage.utility import Use, Utility
from tests.conftest import run_cli

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def _injected(
    state: Path, memory_id: str, times: int, used: int = 0, *, days_ago: int = 60
) -> None:
    """`times` decided injections of a memory, the first `used` of them used."""
    start = NOW - timedelta(days=days_ago)
    with Utility.open(state) as utility:
        utility.record_uses(
            Use(memory_id, iso((start + timedelta(minutes=n)).timestamp()), n < used)
            for n in range(times)
        )


def _noise(store: Store, text: str, **kwargs: object) -> str:
    memory_id = store.add(text, project="shop", source_type="mined", **kwargs).memory.id  # type: ignore[arg-type]
    _injected(store.settings.state_dir, memory_id, 12)
    return memory_id


def test_preview_lists_what_is_never_used_and_run_archives_it(store: Store) -> None:
    noise = _noise(store, "The office coffee machine descales on Fridays.")
    used = store.add("Deploys go out with flyctl deploy.", project="shop", source_type="mined")
    _injected(store.settings.state_dir, used.memory.id, 12, used=6)
    preview = store.retention_preview(now=NOW)
    assert [c.to_dict() for c in preview.archive] == [
        {
            "id": noise,
            "title": "The office coffee machine descales on Fridays.",
            "reason": "injected 12 times, used 0",
            "injected": 12,
            "used": 0,
        }
    ]
    assert preview.immune == ()
    assert store.get(noise).active  # a preview changes nothing
    ran = store.retention_run(now=NOW)
    assert ran.archived == (noise,)
    text = store.file_of(noise).read_text("utf-8")
    assert "status: archived" in text and "archived_reason: injected 12 times, used 0" in text
    assert store.retention_preview(now=NOW).archive == ()  # archived already


def test_judged_unhelpful_twice_and_never_used_is_archived(store: Store) -> None:
    memory_id = store.add("Lunch is at noon.", project="shop", source_type="mined").memory.id
    store.feedback(memory_id, "unhelpful")
    assert store.retention_preview(now=NOW).archive == ()
    store.feedback(memory_id, "unhelpful")
    [candidate] = store.retention_preview(now=NOW).archive
    assert candidate.reason == "judged unhelpful 2 times, never used"


def test_immunities(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMEM_RETENTION_IMMUNE_TAGS", "keep, Legal")
    with Store.open(
        state_dir=store.settings.state_dir, vault_dir=store.settings.vault_dir
    ) as tagged_store:
        anchor = _noise(tagged_store, "Never push to main directly.", layer=0)
        tagged = _noise(tagged_store, "The contract term is two years.", tags=["legal"])
        helpful = _noise(tagged_store, "Staging lives at staging.shop.test.")
        tagged_store.feedback(helpful, "helpful")
        by_hand = tagged_store.add("The VPN needs a hardware key.", project="shop").memory.id
        _injected(tagged_store.settings.state_dir, by_hand, 12)
        recent = tagged_store.add("CI caches pip.", project="shop", source_type="mined")
        _injected(tagged_store.settings.state_dir, recent.memory.id, 30, used=1, days_ago=2)
        preview = tagged_store.retention_preview(now=NOW)
    assert preview.archive == ()
    reasons = {c.id: c.reason for c in preview.immune}
    assert reasons == {
        anchor: "L0 anchor",
        tagged: "immune tag legal",
        helpful: "judged helpful",
        by_hand: "saved by hand",
        recent.memory.id: "used recently",
    }


def test_archived_leaves_automatic_recall_but_explicit_search_finds_it_marked(
    store: Store,
) -> None:
    noise = _noise(store, "The orders queue on RabbitMQ is durable and mirrored.")
    query = "is the orders queue on RabbitMQ durable"
    assert noise in [i.id for i in store.slice(query, scope="shop").items]
    store.retention_run(now=NOW)
    assert store.slice(query, scope="shop").items == ()
    [hit] = store.search(query)
    assert (hit.id, hit.status) == (noise, "archived")
    assert store.search(query, project="shop")[0].status == "archived"
    status = store.status()
    assert (status.active, status.archived, status.memories) == (0, 1, 1)
    [listing] = store.list(project="shop")
    assert (listing.active, listing.archived) == (0, 1)


def test_restore_brings_an_archived_memory_back_into_recall(store: Store) -> None:
    noise = _noise(store, "The orders queue on RabbitMQ is durable and mirrored.")
    store.retention_run(now=NOW)
    done = store.restore(noise)
    assert done.changed == "archived" and done.memory.active
    assert "archived_reason" not in store.file_of(noise).read_text("utf-8")
    query = "is the orders queue on RabbitMQ durable"
    assert noise in [i.id for i in store.slice(query, scope="shop").items]
    # Its record starts afresh: the next run does not archive it again.
    assert store.retention_preview(now=NOW).archive == ()


def test_an_archived_memory_survives_a_rebuild_of_the_index(store: Store) -> None:
    noise = _noise(store, "The orders queue on RabbitMQ is durable and mirrored.")
    store.retention_run(now=NOW)
    store.rebuild_index()
    assert store.get(noise).status == "archived"


def test_cli_retention_preview_json_run_and_restore(tmp_path: Path) -> None:
    saved = run_cli("save", "The office coffee machine descales on Fridays.", "--project", "x")
    memory_id = saved.stdout.split()[-1]
    with Store.open() as store:  # saved by hand: immune; mined memories are not
        row = store.get(memory_id)
    _injected(Path(store.settings.state_dir), memory_id, 12)
    shown = json.loads(run_cli("retention", "preview", "--json").stdout)
    assert shown["archive"] == [] and shown["immune"][0]["reason"] == "saved by hand"
    assert row.source_type == "user"
    plain = run_cli("retention", "preview")
    assert plain.returncode == 0 and "would archive 0 memories" in plain.stdout
    assert "immune (1)" in plain.stdout
    assert run_cli("retention", "run").stdout.startswith("archived 0 memories")
    bad = run_cli("retention", "delete")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_the_engine_runs_retention_only_when_an_interval_is_set(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = _noise(store, "The office coffee machine descales on Fridays.")
    assert run_cli("daemon", "run", "--once").returncode == 0
    assert store.get(noise).active
    monkeypatch.setenv("MEMEM_RETENTION_INTERVAL", "3600")
    assert run_cli("daemon", "run", "--once").returncode == 0
    store.reconcile()
    assert store.get(noise).status == "archived"


def test_doctor_reports_learning_and_a_damaged_record_of_use(store: Store) -> None:
    _noise(store, "The office coffee machine descales on Fridays.")
    store.retention_run(now=NOW)
    out = json.loads(run_cli("doctor", "--json").stdout)
    [check] = [c for c in out["checks"] if c["name"] == "learning"]
    assert check["level"] == "ok" and "1 archived" in check["detail"]
    (store.settings.state_dir / "utility.sqlite3").write_bytes(b"garbage" * 200)
    out = json.loads(run_cli("doctor", "--json").stdout)
    [check] = [c for c in out["checks"] if c["name"] == "learning"]
    assert check["level"] == "warn" and "not a readable database" in check["detail"]


def test_memory_search_marks_an_archived_hit_as_memem_search_does(store: Store) -> None:
    from memem.mcp_server.tools import run_tool

    noise = _noise(store, "The orders queue on RabbitMQ is durable and mirrored.")
    store.retention_run(now=NOW)
    args = {"query": "is the orders queue on RabbitMQ durable"}
    text = run_tool(store, "memory_search", args, import_roots=(), mining=None)
    assert text.startswith(noise) and "[archived]" in text.splitlines()[0]
    [hit] = json.loads(run_cli("search", args["query"], "--json").stdout)
    assert (hit["id"], hit["status"]) == (noise, "archived")  # as the README says
    store.restore(noise)
    text = run_tool(store, "memory_search", args, import_roots=(), mining=None)
    assert "[archived]" not in text
