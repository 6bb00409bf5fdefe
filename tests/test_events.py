"""The event log: one JSON line per thing memem did, appended, private, and never holding a
secret whatever a caller passes in."""

from __future__ import annotations

import json
import logging
import stat
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from memem.storage import events
from memem.storage.events import MAX_DEPTH, append

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_ID = "AKIA" + "9DU7794G9DPMRCG6"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_event_is_one_json_line_with_time_and_name(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "forget", id="abc123", reason="outdated")
    (record,) = records(log)
    assert record["event"] == "forget"
    assert record["id"] == "abc123"
    assert record["reason"] == "outdated"
    stamp = datetime.fromisoformat(record["ts"])
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    assert record["ts"].endswith("+00:00")
    assert len(record["ts"].split(".")[1]) == len("123+00:00")  # milliseconds


def test_events_are_appended_in_order(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    for n in range(5):
        append(log, "reconcile", added=n)
    assert [r["added"] for r in records(log)] == [0, 1, 2, 3, 4]
    assert log.read_text(encoding="utf-8").endswith("\n")


def test_an_existing_log_is_appended_to_not_replaced(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"event": "old"}\n', encoding="utf-8")
    append(log, "new")
    assert [r["event"] for r in records(log)] == ["old", "new"]


def test_the_log_is_created_private(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "import", created=2)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_non_ascii_is_written_as_it_is(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "import", source="/home/zoë/笔记")
    assert "/home/zoë/笔记" in log.read_text(encoding="utf-8")
    assert records(log)[0]["source"] == "/home/zoë/笔记"


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        (3, 3),
        (2.5, 2.5),
        (True, True),
        (None, None),
        ("text", "text"),
        ([1, "a"], [1, "a"]),
        (("x", 2), ["x", 2]),
        ({"added": 1, 2: "two"}, {"added": 1, "2": "two"}),
        (Path("/tmp/vault/a.md"), "/tmp/vault/a.md"),
    ],
)
def test_field_values_are_logged_as_json(tmp_path: Path, value: object, logged: object) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "e", field=value)
    assert records(log)[0]["field"] == logged


def test_a_set_is_logged_as_a_list(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "e", ids=frozenset({"a", "b"}))
    assert sorted(records(log)[0]["ids"]) == ["a", "b"]


@pytest.mark.parametrize(
    "fields",
    [
        {"reason": f"token {GITHUB_TOKEN} leaked"},
        {"project": GITHUB_TOKEN},
        {"moved_to": Path(f"/tmp/{GITHUB_TOKEN}/index.sqlite3")},
        {"files": ["a.md", f"key {AWS_ID}"]},
        {"counts": {"detail": f"password: {GITHUB_TOKEN}"}},
        {"nested": {"deeper": [{"key": AWS_ID}]}},
        {"pair": ("ok", GITHUB_TOKEN)},
    ],
    ids=["str", "bare", "path", "list", "dict", "nested", "tuple"],
)
def test_no_secret_reaches_the_log(tmp_path: Path, fields: dict[str, Any]) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "event", **fields)
    text = log.read_text(encoding="utf-8")
    assert GITHUB_TOKEN not in text
    assert AWS_ID not in text
    assert "REDACTED" in text


def test_redaction_keeps_the_rest_of_the_text(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, "forget", reason=f"it held {GITHUB_TOKEN} by mistake")
    reason = records(log)[0]["reason"]
    assert reason.startswith("it held ")
    assert reason.endswith(" by mistake")


def test_a_deeply_nested_value_is_cut_to_its_type_name(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    deep: Any = {"leaf": 1}
    for _ in range(MAX_DEPTH + 3):
        deep = {"down": deep}
    append(log, "e", field=deep)
    value = records(log)[0]["field"]
    for _ in range(MAX_DEPTH):
        value = value["down"]
    assert value == "dict"


def test_a_string_at_any_depth_is_still_redacted(tmp_path: Path) -> None:
    """Past the depth limit a container is replaced by its type name, but a string at the
    limit is still scanned, never logged raw."""
    log = tmp_path / "events.jsonl"
    deep: Any = GITHUB_TOKEN
    for _ in range(MAX_DEPTH):
        deep = [deep]
    append(log, "e", field=deep)
    assert GITHUB_TOKEN not in log.read_text(encoding="utf-8")


def test_an_unknown_object_is_logged_as_its_redacted_text(tmp_path: Path) -> None:
    class Thing:
        def __str__(self) -> str:
            return f"thing with {GITHUB_TOKEN}"

    log = tmp_path / "events.jsonl"
    append(log, "e", thing=Thing())
    logged = records(log)[0]["thing"]
    assert logged.startswith("thing with ")
    assert GITHUB_TOKEN not in logged


def test_a_log_that_cannot_be_written_does_not_fail_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk or a missing state dir must not turn a done save into a failure."""
    missing = tmp_path / "no such dir" / "events.jsonl"
    with caplog.at_level(logging.WARNING, logger=events.log.name):
        append(missing, "forget", id="abc")
    assert not missing.exists()
    assert "could not append to the event log" in caplog.text


def test_a_directory_at_the_log_path_does_not_fail_the_caller(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.mkdir()
    append(log, "forget", id="abc")
    assert log.is_dir()


def test_concurrent_appends_keep_every_line_whole(tmp_path: Path) -> None:
    """Several processes share the log (the MCP server, the daemon, the CLI): each record
    is one write with O_APPEND, so lines never interleave."""
    log = tmp_path / "events.jsonl"

    def writer(n: int) -> None:
        for k in range(50):
            append(log, "reconcile", writer=n, k=k, padding="x" * 500)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logged = records(log)
    assert len(logged) == 300
    for n in range(6):
        assert [r["k"] for r in logged if r["writer"] == n] == list(range(50))
