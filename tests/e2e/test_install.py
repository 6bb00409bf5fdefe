"""memem installed as users install it: validated, enabled, and loaded by a real session."""

from __future__ import annotations

from pathlib import Path

from .conftest import PLUGIN, REPO, TOOL_PREFIX, Claude, Installed

COMMANDS = ("memem:memem", "memem:memem-status", "memem:memem-doctor", "memem:memem-mine")
TOOLS = ("memory_save", "memory_search", "memory_get", "memory_recall", "active_memory_slice")


def test_plugin_and_marketplace_pass_strict_validation(installed: Installed) -> None:
    out = installed.validate.stdout + installed.validate.stderr
    assert installed.validate.returncode == 0, out
    assert "Validation passed" in out, out


def test_marketplace_install_enables_memem_read_from_the_repository(installed: Installed) -> None:
    entry = next((p for p in installed.plugins if p.get("id") == PLUGIN), None)
    assert entry is not None, installed.plugins
    assert entry["enabled"] is True
    assert entry["scope"] == "user"
    # A directory marketplace is read live from its folder: the repository under test.
    assert Path(entry["readFromFolder"]).resolve() == REPO


def test_a_session_loads_memem_hooks_mcp_server_and_commands(claude: Claude) -> None:
    events = claude.stream("hello")
    init = next(e for e in events if e.get("type") == "system" and e.get("subtype") == "init")
    assert any(p.get("source") == PLUGIN for p in init["plugins"]), init["plugins"]
    server = next(s for s in init["mcp_servers"] if s["name"] == "plugin:memem:memem")
    # -p waits about 2 s for MCP servers, then goes on with them "pending" (a tool call still
    # waits for the server): on a loaded machine memem may be pending here.
    assert server["status"] in ("connected", "pending"), server
    if server["status"] == "connected":
        assert {TOOL_PREFIX + t for t in TOOLS} <= set(init["tools"]), init["tools"]
    assert set(COMMANDS) <= set(init["slash_commands"]), init["slash_commands"]
    started = [e for e in events if e.get("subtype") == "hook_response"]
    session_start = [e for e in started if e.get("hook_name") == "SessionStart:startup"]
    assert session_start, events
    assert all(e["exit_code"] == 0 and e["outcome"] == "success" for e in session_start), started
    result = events[-1]
    assert result["type"] == "result" and result["is_error"] is False, result
    # Nothing tried to leave the machine: the fake is also the (dead-end) proxy.
    assert [r.path for r in claude.api.requests if r.method == "CONNECT"] == []
