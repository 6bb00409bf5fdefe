"""Talking to the engine: what the hook, the CLI and the MCP server use to reach it.

    hook(event, payload, env)      the hook's stdout from the engine, or None (work in-process)
    call(env, op, args)            any other request: its JSON result, or `Unavailable`
    start(env)                     start the engine in the background unless it runs

`hook` is on every prompt's path: it imports only `_socket`, `os`, `time` and the protocol
(`json` and `socket` alone cost a process ~15 ms). A client checks that the socket belongs to
this user before it connects; the engine checks the peer's uid as well.
"""

from __future__ import annotations

import _socket
import os
import time

from memem.engine import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

# A hook asks the engine first and works in-process when no answer comes within this: the
# prompt never waits long for an engine that is busy, hung or restarting.
HOOK_DEADLINE: Final = 1.0
# The CLI's read commands, which the engine runs with its warm store (its vault watcher keeps
# the index current, so they skip the reconcile that stats every file).
CLI_COMMANDS: Final = frozenset({"search", "get", "list", "timeline"})
CALL_DEADLINE: Final = 30.0


class Unavailable(Exception):
    """No engine answered (not running, stale socket, other code, deadline): work in-process."""


def enabled(env: Mapping[str, str]) -> bool:
    """False when the user turned the engine off (`MEMEM_ENGINE=off`) or this process is
    memem's own headless `claude -p` (its hooks must stay out of the way)."""
    from memem.settings import MINER_CHILD, engine_off

    return not engine_off(env) and env.get(MINER_CHILD) != "1"


def exchange(path: str, data: bytes, deadline: float) -> tuple[bytes, bytes]:
    """Send one request to the socket at `path`; the response's header line and body."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise Unavailable(f"no engine socket at {path}") from exc
    if st.st_uid != os.getuid() or (st.st_mode & 0o170000) != 0o140000:
        raise Unavailable(f"{path} is not this user's engine socket")
    if not protocol.safe_dir(os.path.dirname(path)):
        raise Unavailable(f"{os.path.dirname(path)} is open to other users")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.connect(path)
        sock.sendall(data)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:  # refused (stale socket), reset (engine died), timeout
        raise Unavailable(f"the engine did not answer: {type(exc).__name__}") from exc
    finally:
        sock.close()
    head, newline, body = b"".join(chunks).partition(b"\n")
    if not newline:
        raise Unavailable("the engine closed the connection without an answer")
    return head, body


def hook(event: str, payload: bytes, env: Mapping[str, str], state_dir: str) -> bytes | None:
    """The engine's answer to a hook event (its stdout, maybe empty), or None when no engine
    answered in time or it runs other code: the caller then answers in-process."""
    header = protocol.request_header(
        "hook",
        protocol.client_env(env),
        protocol.code_digest(),
        f'{{"event":{protocol.quote(event)}}}',
    )
    try:
        head, body = exchange(
            protocol.socket_path(state_dir), header + payload, time.monotonic() + HOOK_DEADLINE
        )
    except Unavailable:
        return None
    return body if head.startswith(protocol.OK) else None


def call(
    env: Mapping[str, str],
    state_dir: str,
    op: str,
    args: Mapping[str, Any] | None = None,
    *,
    body: bytes = b"",
    timeout: float = CALL_DEADLINE,
) -> Any:
    """Run `op` in the engine; its JSON result. Raises `Unavailable` when no engine can do
    it (the caller works in-process) and the same `MememError` the work raised in the
    engine (its message is for the user)."""
    import json

    header = protocol.request_header(
        op, protocol.client_env(env), protocol.code_digest(), json.dumps(dict(args or {}))
    )
    head, data = exchange(
        protocol.socket_path(state_dir), header + body, time.monotonic() + timeout
    )
    try:
        answer = json.loads(head)
    except ValueError as exc:
        raise Unavailable("the engine's answer is not JSON") from exc
    if answer.get("ok") is True:
        return json.loads(data) if data else None
    kind, message = answer.get("error"), str(answer.get("message") or "")
    if kind == "memem":
        from memem import errors

        found = getattr(errors, str(answer.get("type")), None)
        error: type[errors.MememError] = errors.MememError
        if isinstance(found, type) and issubclass(found, errors.MememError):
            error = found
        try:
            raised = error(message)
        except TypeError:  # an error class that takes other arguments
            raised = errors.MememError(message)
        raise raised
    raise Unavailable(f"the engine refused: {kind}: {message}")


def cli(argv: list[str], env: Mapping[str, str]) -> int | None:
    """Run a read command (`argv`, CLI_COMMANDS) in the engine, printing what it printed; its
    exit code, or None when the engine cannot (the CLI then runs it in-process). Called
    before the CLI is imported: argparse and the rest cost a process ~60 ms."""
    import sys

    if not argv or argv[0] not in CLI_COMMANDS or "-h" in argv or "--help" in argv:
        return None
    if not enabled(env):
        return None
    from memem import settings
    from memem.errors import MememError

    try:
        answer = call(env, settings.state_dir(env), "cli", {"argv": argv})
    except (Unavailable, MememError):
        return None
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    return int(answer["code"])


def start(env: Mapping[str, str]) -> str:
    """Start the engine in the background unless it runs or is turned off; what happened."""
    if not enabled(env):
        return "off (MEMEM_ENGINE=off)"
    from memem.mining import lifecycle
    from memem.settings import Settings

    return lifecycle.ensure(Settings.from_env(env), env)
