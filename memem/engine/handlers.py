"""What the engine does for each request, with its warm store (one index connection per
worker thread, kept open).

    hook     {event}, body: the hook's stdin payload -> the hook's stdout
    search   {query, project?, limit?, include_deprecated?} -> [hit]      (as `search --json`)
    get      {ids} -> [memory]                                            (as `get --json`)
    save     {content, title?, project?, tags?, layer?, importance?} -> {outcome, memory, ...}
    slice    {query, scope?, session_id?, cwd?, task_mode?, briefing?} -> {markdown, reason}
    status   {} -> the engine's state (as `memem daemon status --json`)
    cli      {argv} -> {code, stdout, stderr}: a read command of the CLI, run here
    tool     {name, arguments, import_roots} -> {text}: an MCP tool call

A request whose environment names another state dir or vault than the engine's is refused
(`settings`): the client then works in-process with its own settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memem import settings
from memem.engine.server import Refused
from memem.errors import InvalidInput

if TYPE_CHECKING:
    from memem.mining.service import Mining
    from memem.service.store import Store


class Handlers:
    def __init__(
        self,
        store: Store,
        mining: Mining,
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self.store = store
        self.mining = mining
        self.status = status
        # What a client's environment must name (as `settings.state_dir`/`vault_dir` spell it).
        self.serves = (str(store.settings.state_dir), str(store.settings.vault_dir))

    def __call__(self, op: str, args: dict[str, Any], env: dict[str, str], body: bytes) -> bytes:
        if (settings.state_dir(env), settings.vault_dir(env)) != self.serves:
            raise Refused("settings", f"this engine serves {self.serves[1]}")
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise Refused("invalid", f"unknown op {op!r}")
        result = handler(args, env, body)
        return result if isinstance(result, bytes) else _json(result)

    def op_hook(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> bytes:
        from memem import hook

        event = str(args.get("event"))
        payload = hook.parse(body)
        conn = self.store.index.connection()
        return hook.respond(event, payload, env, conn=conn, semantic=self.store.semantic).encode()

    def op_search(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        hits = self.store.search(
            _text(args, "query"),
            project=args.get("project"),
            limit=int(args.get("limit") or 10),
            include_deprecated=bool(args.get("include_deprecated")),
        )
        return [h.to_dict() for h in hits]

    def op_get(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        ids = args.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInput("get needs a list of ids")
        return [m.to_dict() for m in self.store.get_many(ids)]

    def op_save(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        saved = self.store.add(
            _text(args, "content"),
            title=args.get("title"),
            project=args.get("project"),
            tags=list(args.get("tags") or ()),
            layer=args.get("layer"),
            importance=args.get("importance"),
            situations=list(args.get("situations") or ()),
        )
        return {
            "outcome": saved.outcome,
            "memory": saved.memory.to_dict(),
            "superseded": list(saved.superseded),
            "reasons": list(saved.reasons),
            "redacted": list(saved.redacted),
            "indexed": saved.indexed,
        }

    def op_slice(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        built = self.store.slice(
            _text(args, "query", empty=True),
            scope=args.get("scope"),
            session_id=args.get("session_id"),
            cwd=args.get("cwd"),
            task_mode=args.get("task_mode"),
            briefing=bool(args.get("briefing")),
        )
        return {"markdown": built.markdown, "reason": built.reason}

    def op_status(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        return self.status()

    def op_cli(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        from memem import cli

        argv = args.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise InvalidInput("cli needs argv, a list of strings")
        code, out, err = cli.run_captured(self.store, argv)
        return {"code": code, "stdout": out, "stderr": err}

    def op_tool(self, args: dict[str, Any], env: dict[str, str], body: bytes) -> Any:
        from memem.mcp_server.tools import run_tool

        arguments, roots = args.get("arguments"), args.get("import_roots")
        if not isinstance(arguments, dict) or not isinstance(roots, list):
            raise InvalidInput("tool needs arguments (an object) and import_roots (a list)")
        text = run_tool(
            self.store,
            _text(args, "name"),
            arguments,
            import_roots=tuple(Path(str(p)) for p in roots),
            mining=self.mining,
        )
        return {"text": text}


def _text(args: Mapping[str, Any], name: str, *, empty: bool = False) -> str:
    value = args.get(name)
    if not isinstance(value, str) or (not value and not empty):
        raise InvalidInput(f"{name} must be a non-empty string")
    return value


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
