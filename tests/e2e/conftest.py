"""End-to-end fixtures: the real Claude Code CLI, memem installed from its marketplace, the
fake Messages API, and a throwaway HOME (facts: `shared/docs/claude-code.md`).

    REPO    the plugin under test: MEMEM_E2E_REPO, default the repository these tests are in
            (point it at a patched copy to check a fix against the real CLI)
    CACHE   where the pinned CLI is installed from npm once: MEMEM_E2E_CACHE, default
            /tmp/memem-e2e-cache

Per test: a fresh HOME with memem installed (`claude plugin marketplace add REPO`, `claude
plugin install memem@memem`, copied from one session-wide install), a fresh fake API, state
dir and vault, and a git repository `shop` as the project. `claude.run(prompt)` runs `claude -p
PROMPT --output-format json` there and returns the result with the message requests the fake
received during that run. Nothing reaches the network beyond 127.0.0.1: the fake is also the
(dead-end) HTTPS proxy.

The hooks and the MCP server run through REPO's `bootstrap.sh` with MEMEM_VENV set to the venv
running the tests, so no test reinstalls the locked dependencies. The hooks start memem's
engine as they do for users; every engine of a test's state dir is stopped when the test ends
(`stop_engines`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from tests.engine_helpers import stop_engines
from tests.fake_anthropic import FakeAnthropic, Recorded

HERE: Final = Path(__file__).resolve().parent
REPO: Final = Path(os.environ.get("MEMEM_E2E_REPO") or HERE.parent.parent).resolve()
CACHE: Final = Path(os.environ.get("MEMEM_E2E_CACHE") or "/tmp/memem-e2e-cache").resolve()
CLI_VERSION: Final = "2.1.329"
CLI_PACKAGE: Final = f"@anthropic-ai/claude-code@{CLI_VERSION}"
PLUGIN: Final = "memem@memem"  # <plugin name>@<marketplace name> from marketplace.json
PROJECT: Final = "shop"
TOOL_PREFIX: Final = "mcp__plugin_memem_memem__"
API_KEY: Final = "sk-ant-fake-e2e-key"
RUN_TIMEOUT: Final = 120.0
SLICE_OPEN: Final = "<memem-memory>"
# Inherited variables that would leak the caller's setup (a Claude Code session running the
# tests, a proxy, a Python path) into the CLI, its hooks or memem.
SCRUBBED_PREFIXES: Final = ("MEMEM_", "CLAUDE", "ANTHROPIC_", "MCP_", "XDG_", "PYTHON", "NODE_")
SCRUBBED_NAMES: Final = frozenset(
    {
        "IS_SANDBOX",
        "DISABLE_TELEMETRY",
        "DISABLE_ERROR_REPORTING",
        "DISABLE_AUTOUPDATER",
        "ENABLE_TOOL_SEARCH",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "no_proxy",
        "VIRTUAL_ENV",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: runs the real Claude Code CLI (tests/e2e; deselect with -m 'not e2e')"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# -- the CLI from npm --------------------------------------------------------------------------


def _cli_version(binary: Path) -> str:
    if not binary.exists():
        return ""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def install_cli(cache: Path = CACHE) -> Path:
    """The pinned CLI's binary, installed from the npm registry into `cache` unless it is
    there already. One install at a time (pytest-xdist workers share the cache)."""
    binary = cache / "node_modules" / ".bin" / "claude"
    if _cli_version(binary).startswith(CLI_VERSION):
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _cli_version(binary).startswith(CLI_VERSION):
            return binary
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not on PATH: the end-to-end suite needs it to install the CLI")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), CLI_PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
        )
        version = _cli_version(binary)
        if done.returncode != 0 or not version.startswith(CLI_VERSION):
            pytest.fail(
                f"npm install {CLI_PACKAGE} failed (exit {done.returncode}, "
                f"`claude --version` says {version!r}):\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )
    return binary


# -- the environment ---------------------------------------------------------------------------


def bootstrap_venv(tmp_root: Path) -> Path:
    """A venv for MEMEM_VENV that bootstrap.sh takes as ready: the one running the tests when
    its stamps say it holds REPO's dev lock and model lock (what `bootstrap.sh test` makes),
    else a mirror of it (same interpreter and packages, the expected stamps) so that
    bootstrap.sh never installs into the venv running the tests."""
    stamps = {
        ".memem-stamp": f"requirements-dev.lock {_sha256(REPO / 'requirements-dev.lock')}",
        ".memem-model-stamp": (
            f"requirements-model.lock {_sha256(REPO / 'requirements-model.lock')} installed"
        ),
    }
    prefix = Path(sys.prefix)
    with contextlib.suppress(OSError):
        if all((prefix / name).read_text().strip() == want for name, want in stamps.items()):
            return prefix
    mirror = tmp_root / "venv-mirror"
    (mirror / "bin").mkdir(parents=True)
    shutil.copy(prefix / "pyvenv.cfg", mirror / "pyvenv.cfg")
    (mirror / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    for lib in ("lib", "lib64"):
        if (prefix / lib).exists():
            (mirror / lib).symlink_to(prefix / lib)
    for name, want in stamps.items():
        (mirror / name).write_text(want + "\n")
    return mirror


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hermetic_env(
    base: Mapping[str, str],
    *,
    home: Path,
    api_url: str,
    state: Path,
    vault: Path,
    venv: Path,
    cli: Path,
) -> dict[str, str]:
    """claude-code.md section 3, plus memem's paths. The fake API is also the proxy."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(SCRUBBED_PREFIXES) and k not in SCRUBBED_NAMES
    }
    env.update(
        HOME=str(home),
        PATH=f"{cli.parent}{os.pathsep}{env.get('PATH', os.defpath)}",
        ANTHROPIC_BASE_URL=api_url,
        ANTHROPIC_API_KEY=API_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
        HTTPS_PROXY=api_url,
        HTTP_PROXY=api_url,
        NO_PROXY="127.0.0.1,localhost,::1",
        MEMEM_DIR=str(state),
        MEMEM_OBSIDIAN_VAULT=str(vault),
        MEMEM_VENV=str(venv),
    )
    return env


