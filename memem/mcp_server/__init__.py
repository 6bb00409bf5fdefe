"""memem's MCP server: every memory tool over stdio, each a thin call into the store.

`memem mcp` (or `bootstrap.sh mcp`) runs it. stdout is the protocol channel: logs go to the
log file. Tool results are compact text bounded by `OUTPUT_LIMIT`, far below Claude Code's
10,000-character cut, and say when something was left out and how to get it. A memem error
becomes a tool error with its message; nothing a client sends can stop the server.

    memem.mcp_server.tools      the tools' bodies (`run_tool`), without the SDK
    memem.mcp_server.app        the tools on the SDK (`build`): descriptions, argument bounds
    memem.mcp_server.stdio      the transport (`serve`): stdin/stdout, the early answers
    memem.mcp_server.snapshot   the SDK's answers to the connect calls (snapshot.json)

Claude Code counts the server connected once it has answered the handshake and the lists,
and importing the MCP SDK alone takes about a second, so `serve` answers those from the
snapshot while the SDK loads (see `memem.core.handshake`), and opens the store only when a
tool is first called.
"""

from memem.mcp_server.stdio import serve

__all__ = ["serve"]
