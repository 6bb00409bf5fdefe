"""Scenario 7: inside the real CLI, memem's hooks are answered by the engine: the first
session's hooks answer in-process and start it, the next session's are its requests."""

from __future__ import annotations

import json

from .conftest import Claude, slices, texts

ANCHOR = "The shop project is a Django web store with Postgres"


def requests_served(claude: Claude) -> int:
    status = claude.memem("daemon", "status", "--json")
    assert status.returncode == 0, status.stderr
    live = json.loads(status.stdout)
    assert live["ready"] is True, live
    return int(live["requests"])


def test_the_engine_answers_the_hooks_of_a_claude_session(claude: Claude) -> None:
    saved = claude.memem("save", ANCHOR, "--project", "shop", "--layer", "0")
    assert saved.returncode == 0, saved.stderr
    first = claude.run("hello")  # no engine yet: the hooks answer in-process and start one
    assert ANCHOR in texts(first.requests[0], "system"), first.describe()
    ensured = claude.memem("daemon", "ensure")
    assert ensured.returncode == 0 and "the engine answers" in ensured.stdout, ensured.stderr
    before = requests_served(claude)

    run = claude.run("which database does the shop project use?")
    found = slices(texts(run.requests[0], "system"))
    assert any(ANCHOR in s for s in found), run.describe()
    # SessionStart and UserPromptSubmit went to the engine (and the status request after).
    assert requests_served(claude) >= before + 3
