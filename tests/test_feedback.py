"""Feedback and restore (`memem.service.feedback`): the store, the CLI and MCP over stdio."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memem.errors import InvalidInput, NotFound
from memem.service.store import Store
from memem.storage.utility import Utility
from tests.conftest import run_cli
from tests.test_mcp import Server, first_id, server_env

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def _save(store: Store, text: str, project: str = "shop") -> str:
    return store.add(text, project=project).memory.id


def _file(store: Store, memory_id: str) -> str:
    return store.file_of(memory_id).read_text("utf-8")


def test_helpful_and_unhelpful_touch_only_the_record_of_use(store: Store) -> None:
    memory_id = _save(store, "Deploys go out from main with Fly.io.")
    before = _file(store, memory_id)
    assert store.feedback(memory_id, "helpful").changed == ""
    assert store.feedback(memory_id[:8], "unhelpful", "not this time").changed == ""
    assert _file(store, memory_id) == before
    with Utility.open(store.settings.state_dir) as utility:
        record = utility.records()[memory_id]
    assert (record.helpful, record.unhelpful) == (1, 1)


def test_wrong_deprecates_with_the_note_as_reason_and_its_secrets_scrubbed(store: Store) -> None:
    memory_id = _save(store, "The shop builds with yarn workspaces.")
    done = store.feedback(memory_id, "wrong", f"we moved to pnpm, token {SECRET}")
    assert done.changed == "deprecated" and done.memory.status == "deprecated"
    text = _file(store, memory_id)
    assert "status: deprecated" in text
    assert "deprecated_reason: 'wrong: we moved to pnpm, token [REDACTED:github-token]'" in text
    assert SECRET not in text
    with Utility.open(store.settings.state_dir) as utility:
        assert SECRET not in str(utility.verdicts(memory_id))
    assert store.search("which build tool: yarn workspaces") == []


def test_outdated_leaves_recall_with_valid_to_and_restore_brings_it_back(store: Store) -> None:
    memory_id = _save(store, "The staging database is Postgres 14 on db-staging-2.")
    done = store.feedback(memory_id, "outdated", "upgraded to 16")
    assert done.memory.valid_to is not None and done.memory.status == "deprecated"
    assert "outdated_reason: upgraded to 16" in _file(store, memory_id)
    assert store.search("staging database Postgres") == []
    restored = store.restore(memory_id)
    assert restored.changed == "deprecated, valid_to" and restored.memory.valid_to is None
    assert restored.memory.active and "outdated_reason" not in _file(store, memory_id)
    assert [h.id for h in store.search("staging database Postgres")] == [memory_id]


@pytest.mark.parametrize("how", ["wrong", "forget"])
def test_restore_undoes_wrong_and_forget(store: Store, how: str) -> None:
    memory_id = _save(store, "Payments retry three times with exponential backoff.")
    if how == "forget":
        store.forget(memory_id, reason="obsolete")
    else:
        store.feedback(memory_id, "wrong", "no")
    assert store.search("how often do payments retry") == []
    done = store.restore(memory_id)
    assert done.memory.active and done.memory.valid_to is None
    assert "deprecated_reason" not in _file(store, memory_id)
    assert [h.id for h in store.search("how often do payments retry")] == [memory_id]
    assert store.restore(memory_id).changed == ""  # active already: nothing to undo


def test_restore_starts_the_record_of_use_afresh(store: Store) -> None:
    memory_id = _save(store, "The CDN purges with cdnctl purge --all.")
    store.feedback(memory_id, "unhelpful")
    store.feedback(memory_id, "unhelpful")
    store.restore(memory_id)
    with Utility.open(store.settings.state_dir) as utility:
        assert memory_id not in utility.records()


def test_bad_verdicts_ids_and_notes_are_refused(store: Store) -> None:
    memory_id = _save(store, "Logs ship to Loki through promtail.")
    with pytest.raises(InvalidInput, match="verdict must be one of"):
        store.feedback(memory_id, "great")
    with pytest.raises(InvalidInput, match="note is"):
        store.feedback(memory_id, "wrong", "x" * 300)
    with pytest.raises(NotFound):
        store.feedback("0" * 32, "helpful")
    with pytest.raises(NotFound):
        store.restore("0" * 32)


def test_cli_feedback_and_restore_round_trip(tmp_path: Path) -> None:
    saved = run_cli("save", "Releases are tagged vX.Y.Z and pushed by CI.", "--project", "shop")
    memory_id = saved.stdout.split()[-1]
    out = run_cli("feedback", memory_id[:8], "wrong", "--note", "CI does not push tags")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"wrong {memory_id[:8]}") and "deprecated" in out.stdout
    shown = json.loads(run_cli("restore", memory_id, "--json").stdout)
    assert shown["status"] == "active" and "deprecated" in shown["changed"]
    helpful = json.loads(run_cli("feedback", memory_id, "helpful", "--json").stdout)
    assert helpful["verdict"] == "helpful" and helpful["changed"] == ""
    again = run_cli("restore", memory_id[:8]).stdout  # active already: says the record resets
    assert "was active already; its record of use starts afresh" in again


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feedback", "abc", "great"), "invalid choice"),
        (("feedback", "abc"), "required"),
        (("feedback", "abc", "wrong", "--note", "x" * 300), "--note is"),
        (("restore",), "required"),
    ],
)
def test_cli_bad_input_exits_2(args: tuple[str, ...], message: str) -> None:
    out = run_cli(*args)
    assert out.returncode == 2 and message in out.stderr


def test_cli_unknown_id_exits_1_with_one_line() -> None:
    out = run_cli("feedback", "0" * 32, "helpful")
    assert out.returncode == 1 and out.stderr.startswith("memem: no memory")


def test_a_damaged_record_of_use_is_named_and_the_index_left_alone() -> None:
    saved = run_cli("save", "Invoices are generated on the 1st by the billing cron.")
    memory_id = saved.stdout.split()[-1]
    state = Path(os.environ["MEMEM_DIR"])
    (state / "utility.sqlite3").write_bytes(b"not a database, damaged" * 200)
    out = run_cli("feedback", memory_id, "helpful")
    assert out.returncode == 1
    assert "record of use" in out.stderr and "utility.sqlite3" in out.stderr
    assert "index" not in out.stderr and not list(state.glob("index.sqlite3.corrupt-*"))
    assert run_cli("get", memory_id).returncode == 0


def test_mcp_memory_feedback_over_stdio(tmp_path: Path) -> None:
    with Server(server_env(), cwd=tmp_path) as s:
        memory_id = s.save("The e2e-feedback team formats with black at 100.", project="e2e-fb")
        query = {"query": "the e2e-feedback team formatter black", "project": "e2e-fb"}
        assert memory_id in s.ok("memory_search", **query)
        text = s.ok("memory_feedback", id=memory_id, verdict="helpful")
        assert text.startswith("helpful (ranking learns)") and first_id(text) == memory_id
        text = s.ok("memory_feedback", id=memory_id, verdict="wrong", note="we use ruff now")
        assert text.startswith("wrong: deprecated")
        assert memory_id not in s.ok("memory_search", **query)
        stored = s.file_of(memory_id).read_text("utf-8")
        assert "wrong: we use ruff now" in stored
        assert s.call("memory_feedback", id=memory_id, verdict="great").error
        assert s.call("memory_feedback", id="0" * 32, verdict="helpful").error
