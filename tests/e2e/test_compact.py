"""Scenario 4: `/compact` in a resumed session; SessionStart(compact) brings the project's L0
anchors back into the conversation that follows."""

from __future__ import annotations

import json

from .conftest import Claude, blocks, is_compact, last_user_text, slices, texts

ANCHOR = "The shop project is a Django web store"


def test_compaction_brings_the_l0_anchors_back(claude: Claude) -> None:
    saved = claude.memem("save", ANCHOR, "--project", "shop", "--layer", "0")
    assert saved.returncode == 0, saved.stderr

    claude.api.reply_text("Plan: a cart page, then checkout.")
    first = claude.run("let us plan the cart page for the store")
    assert ANCHOR in texts(first.requests[0], "system")  # SessionStart(startup) anchors
    session = first.session_id
    claude.api.reply_text("Step one is the cart model.")
    claude.run("what is the first step?", "--resume", session)

    claude.api.reply_text(
        "<analysis>short</analysis>\n<summary>We planned the cart page; step one is the cart "
        "model.</summary>"
    )
    compacted = claude.run("/compact keep the plan", "--resume", session)
    assert compacted.result.get("local_command") == "compact", compacted.describe()
    (compact_request,) = compacted.requests
    assert is_compact(compact_request), compacted.describe()
    assert "keep the plan" in last_user_text(compact_request)

    claude.api.reply_text("Continuing with the cart model.")
    after = claude.run("continue with the cart model", "--resume", session)
    (request,) = after.requests
    messages = request.body["messages"]
    # The history before the boundary is gone: the conversation restarts from the summary...
    assert "step one is the cart model" in texts(request, "user")
    assert "This session is being continued" in texts_of(messages[0])
    # ... and the anchors are back, from the SessionStart(compact) hook, in a system message.
    restored = [
        m
        for m in messages
        if m["role"] == "system"
        and ANCHOR in texts_of(m)
        and "SessionStart hook additional context" in texts_of(m)
    ]
    assert len(restored) == 1, after.describe()
    (block,) = slices(texts_of(restored[0]))
    assert "keep the plan" in block  # what PreCompact recorded the session keeps

    records = [json.loads(line) for line in claude.transcripts()[0].read_text().splitlines()]
    hooks = [
        r["attachment"]
        for r in records
        if r.get("type") == "attachment" and r["attachment"].get("type") == "hook_success"
    ]
    compact_hooks = [h for h in hooks if h.get("hookName") == "SessionStart:compact"]
    assert compact_hooks and compact_hooks[0]["exitCode"] == 0, hooks
    assert any(r.get("subtype") == "compact_boundary" for r in records)


def texts_of(message: dict[str, object]) -> str:
    return "\n".join(blocks(message))
