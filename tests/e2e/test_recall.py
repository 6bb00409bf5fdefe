"""Scenarios 1 and 2: the model saves a memory through memem's MCP tool; a later session's
prompt that matches it carries memem's slice, a nonsense prompt carries none."""

from __future__ import annotations

from .conftest import TOOL_PREFIX, Claude, slices, texts

FACT = "The shop API uses Postgres 16, not MySQL, because orders need JSONB columns."


def save_through_the_model(claude: Claude) -> None:
    claude.api.reply_content(
        [
            {
                "type": "tool_use",
                "name": TOOL_PREFIX + "memory_save",
                "input": {"content": FACT, "project": "shop", "tags": ["db"]},
            }
        ]
    )
    claude.api.reply_text("Saved: the shop API uses Postgres 16.")
    run = claude.run("remember that our API uses Postgres 16 for JSONB", tools=["memory_save"])
    assert run.text == "Saved: the shop API uses Postgres 16.", run.describe()
    assert len(run.requests) == 2, run.describe()
    # The tool really ran in memem's server: its answer went back to the model.
    result = texts(run.requests[1], "user")
    assert "saved:" in result and "· shop ·" in result, run.describe()
    assert "haven't granted" not in result, run.describe()


def test_model_saves_a_memory_with_the_mcp_tool_into_the_vault(claude: Claude) -> None:
    save_through_the_model(claude)
    memories = claude.memories()
    assert len(memories) == 1, memories
    (text,) = memories.values()
    assert FACT in text
    assert "project: shop" in text
    assert "source_type: user" in text


def test_matching_prompt_carries_the_slice_and_nonsense_prompt_none(claude: Claude) -> None:
    save_through_the_model(claude)

    run = claude.run("which database does the shop API use for orders?")
    (request,) = run.requests
    found = slices(texts(request, "system"))
    assert len(found) == 1, run.describe()
    assert FACT in found[0]
    assert "reference data" in found[0].lower()  # labelled as data, not instructions
    assert "UserPromptSubmit hook additional context" in texts(request, "system")
    assert not slices(texts(request, "user"))  # hook output lives in the system message

    run = claude.run("purple elephants juggle quantum marmalade on tuesdays")
    (request,) = run.requests
    assert slices(texts(request)) == [], run.describe()
    assert FACT not in texts(request)
