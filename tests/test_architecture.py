"""Import rules, checked on the AST: the pure core imports no I/O module, and the package
never imports heavy SDKs at module level."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "memem"
PURE = (
    "memory",
    "markdown",
    "text",
    "graph",
    "conflict",
    "layers",
    "importing",
    "security",
    "normalize",
    "errors",
    "slice",
    "handshake",
    "transcript",
    "extraction",
)
FRONT_ENDS = ("cli", "mcp_server", "hook", "daemon")
IO_MODULES = {
    "os",
    "sqlite3",
    "subprocess",
    "socket",
    "pathlib",
    "shutil",
    "tempfile",
    "memem.vault",
    "memem.index",
    "memem.store",
    "memem.events",
    "memem.logs",
}


def imports_of(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module: str) -> None:
    assert not imports_of(module) & IO_MODULES


@pytest.mark.parametrize("module", FRONT_ENDS)
def test_front_ends_never_import_each_other(module: str) -> None:
    others = {f"memem.{m}" for m in FRONT_ENDS if m != module}
    assert not imports_of(module) & others


def test_importing_the_store_loads_no_sdk_and_no_yaml() -> None:
    code = (
        "import sys, memem.store, memem.cli; "
        "heavy = {'mcp', 'anthropic', 'watchdog', 'yaml', 'frontmatter', 'structlog'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