# -- the engines the hooks start ------------------------------------------------------------


# -- requests the fake received ----------------------------------------------------------------


def blocks(message: Mapping[str, Any]) -> list[str]:
    """The text of a message's content (text blocks and tool results, flattened)."""
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, str):
                out.append(inner)
            elif isinstance(inner, list):
                out += [str(b.get("text", "")) for b in inner if isinstance(b, dict)]
    return out


def texts(request: Recorded, role: str | None = None) -> str:
    """Every text of a request's `messages` (of one role if given), joined."""
    body = request.body if isinstance(request.body, dict) else {}
    return "\n".join(
        text
        for m in body.get("messages", [])
        if isinstance(m, dict) and (role is None or m.get("role") == role)
        for text in blocks(m)
    )


def last_user_text(request: Recorded) -> str:
    body = request.body if isinstance(request.body, dict) else {}
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return "\n".join(blocks(users[-1])) if users else ""


def is_compact(request: Recorded) -> bool:
    return "create a detailed summary of the conversation" in last_user_text(request).lower()


def is_miner(request: Recorded) -> bool:
    return "memem-miner-session" in texts(request, "user")


def slices(text: str) -> list[str]:
    """Every `<memem-memory>` block in `text`."""
    found = []
    at = text.find(SLICE_OPEN)
    while at >= 0:
        end = text.find("</memem-memory>", at)
        found.append(text[at : end + len("</memem-memory>")] if end >= 0 else text[at:])
        at = text.find(SLICE_OPEN, at + 1)
    return found


# -- the CLI as a fixture ----------------------------------------------------------------------


