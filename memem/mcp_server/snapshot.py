"""The snapshot of the SDK's answers to the discovery and list calls (snapshot.json), which the
server gives before the SDK has loaded (memem.core.handshake.EarlyAnswers).

    python -m memem.mcp_server.snapshot --write   regenerate snapshot.json from the real SDK
    python -m memem.mcp_server.snapshot --check   exit 1 if snapshot.json is out of date

`generate` runs `python -m memem mcp` with early answers off (MEMEM_MCP_EARLY_INIT=0), so the
SDK answers everything, sends it what Claude Code sends at connect in each protocol era, and
records every answer that is a success. tests/test_mcp.py fails when the committed file differs
from a fresh one: after changing a tool's name, description or arguments, the instructions,
the version or the SDK, run `--write` and commit the file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from memem.core.handshake import ACKNOWLEDGED, META, SUBSCRIPTION

PATH: Final = Path(__file__).with_name("snapshot.json")
REGENERATE: Final = "python -m memem.mcp_server.snapshot --write"
TIMEOUT: Final = 60.0
CLIENT: Final = {"name": "memem-snapshot", "version": "1"}
# What Claude Code 2.1.329 asks `subscriptions/listen` for.
LISTEN_FOR: Final = {
    "toolsListChanged": True,
    "promptsListChanged": True,
    "resourcesListChanged": True,
}
LISTS: Final = ("tools/list", "prompts/list", "resources/list", "resources/templates/list", "ping")


def load() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PATH.read_bytes())
    return loaded


def _legacy_script(version: str) -> list[dict[str, Any]]:
    hello = {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT}
    return [
        {"jsonrpc": "2.0", "id": "initialize", "method": "initialize", "params": hello},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *({"jsonrpc": "2.0", "id": method, "method": method} for method in LISTS),
    ]


def _modern_script(version: str) -> list[dict[str, Any]]:
    envelope = {
        f"{META}protocolVersion": version,
        f"{META}clientInfo": CLIENT,
        f"{META}clientCapabilities": {},
    }
    listen = {"_meta": envelope, "notifications": LISTEN_FOR}
    return [
        {"jsonrpc": "2.0", "id": m, "method": m, "params": {"_meta": envelope}}
        for m in ("server/discover", *LISTS)
    ] + [{"jsonrpc": "2.0", "id": "listen", "method": "subscriptions/listen", "params": listen}]


def exchange(
    requests: Sequence[Mapping[str, Any]], env: Mapping[str, str], *, expect: int
) -> list[bytes]:
    """The first `expect` lines `python -m memem mcp` writes for `requests`."""
    # Here, not at the top: the server imports this module to `load` the snapshot at start.
    import subprocess
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "memem", "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(env),
    )
    assert proc.stdin is not None and proc.stdout is not None
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    try:
        proc.stdin.write(b"".join(_line(r) for r in requests))
        proc.stdin.flush()
        lines = [proc.stdout.readline() for _ in range(expect)]
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    if not all(lines):
        raise RuntimeError(f"the server wrote {sum(map(bool, lines))} of {expect} answers")
    return lines


def _line(message: Mapping[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _entries(script: list[dict[str, Any]], lines: list[bytes]) -> dict[str, Any]:
    """method -> what the request must hold besides `_meta`, and the SDK's success answer."""
    answers = [json.loads(line) for line in lines]
    entries: dict[str, Any] = {}
    for request in script:
        if "id" not in request:
            continue
        rest = {k: v for k, v in request.get("params", {}).items() if k != "_meta"}
        for a in answers:
            if a.get("id") == request["id"] and "result" in a:
                entries[request["method"]] = {"params": rest, "result": a["result"]}
            elif a.get("method") == ACKNOWLEDGED and a["params"]["_meta"] == {
                SUBSCRIPTION: request["id"]
            }:
                entries[request["method"]] = {
                    "params": rest,
                    "acknowledged": a["params"]["notifications"],
                }
    return entries


def generate(env: Mapping[str, str] | None = None) -> str:
    """snapshot.json's text as the installed SDK would make it now."""
    import tempfile

    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

    with tempfile.TemporaryDirectory(prefix="memem-snapshot-") as scratch:
        base = dict(os.environ if env is None else env)
        base.update(
            HOME=str(Path(scratch, "home")),
            MEMEM_DIR=str(Path(scratch, "state")),
            MEMEM_OBSIDIAN_VAULT=str(Path(scratch, "vault")),
            MEMEM_MCP_EARLY_INIT="0",
            PYTHONPATH=os.pathsep.join(
                [str(Path(__file__).parents[2]), *filter(None, [base.get("PYTHONPATH")])]
            ),
        )
        legacy = _legacy_script(HANDSHAKE_PROTOCOL_VERSIONS[-1])
        modern = _modern_script(MODERN_PROTOCOL_VERSIONS[-1])
        # One answer per request (the listen request's is an acknowledgement), and in the
        # modern era the SDK refuses `ping`.
        legacy_entries = _entries(legacy, exchange(legacy, base, expect=len(LISTS) + 1))
        modern_entries = _entries(modern, exchange(modern, base, expect=len(LISTS) + 2))
    del legacy_entries["initialize"]["params"]  # the client's own, checked apart
    snapshot = {
        "regenerate": REGENERATE,
        "handshake_versions": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "modern_versions": list(MODERN_PROTOCOL_VERSIONS),
        "legacy": legacy_entries,
        "modern": modern_entries,
    }
    return json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m memem.mcp_server.snapshot")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate snapshot.json")
    mode.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    args = parser.parse_args(argv)
    fresh = generate()
    if args.write:
        PATH.write_text(fresh, encoding="utf-8")
        print(f"wrote {PATH}")
        return 0
    if PATH.read_text(encoding="utf-8") != fresh:
        print(f"{PATH} is out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
