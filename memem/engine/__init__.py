"""memem's warm engine: the daemon serves this user's hooks, CLI and MCP server over a local
socket, so that each of them is a thin, fast client.

    memem.engine.protocol   the wire format, the socket's path, the code digest (cheap imports)
    memem.engine.client     hook(), call(), start(): what the other front-ends use
    memem.engine.server     the socket: accept, check the peer, answer on worker threads
    memem.engine.handlers   each request's work, with the warm store
    memem.engine.watch      vault edits reach the index within about a second

The process itself (lock, heartbeat, mining loop) is memem.engine.daemon.
"""