@dataclass
class Run:
    """One `claude` invocation and what the fake API received while it ran."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    requests: list[Recorded]
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return str(self.result.get("result", ""))

    @property
    def session_id(self) -> str:
        return str(self.result.get("session_id", ""))

    def describe(self) -> str:
        sent = "\n".join(
            f"--- request {i}\n{texts(r)[-3000:]}" for i, r in enumerate(self.requests)
        )
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode}\nstdout: {self.stdout[-3000:]}\n"
            f"stderr: {self.stderr[-3000:]}\n{sent}"
        )


@dataclass
class Claude:
    """The CLI in one test's world: `run` a prompt, `cmd` any other subcommand."""

    binary: Path
    env: dict[str, str]
    cwd: Path
    api: FakeAnthropic
    home: Path
    state: Path
    vault: Path

    def cmd(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            cwd=self.cwd,
            env=dict(env or self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def run(
        self,
        prompt: str,
        *args: str,
        tools: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = RUN_TIMEOUT,
        check: bool = True,
    ) -> Run:
        """`claude -p PROMPT --output-format json [--allowedTools memem tools] ARGS`."""
        argv = ["-p", prompt, "--output-format", "json", *args]
        if tools:
            argv += ["--allowedTools", ",".join(TOOL_PREFIX + t for t in tools)]
        before = len(self.api.message_requests)
        done = self.cmd(*argv, env=env, timeout=timeout)
        run = Run(
            args=["claude", *argv],
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            requests=self.api.message_requests[before:],
        )
        with contextlib.suppress(ValueError):
            parsed = json.loads(done.stdout)
            if isinstance(parsed, dict):
                run.result = parsed
        if check:
            assert done.returncode == 0 and run.result, run.describe()
            assert run.result.get("is_error") is False, run.describe()
        return run

    def stream(
        self, prompt: str, *args: str, env: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """`claude -p PROMPT --output-format stream-json --verbose ARGS`: the events."""
        done = self.cmd("-p", prompt, "--output-format", "stream-json", "--verbose", *args, env=env)
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def memem(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`sh REPO/bootstrap.sh ARGS` (the memem CLI) as the slash commands run it."""
        return subprocess.run(
            ["sh", str(REPO / "bootstrap.sh"), *args],
            cwd=self.cwd,
            env=dict(env or self.env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )

    def memories(self) -> dict[str, str]:
        """The vault's memory files: name -> text."""
        folder = self.vault / "memem" / "memories"
        return {p.name: p.read_text("utf-8") for p in sorted(folder.glob("*.md"))}

    def transcripts(self) -> list[Path]:
        return sorted((self.home / ".claude" / "projects").glob("*/*.jsonl"))


def _link_or_copy(src: str, dst: str) -> object:
    # The plugin's cache copy is never written by the CLI in a test: hard links save ~50 MB
    # a test. Everything else (settings, state) is a real copy.
    if f"{os.sep}plugins{os.sep}cache{os.sep}" in src:
        with contextlib.suppress(OSError):
            os.link(src, dst)
            return dst
    return shutil.copy2(src, dst)


@dataclass(frozen=True)
class Installed:
    """The session-wide install: a HOME where memem is installed as users install it."""

    cli: Path
    home: Path
    venv: Path
    validate: subprocess.CompletedProcess[str]
    plugins: list[dict[str, Any]]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    cli = install_cli()
    root = tmp_path_factory.mktemp("e2e-install")
    home = root / "home"
    home.mkdir()
    venv = bootstrap_venv(root)
    with FakeAnthropic() as api:
        env = hermetic_env(
            os.environ,
            home=home,
            api_url=api.url,
            state=root / "state",
            vault=root / "vault",
            venv=venv,
            cli=cli,
        )

        def claude(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(cli), *args],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )

        validate = claude("plugin", "validate", "--strict", str(REPO))
        added = claude("plugin", "marketplace", "add", str(REPO))
        assert added.returncode == 0, f"marketplace add failed:\n{added.stdout}\n{added.stderr}"
        done = claude("plugin", "install", PLUGIN)
        assert done.returncode == 0, f"plugin install failed:\n{done.stdout}\n{done.stderr}"
        listed = claude("plugin", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        plugins = json.loads(listed.stdout)
    yield Installed(cli=cli, home=home, venv=venv, validate=validate, plugins=plugins)


@pytest.fixture
def claude(installed: Installed, tmp_path: Path) -> Iterator[Claude]:
    """One test's world: HOME (memem installed), fake API, state dir, vault, project `shop`.
    The HOME is a copy of the session-wide install (its installed_plugins.json still names the
    first HOME's cache copy; a directory marketplace is read from REPO anyway)."""
    home = tmp_path / "home"
    if home.exists():  # made by the suite-wide autouse isolation fixture
        shutil.rmtree(home)
    shutil.copytree(installed.home, home, symlinks=True, copy_function=_link_or_copy)
    project = tmp_path / PROJECT
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True, capture_output=True)
    with FakeAnthropic(default="Done.") as api:
        env = hermetic_env(
            os.environ,
            home=home,
            api_url=api.url,
            state=tmp_path / "state",
            vault=tmp_path / "vault",
            venv=installed.venv,
            cli=installed.cli,
        )
        try:
            yield Claude(
                binary=installed.cli,
                env=env,
                cwd=project,
                api=api,
                home=home,
                state=tmp_path / "state",
                vault=tmp_path / "vault",
            )
        finally:
            stop_engines(tmp_path / "state")  # the hooks started one: none outlives the test


def set_default_reply(api: FakeAnthropic, text: str) -> None:
    """The reply to every request once the script is used up. FakeAnthropic takes it at
    construction only; a test whose requests come in no known order (the CLI's and the
    daemon's) sets it afterwards."""
    api._state.default = text
