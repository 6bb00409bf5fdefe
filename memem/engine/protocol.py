"""The engine's wire protocol and where its socket lives. Imported by every client, the prompt
hook's included, so it uses only cheap standard modules (no `json`, `socket`, `pathlib`).

One request per connection over a Unix domain socket:

    client -> engine   HEADER "\\n" BODY, then the client shuts down its write side
    engine -> client   HEADER "\\n" BODY, then the engine closes the connection

A HEADER is one line of JSON (an object). A request's: {"v": VERSION, "op": ..., "code":
the client's code digest, "env": {...}, "args": {...}}; its BODY is op-specific bytes (the
hook's stdin payload, as Claude Code sent it). A response's starts with `{"ok":true` or
`{"ok":false` (compact JSON, "ok" first: the hook client checks the prefix without parsing);
on error it has "error" (a kind from ERRORS) and "message". A response's BODY is the hook's
stdout for `hook`, else JSON.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

VERSION: Final = 1
MAX_HEADER: Final = 64 * 1024
MAX_BODY: Final = 8 * 1024 * 1024
OK: Final = b'{"ok":true'
# Error kinds: `version` (the engine runs other code: the client works in-process this
# time; an engine whose code changed on disk restarts), `settings` (the engine serves
# another vault), `invalid` (a malformed request), `memem` (a memem error: its message is
# for the user), `internal` (a bug: details in the engine's log). A request the engine
# accepted is answered even when it is shutting down.
ERRORS: Final = ("version", "settings", "invalid", "memem", "internal")
# The environment a client passes on: what decides memem's settings and a hook's options.
# Never credentials (ANTHROPIC_*): they stay in the processes that were given them.
ENV_PREFIX: Final = "MEMEM_"
ENV_KEYS: Final = ("HOME", "CLAUDE_PROJECT_DIR")
# sun_path is 108 bytes on Linux and 104 on macOS, the terminating NUL included.
MAX_SOCKET_PATH: Final = 100
SOCKET_NAME: Final = "engine.sock"
PACKAGE_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def client_env(env: Mapping[str, str]) -> dict[str, str]:
    """The part of `env` a request carries."""
    return {k: v for k, v in env.items() if k.startswith(ENV_PREFIX) or k in ENV_KEYS}


def socket_path(state_dir: str) -> str:
    """Where the engine of `state_dir` listens: `<state>/engine/engine.sock`, or, when that
    path is too long for a socket address, `/tmp/memem-<uid>/<digest of state_dir>.sock`."""
    path = os.path.join(state_dir, "engine", SOCKET_NAME)
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    return os.path.join(
        runtime_dir(), f"{_digest(state_dir.encode('utf-8', 'surrogateescape'))}.sock"
    )


def runtime_dir() -> str:
    """A short per-user directory for sockets whose state dir's path is too long."""
    return f"/tmp/memem-{os.getuid()}"


def safe_dir(directory: str) -> bool:
    """True when `directory` is a real directory (not a symlink) owned by this user that
    nobody else can enter: a socket inside it is reachable only by this user. A directory of
    the same name made by someone else in /tmp is not used."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return (
        (st.st_mode & 0o170000) == 0o040000 and st.st_uid == os.getuid() and st.st_mode & 0o077 == 0
    )


def code_digest(package_dir: str = PACKAGE_DIR) -> str:
    """A digest of the installed code: every module's path, size and modification time, then
    "-" and the newest modification time (ns; `code_time`). A plugin update (new files)
    changes it even when the version string stays the same; the newest time tells which of
    two installs is the newer."""
    listing: list[str] = []
    newest = 0
    stack = [package_dir]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                listing.append(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}")
                newest = max(newest, st.st_mtime_ns)
            elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "__")):
                stack.append(entry.path)
    listing.sort()
    data = "\n".join(listing).encode("utf-8", "surrogateescape")
    return f"{_digest(data)}-{newest}"


def code_time(code: str) -> int:
    """The newest modification time in a `code_digest` (0 when it has none)."""
    try:
        return int(code.rpartition("-")[2])
    except ValueError:
        return 0


# The largest prime below 2**64.
DIGEST_PRIME: Final = 2**64 - 59


def _digest(data: bytes) -> str:
    """16 hex digits: `data` as one number modulo a 64-bit prime, enough to tell versions and
    paths apart. Pure Python: loading `zlib` cost each hook process about a millisecond."""
    return f"{int.from_bytes(data, 'big') % DIGEST_PRIME:016x}"


def quote(text: str) -> str:
    """`text` as a JSON string, without importing `json` (the hook's start-up budget)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 0x20 for c in escaped):
        escaped = "".join(c if ord(c) >= 0x20 else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def request_header(op: str, env: dict[str, str], code: str, args_json: str = "{}") -> bytes:
    """A request's header line; `args_json` is the op's arguments, already JSON."""
    pairs = ",".join(f"{quote(k)}:{quote(v)}" for k, v in sorted(env.items()))
    line = (
        f'{{"v":{VERSION},"op":{quote(op)},"code":{quote(code)},'
        f'"env":{{{pairs}}},"args":{args_json}}}\n'
    )
    return line.encode("utf-8", "surrogateescape")
