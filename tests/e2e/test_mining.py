"""Scenario 3: the transcripts the CLI wrote are mined (anthropic backend, the same fake API)
into memories, and a later session's prompt surfaces them."""

from __future__ import annotations

import json
from pathlib import Path

from memem.core.transcript import project_slug
from tests.engine_helpers import stop_engines
from tests.waiting import wait_until

from .conftest import Claude, is_miner, set_default_reply, slices, texts

ANCHOR = "The shop project is a Django web store"
USER_WORDS = "We always run make migrate before make test in this repo"
TOOL_OUTPUT = "TOOL-OUTPUT-7c1f"
LESSON = (
    "In the shop repo, run `make migrate` before `make test`: the test database needs the "
    "schema, else the tests fail with a missing orders table."
)


def a_session_with_a_lesson(claude: Claude) -> str:
    """A session whose transcript holds the user's words, a tool call and its output, and
    memem's slice (the L0 anchor at session start). Returns the transcript's session id."""
    saved = claude.memem("save", ANCHOR, "--project", "shop", "--layer", "0")
    assert saved.returncode == 0, saved.stderr
    claude.api.reply_content(
        [{"type": "tool_use", "name": "Bash", "input": {"command": f"echo {TOOL_OUTPUT}"}}]
    )
    claude.api.reply_text("The test database needs the schema first: make migrate, then make test.")
    run = claude.run(
        f"Why does make test fail with a missing orders table? {USER_WORDS}.",
        "--allowedTools",
        "Bash(echo *)",
    )
    assert TOOL_OUTPUT in texts(run.requests[1], "user"), run.describe()  # the tool really ran
    assert ANCHOR in texts(run.requests[0], "system"), run.describe()  # the slice was there
    return run.session_id


