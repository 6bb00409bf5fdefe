"""The session transcript that Claude Code 2.1.329 wrote in this suite (recorded once,
sanitised: paths under /tmp/memem-e2e, long bookkeeping strings cut) read by memem's
transcript filter: the human's words and the assistant's prose stay; tool calls and their
output, hook output, memem's slices and the compaction summary go. No CLI needed.

The session: memem's SessionStart slice, a prompt, a Bash call, a memem MCP call
(memory_search), prose, a second prompt (resumed), `/compact`, a prompt after compaction."""

from __future__ import annotations

from pathlib import Path

from memem.core import transcript

RECORDED = Path(__file__).with_name("claude-2.1.329-session.jsonl")


def test_recorded_cli_transcript_keeps_words_and_prose_only() -> None:
    parsed = transcript.parse(RECORDED.read_bytes())
    text = transcript.render(parsed.messages)
    assert "We always run make migrate before make test." in text
    assert "I prefer new migrations." in text
    assert "never edit an applied migration" in text
    assert "0007_orders_add_jsonb" not in text  # Bash output
    assert "toolu_" not in text and "memory_search" not in text  # tool calls
    assert "<memem-memory>" not in text and "Django web store" not in text  # memem's slices
    assert "This session is being continued" not in text  # the compaction summary
    assert "system-reminder" not in text
    assert [m.role for m in parsed.messages].count("user") == 4
    raw = RECORDED.read_text()
    assert "<memem-memory>" in raw and "0007_orders_add_jsonb" in raw  # they were there
