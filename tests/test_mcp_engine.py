"""The MCP server's tool calls go to the engine when one answers, with the same results and
errors as in-process; without one they run in the server's own process."""

from __future__ import annotations

from pathlib import Path

from memem.engine import client
from tests.engines import engine_env, running_engine
from tests.test_mcp import Server, first_id, server_env


def requests(env: dict[str, str]) -> int:
    return int(client.call(env, env["MEMEM_DIR"], "status")["requests"])


def test_tool_calls_go_through_a_live_engine_with_the_same_results(tmp_path: Path) -> None:
    env = engine_env()
    with running_engine(env), Server(env, cwd=tmp_path) as server:
        before = requests(env)
        saved = server.ok("memory_save", content="The billing service retries webhooks 5 times")
        memory_id = first_id(saved)
        found = server.ok("memory_search", query="how often are webhooks retried")
        assert memory_id in found
        assert "retries webhooks 5 times" in server.ok("memory_get", ids=[memory_id])
        # save, search, get, and the status calls of this test: the engine did the work
        assert requests(env) >= before + 4
        # A memem error in the engine is the same tool error, with its message.
        missing = server.call("memory_get", ids=["deadbeefdeadbeef"])
        assert missing.error
        assert "deadbeef" in missing.text and "internal error" not in missing.text
    assert list((Path(env["MEMEM_OBSIDIAN_VAULT"]) / "memem" / "memories").glob("*.md"))


def test_without_an_engine_tool_calls_run_in_the_server(tmp_path: Path) -> None:
    env = server_env()
    assert env["MEMEM_ENGINE"] == "off"  # as conftest sets it for every test
    with Server(env, cwd=tmp_path) as server:
        memory_id = first_id(server.ok("memory_save", content="Releases are cut on Tuesdays"))
        assert memory_id in server.ok("memory_search", query="when are releases cut")
    assert not (Path(env["MEMEM_DIR"]) / "daemon.json").exists()  # no engine was started
