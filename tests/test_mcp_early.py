"""The MCP server's early answers, over real stdio: `python -m memem mcp` in a subprocess, fed
raw JSON-RPC lines.

What Claude Code sends at connect (the discovery and list calls) is answered from
memem/mcp_server/snapshot.json before the SDK has loaded. Checked here: the snapshot is what
the SDK answers now; the early answers are the SDK's own bytes, one response per request id;
they come while the SDK's import is held back (a stand-in `mcp` package that waits for the
test, then loads the real one); a tool call sent meanwhile waits for the SDK; and the store is
opened only by the first tool call.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from memem.core.handshake import ACKNOWLEDGED, SUBSCRIPTION
from memem.mcp_server import snapshot
from memem.settings import Settings
from tests.conftest import ROOT
from tests.test_mcp import TIMEOUT, server_env

META = "io.modelcontextprotocol/"
# Claude Code 2.1.329's envelope and connect sequence, as it wrote them to memem's stdin.
ENVELOPE = {
    f"{META}protocolVersion": "2026-07-28",
    f"{META}clientInfo": {
        "name": "claude-code",
        "title": "Claude Code",
        "version": "2.1.329",
        "description": "Anthropic's agentic coding tool",
        "websiteUrl": "https://claude.com/claude-code",
    },
    f"{META}clientCapabilities": {
        "roots": {"listChanged": True},
        "elicitation": {"form": {}, "url": {}},
    },
}
LISTEN_FOR = {"toolsListChanged": True, "promptsListChanged": True, "resourcesListChanged": True}


def modern(method: str, request_id: Any, **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"_meta": ENVELOPE, **params},
    }


CLAUDE_CODE = [
    modern("server/discover", "server-discover-probe-1"),
    modern("subscriptions/listen", "listen:0", notifications=LISTEN_FOR),
    modern("server/discover", 0),
    modern("prompts/list", 1),
    modern("resources/list", 2),
    modern("tools/list", 3),
    modern("resources/templates/list", 4),
]
HANDSHAKE_ERA = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"roots": {}},
            "clientInfo": {"name": "claude-code", "version": "2.1.0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 3, "method": "prompts/list", "params": {}},
    {"jsonrpc": "2.0", "id": 4, "method": "resources/list"},
    {"jsonrpc": "2.0", "id": 5, "method": "resources/templates/list"},
    {"jsonrpc": "2.0", "id": 6, "method": "ping"},
]
SAVE = {"content": "The early answers never touch the store.", "project": "early"}


def tool_call(request_id: Any, *, envelope: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "memory_save", "arguments": SAVE}
    if envelope:
        params["_meta"] = ENVELOPE
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


class Raw:
    """One server's stdin and stdout, line by line; every read bounded by TIMEOUT."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.stdin, self.stdout = proc, proc.stdin, proc.stdout

    async def send(self, *messages: Any) -> None:
        for m in messages:
            self.stdin.write(m if isinstance(m, bytes) else (json.dumps(m) + "\n").encode())
        await self.stdin.drain()

    async def line(self) -> bytes:
        data = await asyncio.wait_for(self.stdout.readline(), TIMEOUT)
        assert data, "the server closed stdout"
        return data

    async def lines(self, n: int) -> list[bytes]:
        return [await self.line() for _ in range(n)]

    async def rest(self) -> list[bytes]:
        """Everything else it writes once stdin closes, until it exits."""
        self.stdin.close()
        data = await asyncio.wait_for(self.stdout.read(), TIMEOUT)
        await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        return data.splitlines(True)


@asynccontextmanager
async def raw_server(
    env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...] = ()
) -> AsyncIterator[Raw]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "memem",
        "mcp",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        limit=1 << 20,
    )
    try:
        yield Raw(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def answered(lines: list[bytes]) -> Counter[Any]:
    """How many responses each request id got, and acknowledgements as ("ack", id)."""
    counts: Counter[Any] = Counter()
    for data in lines:
        message = json.loads(data)
        if message.get("method") == ACKNOWLEDGED:
            counts["ack", message["params"]["_meta"][SUBSCRIPTION]] += 1
        elif "id" in message:
            counts[message["id"]] += 1
    return counts


# -- the snapshot ------------------------------------------------------------------------------


def test_the_snapshot_is_what_the_sdk_answers_now() -> None:
    fresh = snapshot.generate(server_env())
    assert fresh == snapshot.PATH.read_text(encoding="utf-8"), (
        f"{snapshot.PATH.name} differs from what the SDK answers now (a tool's description or "
        f"arguments, the instructions, the version or the SDK changed): run "
        f"`{snapshot.REGENERATE}` and commit the file"
    )


def transcript(
    script: list[dict[str, Any]], env: dict[str, str], cwd: Path, expect: int
) -> list[bytes]:
    """Everything the server writes for `script`, until it exits once stdin closes."""

    async def run() -> list[bytes]:
        async with raw_server(env, cwd) as server:
            await server.send(*script)
            return await server.lines(expect) + await server.rest()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("script", "expect"),
    [(CLAUDE_CODE, 7), (HANDSHAKE_ERA, 6)],
    ids=["claude-code-2.1.329", "handshake-era"],
)
def test_the_early_answers_are_the_sdks_bytes_one_per_request(
    tmp_path: Path, script: list[dict[str, Any]], expect: int
) -> None:
    early = transcript(script, server_env(), tmp_path, expect)
    sdk = transcript(script, dict(server_env(), MEMEM_MCP_EARLY_INIT="0"), tmp_path, expect)
    assert sorted(early) == sorted(sdk)
    assert set(answered(early).values()) == {1}