def test_daemon_mines_the_cli_transcript_and_a_later_prompt_recalls_it(claude: Claude) -> None:
    session = a_session_with_a_lesson(claude)
    (transcript,) = claude.transcripts()
    assert transcript.stem == session

    env = dict(claude.env, MEMEM_MINER_SETTLE_SECONDS="0", MEMEM_MINER_BACKEND="anthropic")
    # `daemon run --once` below does the mining: the engine the hooks started makes way, and
    # none starts until then.
    stop_engines(claude.state)
    opted = claude.memem("mine", "--opt-in", "history", "--yes", env={**env, "MEMEM_ENGINE": "off"})
    assert opted.returncode == 0, opted.stderr
    assert "1 past sessions found" in opted.stdout, opted.stdout

    claude.api.reply_json(
        {
            "memories": [
                {
                    "title": "Run make migrate before make test",
                    "content": LESSON,
                    "type": "convention",
                    "tags": ["make", "tests"],
                    "importance": 4,
                    "layer": 1,
                }
            ]
        }
    )
    before = len(claude.api.message_requests)
    mined = claude.memem("daemon", "run", "--once", env=env)
    assert mined.returncode == 0, mined.stderr
    sent = claude.api.message_requests[before:]
    assert len(sent) == 1 and is_miner(sent[0]), [texts(r)[:300] for r in sent]
    miner = sent[0]
    assert miner.body["model"] == "claude-haiku-4-5"
    # The key was sent (the SDK puts it in x-api-key or authorization; the fake redacts both).
    assert "<redacted>" in (miner.headers.get("x-api-key"), miner.headers.get("authorization"))
    asked = texts(miner)
    assert USER_WORDS in asked
    assert "make migrate, then make test" in asked  # the assistant's prose
    assert TOOL_OUTPUT not in asked  # no tool call, no tool output
    assert "<memem-memory>" not in asked and ANCHOR not in asked  # no memem slice
    assert "system-reminder" not in asked and "hook" not in asked.lower()

    memories = claude.memories()
    mined_files = [t for t in memories.values() if LESSON in t]
    assert len(mined_files) == 1, memories
    assert "source_type: mined" in mined_files[0]
    assert session in mined_files[0]  # source_session
    status = claude.memem("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["memories"] >= 2, status.stdout

    run = claude.run("how do I fix make test failing with a missing orders table?")
    found = slices(texts(run.requests[0], "system"))
    assert any(LESSON in s for s in found), run.describe()


def test_session_start_starts_the_daemon_which_mines_the_session_by_itself(
    claude: Claude,
) -> None:
    """Opted in to new sessions: the SessionStart hook starts the daemon (Claude Code has no
    install hook) with the user's environment, and the daemon mines the session once it has
    settled, with nothing else driving it."""
    # Opted in without starting the engine: the session's hook starts it, with `env`.
    opted = claude.memem("mine", "--opt-in", "new", env={**claude.env, "MEMEM_ENGINE": "off"})
    assert opted.returncode == 0, opted.stderr
    env = dict(claude.env, MEMEM_MINER_SETTLE_SECONDS="0", MEMEM_MINER_BACKEND="anthropic")
    (claude.home / ".claude" / "projects").mkdir(parents=True, exist_ok=True)
    # One reply for everything: the model's answer in the session and the miner's reply are
    # both this JSON (whichever asks first gets the same), so nothing depends on the order.
    lesson = {"title": "Run make migrate", "content": LESSON, "type": "convention", "importance": 4}
    reply = json.dumps({"memories": [lesson]})
    set_default_reply(claude.api, reply)
    try:
        prompt = f"Why does make test fail with a missing orders table? {USER_WORDS}."
        run = claude.run(prompt, env=env)
        assert run.text == reply
        status = claude.state / "daemon.json"
        wait_until(status.exists, timeout=30, what="the daemon's status file")
        pid = int(json.loads(status.read_text())["pid"])
        # The daemon got the user's environment: nothing cleared HOME or the API settings.
        environ = dict(
            item.split("=", 1)
            for item in Path(f"/proc/{pid}/environ").read_text().split("\0")
            if "=" in item
        )
        assert environ.get("HOME") == str(claude.home)
        assert environ.get("ANTHROPIC_BASE_URL") == claude.api.url

        def mined() -> bool:
            return any(LESSON in t for t in claude.memories().values())

        wait_until(mined, timeout=90, what="the mined memory in the vault")
        asked = [texts(r) for r in claude.api.message_requests if is_miner(r)]
        assert asked and USER_WORDS in asked[0]
    finally:
        stopped = claude.memem("daemon", "stop")
        assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout or "not running" in stopped.stdout, stopped.stdout


def test_the_claude_cli_miner_asks_the_real_cli_without_tools_or_mcp(claude: Claude) -> None:
    """MEMEM_MINER_BACKEND=claude-cli: the daemon's child is the real `claude -p`, and the
    transcript it reads is untrusted, so its request to the API offers no tool at all (the
    user's own sessions offer Bash, Read, memem's MCP tools...)."""
    session = a_session_with_a_lesson(claude)
    user_request = claude.api.message_requests[0].body
    assert user_request.get("tools"), "the CLI normally offers tools: the check below means it"
    env = dict(claude.env, MEMEM_MINER_SETTLE_SECONDS="0", MEMEM_MINER_BACKEND="claude-cli")
    stop_engines(claude.state)  # `daemon run --once` below does the mining
    opted = claude.memem("mine", "--opt-in", "history", "--yes", env={**env, "MEMEM_ENGINE": "off"})
    assert opted.returncode == 0, opted.stderr
    lesson = {"title": "Run make migrate", "content": LESSON, "type": "convention", "importance": 4}
    claude.api.reply_json({"memories": [lesson]})
    before = len(claude.api.message_requests)
    mined = claude.memem("daemon", "run", "--once", env=env)
    assert mined.returncode == 0, mined.stderr
    asked = [r for r in claude.api.message_requests[before:] if is_miner(r)]
    assert len(asked) == 1, [texts(r)[:300] for r in claude.api.message_requests[before:]]
    body = asked[0].body
    assert not body.get("tools"), body.get("tools")
    assert "mcp__plugin" not in json.dumps(body)  # no MCP server, not even deferred tools
    assert USER_WORDS in texts(asked[0])
    logs = "".join(p.read_text()[-2000:] for p in (claude.state / "logs").glob("*.log"))
    assert any(LESSON in t and session in t for t in claude.memories().values()), logs
    # The child ran in <state>/miner-cwd: Claude Code filed its session in that folder's
    # project directory, and the miner never mines it (whatever its prompt says).
    own = claude.home / ".claude" / "projects" / project_slug(str(claude.state / "miner-cwd"))
    assert list(own.glob("*.jsonl")), sorted(p.name for p in own.parent.iterdir())
    after = len(claude.api.message_requests)
    again = claude.memem("daemon", "run", "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert not [r for r in claude.api.message_requests[after:] if is_miner(r)]
