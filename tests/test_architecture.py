"""The package's shape, checked on the AST (README, "Architecture"):

    core/      pure: imports only the core, `memem.errors` and an allowlist of pure stdlib
    storage/   every side effect on disk; the only place that runs SQL
    service/   the API the front-ends call: storage and the core, never mining or a front-end
    mining/    the miner, its backends and the daemon's control: the service, storage, core
    front-ends cli/, mcp_server/, hook, engine/: never import each other, but all use the
               engine's client, and the engine's handlers run the others' work

and, below the front-ends, nothing reads the environment, and no module grows past 500 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "memem"
MAX_LINES = 500

# The standard library's pure parts: no files, processes, sockets, clock or environment.
PURE_STDLIB = frozenset(
    {
        "__future__",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "html",
        "html.entities",
        "itertools",
        "json",
        "math",
        "re",
        "string",
        "typing",
        "unicodedata",
    }
)
# markdown.py parses and renders YAML frontmatter from strings (never files).
PURE_THIRD_PARTY = frozenset({"yaml", "frontmatter", "frontmatter.default_handlers"})
FRONT_ENDS = ("memem.cli", "memem.mcp_server", "memem.hook", "memem.engine")
# The engine is the front-end the others are clients of: every front-end may use its client
# (and the protocol under it), and its handlers run the work of the others (a hook event, a
# CLI read command, an MCP tool call) with the warm store.
ENGINE_CLIENT = ("memem.engine", "memem.engine.client", "memem.engine.protocol")
ENGINE_HOSTED = {"memem.engine.handlers": ("memem.hook", "memem.cli", "memem.mcp_server.tools")}
ENTRY_POINTS = ("memem.__main__",)
# What a hook process loads (tests/test_hook.py checks both lists against real hooks). When the
# engine answers, only its client:
HOOK_CLIENT = frozenset(
    {
        "memem",
        "memem.core",
        "memem.core.value",
        "memem.engine",
        "memem.engine.client",
        "memem.engine.protocol",
        "memem.hook",
        "memem.settings",
    }
)
# When it answers in-process (no engine, or MEMEM_ENGINE=off), the pure core and the index
# reader as well. Only these modules are written in the lean dialect (`memem.core.value`
# records, `TYPE_CHECKING = False`, `os.path`): the rest of memem is ordinary Python.
HOOK_FALLBACK = HOOK_CLIENT | {
    "memem.core.fence",
    "memem.errors",
    "memem.core.homoglyphs",
    "memem.core.memory",
    "memem.core.project",
    "memem.core.prompts",
    "memem.core.ranking",
    "memem.core.slice",
    "memem.core.text",
    "memem.core.utility",
    "memem.service",
    "memem.service.recall",
    "memem.storage",
    "memem.storage.database",
    "memem.storage.files",
    "memem.storage.index",
    "memem.storage.ledger",
    "memem.storage.projects",
    "memem.storage.records",
    "memem.storage.retrieval",
    "memem.storage.terms",
    "memem.storage.utility",
    "memem.storage.workspace",
}
# The line each of them carries in its docstring (the engine's own say it in their words).
LEAN_REASON = "Lean: the hook's fallback imports it"
LAYERS = {
    # layer -> what its modules may import from memem (besides themselves)
    "memem.core": ("memem.core", "memem.errors"),
    "memem.storage": ("memem.core", "memem.errors", "memem.settings", "memem.storage"),
    "memem.service": (
        "memem.core",
        "memem.errors",
        "memem.settings",
        "memem.storage",
        "memem.service",
    ),
    "memem.mining": (
        "memem.core",
        "memem.errors",
        "memem.settings",
        "memem.storage",
        "memem.service",
        "memem.mining",
    ),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports (at any depth: lazy imports count), as dotted names; for
    `from x import y`, both `x` and `x.y` (y may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def memem_modules(names: set[str]) -> set[str]:
    """The memem modules among `names` (a `from memem.x import Name` counts as memem.x)."""
    return {n for n in names if n in MODULES or n == "memem"}


def layer_of(module: str) -> str | None:
    return next((layer for layer in LAYERS if in_layer(module, layer)), None)


def test_every_module_belongs_to_a_layer_or_is_a_known_top_level_module() -> None:
    top_level = {"memem", "memem.errors", "memem.settings", "memem.logs", *ENTRY_POINTS}
    stray = [
        m
        for m in MODULES
        if layer_of(m) is None
        and m not in top_level
        and not any(in_layer(m, f) for f in FRONT_ENDS)
    ]
    assert stray == [], "place new modules in a layer (and in the README's architecture)"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if in_layer(m, "memem.core")))
def test_the_core_imports_only_the_core_and_pure_standard_modules(module: str) -> None:
    allowed = PURE_STDLIB | PURE_THIRD_PARTY
    foreign = {
        n
        for n in imports_of(MODULES[module])
        if not (in_layer(n, "memem.core") or n == "memem.errors" or n.startswith("memem.errors."))
        and n not in allowed
        and n.rsplit(".", 1)[0] not in allowed | {"memem.core"}
    }
    # `from typing import Final`: typing.Final is a name, not a module; the parent is allowed.
    foreign = {n for n in foreign if not any(n.startswith(a + ".") for a in allowed)}
    assert foreign == set()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m)))
def test_each_layer_imports_only_the_layers_beneath_it(module: str) -> None:
    layer = layer_of(module)
    assert layer is not None
    allowed = LAYERS[layer]
    bad = {
        n
        for n in memem_modules(imports_of(MODULES[module]))
        if not any(in_layer(n, a) for a in allowed)
    }
    assert bad == set()


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_front_ends_never_import_each_other(front_end: str) -> None:
    mine = [m for m in MODULES if in_layer(m, front_end)]
    others = [f for f in FRONT_ENDS if f != front_end]
    bad = {
        n
        for m in mine
        for n in memem_modules(imports_of(MODULES[m]))
        if any(in_layer(n, o) for o in others)
        and n not in ENGINE_CLIENT
        and not any(in_layer(n, h) for h in ENGINE_HOSTED.get(m, ()))
    }
    assert bad == set()


def test_the_engine_client_stays_cheap_to_import() -> None:
    # Every prompt's hook process imports it: only the protocol, settings and cheap stdlib.
    for name in ENGINE_CLIENT:
        heavy = {
            n
            for n in imports_of(MODULES[name])
            if n.split(".")[0] in {"json", "socket", "pathlib", "typing", "dataclasses", "re"}
            and not _lazy(MODULES[name], n)
        }
        assert heavy == set(), name


def _lazy(path: Path, module: str) -> bool:
    """True when `module` is imported only inside functions (on use) or under
    `if TYPE_CHECKING:` (never at run time), not at the top of `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {
        a.name if isinstance(node, ast.Import) else (node.module or "")
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for a in node.names
    }
    return module not in top


def _calls(path: Path, names: set[str]) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    ]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not in_layer(m, "memem.storage")))
def test_sql_runs_only_in_the_storage_layer(module: str) -> None:
    assert _calls(MODULES[module], {"execute", "executemany", "executescript"}) == []
    assert "sqlite3" not in imports_of(MODULES[module])


def _environment_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in {"environ", "getenv", "environb", "putenv"}
    ]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m)))
def test_nothing_below_the_front_ends_reads_the_environment(module: str) -> None:
    """Entry points read os.environ into a frozen Settings; everything below takes arguments."""
    assert _environment_reads(MODULES[module]) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_500_lines(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it by responsibility"


def test_importing_the_store_loads_no_sdk_and_no_yaml() -> None:
    code = (
        "import sys, memem.service.store, memem.cli; "
        "heavy = {'mcp', 'anthropic', 'watchdog', 'yaml', 'frontmatter', 'structlog'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _lean_dialect(path: Path) -> bool:
    """Whether `path` uses the hook's lean dialect: `TYPE_CHECKING = False` (typing only for
    mypy) or `memem.core.value` records."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fake_flag = any(
        isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["TYPE_CHECKING"]
        and isinstance(node.value, ast.Constant)
        and node.value.value is False
        for node in tree.body
    )
    return fake_flag or "memem.core.value" in imports_of(path)


def test_the_lean_dialect_is_confined_to_the_modules_a_hook_loads() -> None:
    outside = sorted(m for m in MODULES if _lean_dialect(MODULES[m]) and m not in HOOK_FALLBACK)
    assert outside == [], "ordinary Python here: frozen dataclasses, typing, pathlib"


@pytest.mark.parametrize(
    "module",
    sorted(
        m for m in HOOK_FALLBACK if _lean_dialect(MODULES[m]) and not in_layer(m, "memem.engine")
    ),
)
def test_each_lean_module_says_why_in_its_docstring(module: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8"))) or ""
    assert LEAN_REASON in doc