# -- while the SDK is still loading ------------------------------------------------------------

# Stands in for the `mcp` package: holds the SDK's import until the test writes a byte to the
# pipe, then loads the real package in its place.
HELD_SDK = """
import os, sys
os.read(int(os.environ["MEMEM_TEST_SDK_GATE"]), 1)
here = os.path.dirname(os.path.dirname(__file__))
sys.path.remove(here)
del sys.modules["mcp"]
import mcp
open(os.path.join(here, "loaded"), "w").close()
"""


@pytest.fixture
def held(tmp_path: Path) -> Any:
    """(env, gate fds) for a server whose SDK import waits until `os.write(gate[1], b"x")`."""
    package = tmp_path / "held-sdk" / "mcp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(HELD_SDK, encoding="utf-8")
    read_end, write_end = os.pipe()
    env = dict(server_env(), PYTHONPATH=f"{package.parent}{os.pathsep}{ROOT}")
    env["MEMEM_TEST_SDK_GATE"] = str(read_end)
    yield env, (read_end, write_end)
    os.close(read_end)
    os.close(write_end)


@pytest.mark.parametrize("era", ["claude-code-2.1.329", "handshake-era"])
def test_connect_is_answered_before_the_sdk_loads_and_a_tool_call_waits_for_it(
    tmp_path: Path, held: Any, era: str
) -> None:
    """Also: an unparsable line is refused meanwhile, a tool call sent before the handshake is
    answered goes to the SDK once it loads, and the SDK's own answers to what was answered
    early never reach the client."""
    env, (gate, release) = held
    modern_era = era == "claude-code-2.1.329"
    script = CLAUDE_CODE if modern_era else HANDSHAKE_ERA
    first, later = script[:1], script[1:]
    known = snapshot.load()["modern" if modern_era else "legacy"]
    loaded = tmp_path / "held-sdk" / "loaded"

    async def run() -> tuple[list[bytes], list[bytes], list[bytes]]:
        async with raw_server(env, tmp_path, pass_fds=(gate,)) as server:
            await server.send(*first, tool_call("call", envelope=modern_era), b"not json\n", *later)
            early = await server.lines(8 if modern_era else 7)
            assert not loaded.exists()
            os.write(release, b"x")
            called = await server.lines(1)
            return early, called, await server.rest()

    early, called, rest = asyncio.run(run())
    assert loaded.exists()  # the held package stood in for the SDK
    replies = [json.loads(data) for data in early]
    refused = [r for r in replies if "error" in r]
    assert [r["error"]["code"] for r in refused] == [-32700]
    by_id = {r["id"]: r for r in replies if "result" in r}
    assert by_id[3 if modern_era else 2]["result"] == known["tools/list"]["result"]
    assert json.loads(called[0])["id"] == "call"
    assert json.loads(called[0])["result"]["content"][0]["text"].startswith("saved: ")
    assert [line for line in rest if b'"id":"listen:0"' not in line] == []
    assert set(answered([*early, *called, *rest]).values()) == {1}


def test_the_store_is_opened_by_the_first_tool_call_not_at_start(tmp_path: Path) -> None:
    index = Settings.from_env(os.environ).index_path
    sdk = dict(server_env(), MEMEM_MCP_EARLY_INIT="0")  # the SDK itself answers the list

    async def run() -> tuple[bool, bool]:
        async with raw_server(sdk, tmp_path) as server:
            await server.send(*HANDSHAKE_ERA[:3])
            await server.lines(2)
            before = index.exists()
            await server.send(tool_call(9, envelope=False))
            await server.lines(1)
            return before, index.exists()

    assert asyncio.run(run()) == (False, True)
