"""The composition root: `memem ...` / `python -m memem ...`.

`memem hook EVENT`, `memem mcp` and `memem daemon run` go straight to their front-ends (a
hook must not pay for the CLI's imports, the MCP server answers before it opens a store);
a read command (`search`, `get`, `list`, `timeline`) goes to the engine when it answers;
everything else, `--help` included, is the CLI. The front-ends never import each other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Before anything is created: memem's files hold the user's data (see memem.storage.permissions).
    os.umask(0o077)  # = permissions.restrict(), without importing it on the hook path
    if len(args) == 2 and args[0] == "hook" and not args[1].startswith("-"):
        from memem import hook

        return hook.main(args[1])
    if args == ["mcp"]:
        from memem import mcp_server
        from memem.settings import Settings
        from memem.storage import permissions

        settings = Settings.from_env(os.environ)
        permissions.tighten(settings.state_dir, settings.vault_dir)
        # The server sets up its log once it reads stdin: logging and structlog cost ~0.1 s
        # that Claude Code would wait for before its first answer.
        early = os.environ.get("MEMEM_MCP_EARLY_INIT") != "0"
        return mcp_server.serve(settings, os.environ, early=early)
    if len(args) >= 2 and args[:2] == ["daemon", "run"] and set(args[2:]) <= {"--once"}:
        from memem.engine import daemon
        from memem.settings import Settings
        from memem.storage import permissions

        settings = Settings.from_env(os.environ)
        permissions.tighten(settings.state_dir, settings.vault_dir)
        return daemon.main(args[2:])
    from memem.engine import client

    answered = client.cli(args, os.environ)  # a read command, answered by a live engine
    if answered is not None:
        return answered
    from memem import cli

    return cli.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
