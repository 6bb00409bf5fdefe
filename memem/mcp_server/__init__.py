"""memem's MCP server: every memory tool over stdio, each a thin call into the store.

`memem mcp` (or `bootstrap.sh mcp`) runs it. stdout is the protocol channel: logs go to the
log file. Tool results are compact text bounded by `OUTPUT_LIMIT`, far below Claude Code's
10,000-character cut, and say when something was left out and how to get it. A memem error
becomes a tool error with its message; nothing a client sends can stop the server.

    memem.mcp_server.tools   the tools (`build`): their descriptions, bounds and output
    memem.mcp_server.stdio   the transport (`serve`): stdin/stdout, the early handshake

Claude Code holds the first prompt until the server answers `initialize`, and importing the
MCP SDK alone takes about a second, so `serve` answers the handshake itself while the SDK
loads on another thread (see `memem.core.handshake`).
"""

from memem.mcp_server.stdio import serve

__all__ = ["serve"]
