"""The MCP server on the SDK: `build` registers every memem tool on an `MCPServer`.

Each tool's docstring is its description for the model and its annotations its argument
schema; the SDK validates a call's arguments against them, then the tool hands them to
`forward(name, arguments)`: the engine, or the bodies in `memem.mcp_server.tools` run here.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations at
# registration, and the constrained types are local to `build`.
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from memem.core.memory import (
    MAX_CONTENT_CHARS,
    MAX_ID_CHARS,
    MAX_SITUATION_CHARS,
    MAX_SITUATIONS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
)
from memem.errors import MememError
from memem.mcp_server.tools import INSTRUCTIONS, NAME, run_tool, version

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from memem.mining.service import Mining
    from memem.service.store import Store

log = logging.getLogger("memem.mcp")

F = TypeVar("F", bound=Callable[..., str])
Forward = Callable[[str, dict[str, Any]], str]


def build(
    store: "Store | None" = None,
    import_roots: Sequence[Path] = (),
    mining: "Mining | None" = None,
    *,
    forward: Forward | None = None,
) -> "MCPServer":
    """The MCP server with every memem tool. A call, once its arguments are valid, is
    `forward(name, arguments)` when given; else it runs here on `store`
    (`memem.mcp_server.tools.run_tool`, with `import_roots` and `mining`)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import Field

    if forward is None:
        if store is None:
            raise ValueError("build needs a store or a forward")
        forward = _here(store, tuple(import_roots), mining)
    send = forward  # narrowed, for the closure
    app: MCPServer = MCPServer(NAME, instructions=INSTRUCTIONS, version=version())

    def call(name: str, **arguments: Any) -> str:
        return send(name, arguments)

    def tool(fn: F) -> F:
        """Register `fn`; memem errors become tool errors with their message."""

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> str:
            try:
                return fn(*args, **kwargs)
            except MememError as exc:
                raise ToolError(str(exc)) from None
            except Exception as exc:
                log.exception("tool failed", extra={"tool": fn.__name__})
                raise ToolError(
                    f"internal error ({type(exc).__name__}); details are in memem's log"
                ) from None

        # The docstring is the model's description: one paragraph, no source indentation.
        description = " ".join((fn.__doc__ or "").split())
        app.add_tool(guarded, name=fn.__name__, description=description, structured_output=False)
        return fn

    Query = Annotated[str, Field(min_length=1, max_length=10_000)]
    Project = Annotated[str | None, Field(max_length=100)]
    Limit = Annotated[int, Field(ge=1, le=50)]
    MemoryId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]

    @tool
    def memory_save(
        content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS)],
        title: Annotated[str | None, Field(max_length=MAX_TITLE_CHARS)] = None,
        project: Project = None,
        tags: Annotated[
            list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] | None,
            Field(max_length=MAX_TAGS),
        ] = None,
        layer: Annotated[int | None, Field(ge=0, le=3)] = None,
        importance: Annotated[int | None, Field(ge=1, le=5)] = None,
        situations: Annotated[
            list[Annotated[str, Field(max_length=MAX_SITUATION_CHARS)]] | None,
            Field(max_length=MAX_SITUATIONS),
        ] = None,
        private: bool = False,
    ) -> str:
        """Save a durable lesson (a decision and its reason, a convention, a fix, a
        preference): one self-contained fact. A duplicate returns the existing memory; a
        contradicting fact supersedes the older one. layer: 0 project identity, 1 convention,
        2 domain (default), 3 archival. situations: 1-3 questions or tasks it answers.
        private: true keeps it on this machine (never synced to a team or another device).
        Example: content="The API uses Postgres 16, not MySQL",
        situations=["Which database does the API use?"]."""
        return call(
            "memory_save",
            content=content,
            title=title,
            project=project,
            tags=tags,
            layer=layer,
            importance=importance,
            situations=situations,
            private=private,
        )

    @tool
    def memory_search(query: Query, project: Project = None, limit: Limit = 10) -> str:
        """Find memories for a question, keywords or a task: a compact list (id, layer, score,
        title, snippet); memory_get the ids you need. Use before answering about past
        decisions, conventions or fixes. Example: query="how do we run migrations"."""
        return call("memory_search", query=query, project=project, limit=limit)

    @tool
    def memory_get(
        ids: Annotated[list[MemoryId], Field(min_length=1, max_length=20)],
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> str:
        """Full content of memories by id (the id as in its file, or a unique prefix of 4+ hex digits).
        offset skips that many characters of a single long memory.
        Example: ids=["3f2a9c1d"]."""
        return call("memory_get", ids=ids, offset=offset)

    @tool
    def memory_recall(
        query: Query, project: Project = None, limit: Annotated[int, Field(ge=1, le=10)] = 3
    ) -> str:
        """Search and read in one call: the best memories for a question, with content.
        Use when you need the facts themselves, not a list.
        Example: query="which database does the API use?"."""
        return call("memory_recall", query=query, project=project, limit=limit)

    @tool
    def memory_timeline(id: MemoryId, window: Annotated[int, Field(ge=1, le=10)] = 3) -> str:
        """The chronological thread around a memory: what came before and after it in its
        project, plus its graph neighbours. Example: id="3f2a9c1d"."""
        return call("memory_timeline", id=id, window=window)

    @tool
    def memory_list(project: Project = None) -> str:
        """Projects with memory counts per layer and their most recent memories.
        Use to see what memem knows. Example: project="shop" (or none for all)."""
        return call("memory_list", project=project)

    @tool
    def memory_import(
        path: Annotated[str, Field(min_length=1, max_length=4096)], project: Project = None
    ) -> str:
        """Import a markdown or text file, a directory of them, or a CLAUDE.md (one memory
        per section) from the local disk. Example: path="~/code/shop/CLAUDE.md"."""
        return call("memory_import", path=path, project=project)

    @tool
    def memory_forget(
        id: MemoryId, reason: Annotated[str | None, Field(max_length=200)] = None
    ) -> str:
        """Deprecate a wrong or obsolete memory: it leaves recall, its file stays (marked
        deprecated). To replace a fact, save the new one (it supersedes). Example: id="3f2a9c1d"."""
        return call("memory_forget", id=id, reason=reason)

    @tool
    def memory_feedback(
        id: MemoryId,
        verdict: Annotated[str, Field(pattern="^(helpful|unhelpful|wrong|outdated)$")],
        note: Annotated[str, Field(max_length=200)] = "",
    ) -> str:
        """Judge a memory: helpful (saved work), unhelpful (noise), wrong (deprecate; note
        why) or outdated (stale). E.g. id="3f2a9c1d", verdict="helpful"."""
        return call("memory_feedback", id=id, verdict=verdict, note=note)

    @tool
    def memory_graph(id: MemoryId, limit: Annotated[int, Field(ge=1, le=30)] = 12) -> str:
        """Typed, scored neighbours of one memory (same_topic, supports, depends_on,
        supersedes, contradicts, same_session, same_project). Example: id="3f2a9c1d"."""
        return call("memory_graph", id=id, limit=limit)

    @tool
    def memory_graph_audit() -> str:
        """Health of the memory graph: orphans, dead links, hubs and stale edges."""
        return call("memory_graph_audit")

    @tool
    def memory_graph_rebuild() -> str:
        """Recompute every graph edge from the index (after many edits or an audit)."""
        return call("memory_graph_rebuild")

    @tool
    def active_memory_slice(
        query: Query,
        scope_id: Annotated[str, Field(min_length=1, max_length=100)],
        session_id: Annotated[str | None, Field(max_length=100)] = None,
        task_mode: Annotated[str | None, Field(pattern="^(debug|implement|review|plan)$")] = None,
        repo_path: Annotated[str | None, Field(max_length=4096)] = None,
        writeback_preview: bool = False,
        auto_commit_safe: bool = False,
    ) -> str:
        """The memory slice for a task in project scope_id (goals, constraints, decisions,
        failure patterns), as hooks inject it; empty when nothing is relevant.
        Example: query="fix the flaky checkout test", scope_id="shop"."""
        return call(
            "active_memory_slice",
            query=query,
            scope_id=scope_id,
            session_id=session_id,
            task_mode=task_mode,
            repo_path=repo_path,
            writeback_preview=writeback_preview,
            auto_commit_safe=auto_commit_safe,
        )

    @tool
    def context_assemble(
        query: Query, project: Annotated[str, Field(min_length=1, max_length=100)]
    ) -> str:
        """A briefing for starting work on a task: the project's anchors and the slice for
        the task, in one block. Example: query="add SSO login", project="shop"."""
        return call("context_assemble", query=query, project=project)

    @tool
    def transcript_search(query: Query, limit: Annotated[int, Field(ge=1, le=20)] = 5) -> str:
        """Search raw past session logs (mined sessions): what was said, when, in which
        project. Use when memories lack a detail. Example: query="stripe webhook 400"."""
        return call("transcript_search", query=query, limit=limit)

    @tool
    def memory_ledger(
        session_id: Annotated[str, Field(max_length=200)] = "",
        since: Annotated[str, Field(max_length=40)] = "",
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> str:
        """What memem injected into context and whether each memory was used (yes, no, ?
        undecided). Example: since="2026-12-04"."""
        return call("memory_ledger", session_id=session_id, since=since, limit=limit)

    for registered in app._tool_manager.list_tools():
        registered.parameters = _compact(registered.parameters)
    return app


def _here(store: "Store", import_roots: tuple[Path, ...], mining: "Mining | None") -> Forward:
    """Tool calls run in this process, on `store`."""
    from memem.mining.service import Mining

    transcripts = mining if mining is not None else Mining(store.settings)

    def run(name: str, arguments: dict[str, Any]) -> str:
        return run_tool(store, name, arguments, import_roots=import_roots, mining=transcripts)

    return run


def _compact(schema: Any) -> Any:
    """The same JSON schema, shorter: the whole tools/list payload is what the model reads on
    every request, and it has a budget. Drops pydantic's cosmetic `title`s and `default: null`,
    and writes `anyOf: [X, {type: null}]` as X with `type: [T, "null"]`."""
    if isinstance(schema, list):
        return [_compact(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    options = schema.get("anyOf")
    if (
        isinstance(options, list)
        and len(options) == 2
        and options[1] == {"type": "null"}
        and isinstance(options[0], dict)
        and isinstance(options[0].get("type"), str)
    ):
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**rest, **options[0], "type": [options[0]["type"], "null"]}
    return {
        k: _compact(v)
        for k, v in schema.items()
        if not (k == "title" and isinstance(v, str)) and not (k == "default" and v is None)
    }
