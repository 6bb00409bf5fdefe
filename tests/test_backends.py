"""The extraction backends: the real `anthropic` SDK against the fake Messages API, fake
`claude` executables in tmp_path, and the choice between them."""

from __future__ import annotations

import _thread
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from memem.core.extraction import SYSTEM_PROMPT, Lesson, heuristic
from memem.core.transcript import MINER_MARKER, Message, render
from memem.errors import ConfigError, MalformedReply, PermanentError, TransientError
from memem.mining.backends import (
    AnthropicBackend,
    Backend,
    ClaudeCliBackend,
    HeuristicBackend,
    choose,
    describe,
)
from memem.settings import DEFAULT_MODEL, Settings
from tests.fake_anthropic import REDACTED, FakeAnthropic
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-ant-test-key-0123456789"
MESSAGES = (
    Message("user", "Install the deps. We use pnpm, never npm.", "2026-11-21T05:35:19Z", "u1"),
    Message("assistant", "Running `pnpm install` now.", "2026-11-21T05:35:21Z", "a1"),
)
MEMORY = {
    "title": "pnpm, never npm",
    "content": "The shop repo uses pnpm; npm rewrites the lockfile.",
    "type": "convention",
    "tags": ["pnpm"],
    "importance": 4,
    "situations": ["How do I install the dependencies?"],
}
LESSON = Lesson(
    title="pnpm, never npm",
    content="The shop repo uses pnpm; npm rewrites the lockfile.",
    type="convention",
    tags=("pnpm",),
    importance=4,
    layer=None,
    situations=("How do I install the dependencies?",),
)


# -- the Anthropic API through the real SDK -------------------------------------------------


def anthropic_backend(api: FakeAnthropic, *, timeout: float = 10.0) -> AnthropicBackend:
    return AnthropicBackend(api_key=API_KEY, model=DEFAULT_MODEL, base_url=api.url, timeout=timeout)


def test_anthropic_reply_becomes_lessons(api: FakeAnthropic) -> None:
    api.reply_json({"memories": [MEMORY]})
    assert anthropic_backend(api).extract(MESSAGES, project="shop") == [LESSON]


def test_anthropic_request_carries_model_system_prompt_and_transcript_without_tools(
    api: FakeAnthropic,
) -> None:
    anthropic_backend(api).extract(MESSAGES, project="shop")
    (request,) = api.message_requests
    body = request.body
    assert body["model"] == DEFAULT_MODEL
    assert body["max_tokens"] == 4096
    assert body["system"] == SYSTEM_PROMPT
    assert "tools" not in body and "tool_choice" not in body
    assert not body.get("stream")
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert render(MESSAGES, numbered=True) in message["content"]
    assert message["content"].count(MINER_MARKER) == 1
    assert "'shop'" in message["content"]
    # The key reached the server, and the server's log does not keep it.
    assert REDACTED in (request.headers.get("x-api-key"), request.headers.get("authorization"))
    assert API_KEY not in json.dumps(request.headers)


def test_anthropic_reads_text_blocks_never_tool_calls(api: FakeAnthropic) -> None:
    api.reply_content(
        [
            {"type": "tool_use", "name": "save", "input": {"memories": [MEMORY]}},
            {"type": "text", "text": '```json\n{"memories": []}\n```'},
        ],
        stop_reason="end_turn",
    )
    assert anthropic_backend(api).extract(MESSAGES, project="shop") == []


def test_anthropic_reply_with_only_a_tool_call_is_malformed(api: FakeAnthropic) -> None:
    api.reply_content([{"type": "tool_use", "name": "save", "input": {"memories": [MEMORY]}}])
    with pytest.raises(MalformedReply, match="no text"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_empty_memories_is_a_valid_answer(api: FakeAnthropic) -> None:
    assert anthropic_backend(api).extract(MESSAGES, project="shop") == []  # the default reply


def test_anthropic_429_is_transient_with_the_servers_retry_after(api: FakeAnthropic) -> None:
    api.fail(429, retry_after=7)
    with pytest.raises(TransientError, match="429") as caught:
        anthropic_backend(api).extract(MESSAGES, project="shop")
    assert caught.value.retry_after == 7.0
    assert "rate_limit_error" in str(caught.value)


def test_anthropic_429_without_retry_after_is_transient_with_no_hint(api: FakeAnthropic) -> None:
    api.fail(429)
    with pytest.raises(TransientError) as caught:
        anthropic_backend(api).extract(MESSAGES, project="shop")
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529, 408])
def test_anthropic_server_errors_and_overload_are_transient(
    api: FakeAnthropic, status: int
) -> None:
    api.fail(status)
    with pytest.raises(TransientError, match=str(status)):
        anthropic_backend(api).extract(MESSAGES, project="shop")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
    ],
)
def test_anthropic_client_errors_are_permanent(api: FakeAnthropic, status: int, kind: str) -> None:
    api.fail(status)
    with pytest.raises(PermanentError, match=f"{status}: {kind}"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_makes_exactly_one_request_per_call(api: FakeAnthropic) -> None:
    api.fail(529, times=3)
    with pytest.raises(TransientError):
        anthropic_backend(api).extract(MESSAGES, project="shop")
    assert len(api.message_requests) == 1  # the miner retries, not the SDK
    assert api.pending == 2


def test_anthropic_hang_past_the_timeout_is_transient(api: FakeAnthropic) -> None:
    api.hang(30)
    with pytest.raises(TransientError, match="timed out"):
        anthropic_backend(api, timeout=0.5).extract(MESSAGES, project="shop")


def test_anthropic_malformed_body_is_transient(api: FakeAnthropic) -> None:
    # A complete 200 whose body is not JSON: a proxy's error page, a glitch; the next request
    # usually gets a real reply, so the miner retries it (a bounded number of times).
    api.malformed()
    with pytest.raises(MalformedReply, match="malformed body"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (b"<!DOCTYPE html><title>Just a moment...</title>", "text/html; charset=utf-8"),
        (b"", "application/json"),
        (b'{"id": "msg_1", "type": "message", "content": "not a list"}', "application/json"),
        (b'{"id": "msg_1", "type": "message", "cont', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"null", "application/json"),
    ],
)
def test_anthropic_a_200_that_is_not_a_messages_reply_is_malformed(
    api: FakeAnthropic, body: bytes, content_type: str
) -> None:
    api.raw(body, content_type)
    with pytest.raises(MalformedReply):
        anthropic_backend(api).extract(MESSAGES, project="shop")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"id": "msg_1", "type": "message", "content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_anthropic_a_deeply_nested_200_body_is_malformed_not_permanent(
    api: FakeAnthropic, body: bytes
) -> None:
    # The SDK's JSON parser hits the recursion limit: still just a bad reply, retried later.
    api.raw(body, "application/json")
    with pytest.raises(MalformedReply, match="nested too deeply"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_retry_after_that_is_not_a_finite_number_gives_no_hint(
    api: FakeAnthropic,
) -> None:
    from memem.mining.backends import _retry_after

    assert _retry_after({"retry-after": "inf"}) is None
    assert _retry_after({"retry-after": "nan"}) is None
    assert _retry_after({"retry-after-ms": "1e400"}) is None
    assert _retry_after({"retry-after": "12"}) == 12.0


def test_anthropic_truncated_body_is_transient(api: FakeAnthropic) -> None:
    # The connection closed before the declared Content-Length: a network fault, like a
    # reset, that the same request survives next time.
    api.truncated()
    with pytest.raises(TransientError, match="failed"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_refused_connection_is_transient() -> None:
    with FakeAnthropic() as closed:
        url = closed.url
    backend = AnthropicBackend(api_key=API_KEY, model=DEFAULT_MODEL, base_url=url, timeout=2)
    with pytest.raises(TransientError):
        backend.extract(MESSAGES, project="shop")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Sure! Here are the lessons I found.", "reply is not JSON"),
        (
            '{"memories": [{"title": "t", "content": "c", "type": "note", "importance": 3}]}',
            "unknown type 'note'",
        ),
        ('{"lessons": []}', "no 'memories' key"),
    ],
)
def test_anthropic_reply_outside_the_contract_is_malformed(
    api: FakeAnthropic, reply: str, reason: str
) -> None:
    api.reply_text(reply)
    with pytest.raises(MalformedReply, match=reason):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_reply_cut_at_max_tokens_says_so(api: FakeAnthropic) -> None:
    api.reply_content(
        [{"type": "text", "text": '{"memories": [{"title": "t", "cont'}], stop_reason="max_tokens"
    )
    with pytest.raises(MalformedReply, match="max_tokens"):
        anthropic_backend(api).extract(MESSAGES, project="shop")


def test_anthropic_base_url_comes_from_settings(api: FakeAnthropic, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": api.url}
    backend = choose(Settings.from_env(env), os.environ)
    api.reply_json({"memories": [MEMORY]})
    assert backend.extract(MESSAGES, project="shop") == [LESSON]
    assert len(api.message_requests) == 1


def test_importing_backends_does_not_import_the_sdk() -> None:
    code = "import sys, memem.mining.backends; print('anthropic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "False"


def test_fake_anthropic_serves_streams_probes_and_errors(api: FakeAnthropic) -> None:
    import anthropic

    client = anthropic.Anthropic(api_key=API_KEY, base_url=api.url, max_retries=0, timeout=5)
    api.reply_text('{"memories": []} streamed')
    with client.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert stream.get_final_text() == '{"memories": []} streamed'
    count = client.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens >= 1
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("nope")
    assert [(r.method, r.path) for r in api.requests] == [
        ("POST", "/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("GET", "/v1/models/nope"),
    ]


# -- the claude CLI -------------------------------------------------------------------------


def fake_claude(tmp_path: Path, body: str, *, name: str = "claude") -> Path:
    """A `claude` executable: a Python script run by this interpreter."""
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return path


GOOD_CLAUDE = """\
import json, os, sys
record = {
    "argv": sys.argv[1:],
    "env": {k: os.environ.get(k) for k in
            ("MEMEM_MINER_CHILD", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "HOME")},
    "stdin": sys.stdin.read(),
}
with open(os.path.join(os.path.dirname(__file__), "record.json"), "w") as f:
    json.dump(record, f)
print("```json")
print(json.dumps({"memories": [MEMORY]}))
print("```")
"""

HANGING_CLAUDE = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
path = os.path.join(os.path.dirname(__file__), "pids")
with open(path + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(path + ".tmp", path)
time.sleep(600)
"""

# Exits at once, leaving a background child that holds stdout and stderr open.
DETACHING_CLAUDE = """\
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(os.path.join(os.path.dirname(__file__), "pids"), "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
print('{"memories": []}', flush=True)
"""


def gone(pid: int) -> bool:
    """The process no longer runs: no such pid, or a zombie waiting for a reaper (PID 1 in a
    container may never reap the orphans it inherits)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def pids(tmp_path: Path) -> list[int]:
    return [int(p) for p in (tmp_path / "bin" / "pids").read_text().split()]


def test_claude_cli_runs_headless_with_the_recursion_guard(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, f"MEMORY = {MEMORY!r}\n{GOOD_CLAUDE}")
    lessons = ClaudeCliBackend(env=os.environ, executable=str(script)).extract(
        MESSAGES, project="shop"
    )
    assert lessons == [LESSON]
    record = json.loads((tmp_path / "bin" / "record.json").read_text())
    assert record["argv"] == [
        *("-p", "--model", "haiku", "--output-format", "text"),
        *("--tools", "", "--strict-mcp-config"),
    ]
    assert record["env"]["MEMEM_MINER_CHILD"] == "1"
    assert record["env"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert record["env"]["HOME"] == os.environ["HOME"]  # the rest of the environment passes
    stdin = record["stdin"]
    assert stdin.startswith(SYSTEM_PROMPT)
    assert stdin.count(MINER_MARKER) == 1
    assert render(MESSAGES, numbered=True) in stdin


def test_claude_cli_uses_the_given_model(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, f"MEMORY = {MEMORY!r}\n{GOOD_CLAUDE}")
    ClaudeCliBackend(env=os.environ, executable=str(script), model="claude-haiku-4-5").extract(
        MESSAGES, project="shop"
    )
    record = json.loads((tmp_path / "bin" / "record.json").read_text())
    assert record["argv"][1:3] == ["--model", "claude-haiku-4-5"]


def test_claude_cli_failure_is_permanent_with_the_tail_of_stderr(tmp_path: Path) -> None:
    body = (
        "import sys\n"
        "sys.stderr.write('starting up\\n' + 'noise\\n' * 500 + 'Error: invalid model: haiku\\n')\n"
        "sys.exit(1)\n"
    )
    script = fake_claude(tmp_path, body)
    with pytest.raises(PermanentError) as caught:
        ClaudeCliBackend(env=os.environ, executable=str(script)).extract(MESSAGES, project="shop")
    message = str(caught.value)
    assert "exited with 1" in message
    assert message.endswith("Error: invalid model: haiku")
    assert "starting up" not in message


def test_claude_cli_reply_outside_the_contract_is_malformed(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, "print('I found nothing worth remembering.')\n")
    with pytest.raises(MalformedReply, match="not JSON"):
        ClaudeCliBackend(env=os.environ, executable=str(script)).extract(MESSAGES, project="shop")


def test_claude_cli_missing_executable_is_permanent(tmp_path: Path) -> None:
    backend = ClaudeCliBackend(env=os.environ, executable=str(tmp_path / "no-such-claude"))
    with pytest.raises(PermanentError, match="cannot run"):
        backend.extract(MESSAGES, project="shop")


def test_claude_cli_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, HANGING_CLAUDE)
    with pytest.raises(TransientError, match="no answer within 2 s"):
        ClaudeCliBackend(env=os.environ, executable=str(script), timeout=2).extract(
            MESSAGES, project="shop"
        )
    claude_pid, child_pid = pids(tmp_path)
    wait_until(lambda: gone(claude_pid) and gone(child_pid), what="claude and its child gone")


def test_claude_cli_leaves_no_background_child_behind_after_success(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, DETACHING_CLAUDE)
    backend = ClaudeCliBackend(env=os.environ, executable=str(script), timeout=60)
    # Returns on the child's exit, not when its background child closes the output.
    assert backend.extract(MESSAGES, project="shop") == []
    claude_pid, child_pid = pids(tmp_path)
    wait_until(lambda: gone(claude_pid) and gone(child_pid), what="claude and its child gone")


def test_claude_cli_keyboard_interrupt_kills_the_whole_process_group(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, HANGING_CLAUDE)
    pid_file = tmp_path / "bin" / "pids"

    def interrupt_once_started() -> None:
        wait_until(pid_file.exists, timeout=30, what="the fake claude's pid file")
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        ClaudeCliBackend(env=os.environ, executable=str(script), timeout=60).extract(
            MESSAGES, project="shop"
        )
    claude_pid, child_pid = pids(tmp_path)
    wait_until(lambda: gone(claude_pid) and gone(child_pid), what="claude and its child gone")


def test_claude_cli_cancel_kills_the_call_in_flight_and_its_group(tmp_path: Path) -> None:
    # The miner cancels from another thread when it stops: no claude may outlive the daemon.
    script = fake_claude(tmp_path, HANGING_CLAUDE)
    backend = ClaudeCliBackend(env=os.environ, executable=str(script), timeout=600)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            backend.extract(MESSAGES, project="shop")
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    wait_until((tmp_path / "bin" / "pids").exists, timeout=30, what="the fake claude's pid file")
    backend.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive() and failures
    claude_pid, child_pid = pids(tmp_path)
    wait_until(lambda: gone(claude_pid) and gone(child_pid), what="claude and its child gone")


def test_claude_cli_runs_in_the_miner_cwd_that_choose_gives_it(tmp_path: Path) -> None:
    script = fake_claude(tmp_path, "import os\nprint(os.getcwd())\n")
    config = settings(tmp_path, miner_backend="claude-cli", claude_executable=str(script))
    backend = choose(config, os.environ)
    with pytest.raises(MalformedReply, match="not JSON"):
        backend.extract(MESSAGES, project="shop")
    assert (config.state_dir / "miner-cwd").is_dir()


# -- the heuristic --------------------------------------------------------------------------


def test_heuristic_backend_is_the_offline_extractor() -> None:
    backend = HeuristicBackend()
    assert backend.extract(MESSAGES, project="shop") == heuristic(MESSAGES)
    assert [lesson.content for lesson in backend.extract(MESSAGES, project="shop")] == [
        "We use pnpm, never npm."
    ]


# -- choose and describe --------------------------------------------------------------------


def settings(tmp_path: Path, **fields: Any) -> Settings:
    return Settings(state_dir=tmp_path / "state", vault_dir=tmp_path / "vault", **fields)


@pytest.fixture
def no_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def claude_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = fake_claude(tmp_path, "print('{\"memories\": []}')\n")
    monkeypatch.setenv("PATH", str(script.parent))
    return script


def test_auto_with_an_api_key_picks_anthropic(tmp_path: Path, claude_on_path: Path) -> None:
    config = settings(tmp_path, anthropic_api_key=API_KEY)
    backend = choose(config, os.environ)
    assert isinstance(backend, AnthropicBackend)
    assert (backend.model, backend.base_url) == (DEFAULT_MODEL, "")
    assert describe(config) == f"anthropic (ANTHROPIC_API_KEY set, model {DEFAULT_MODEL})"


def test_describe_names_the_base_url_and_never_the_key(tmp_path: Path) -> None:
    config = settings(tmp_path, anthropic_api_key=API_KEY, anthropic_base_url="http://127.0.0.1:9")
    line = describe(config)
    assert line.endswith(", base URL http://127.0.0.1:9)")
    assert API_KEY not in line
    assert API_KEY not in repr(choose(config, os.environ))


def test_auto_without_a_key_picks_the_claude_cli_on_path(
    tmp_path: Path, claude_on_path: Path
) -> None:
    config = settings(tmp_path)
    backend = choose(config, os.environ)
    assert isinstance(backend, ClaudeCliBackend)
    assert (backend.executable, backend.model) == (str(claude_on_path), DEFAULT_MODEL)
    assert describe(config) == (
        f"claude-cli (no ANTHROPIC_API_KEY, claude CLI on PATH, {claude_on_path}, "
        f"model {DEFAULT_MODEL})"
    )


def test_auto_finds_the_executable_memem_claude_names(tmp_path: Path, no_claude: None) -> None:
    script = fake_claude(tmp_path, "", name="claude-beta")
    config = settings(tmp_path, claude_executable=str(script))
    backend = choose(config, os.environ)
    assert isinstance(backend, ClaudeCliBackend)
    assert backend.executable == str(script)


def test_auto_without_a_key_or_a_cli_falls_back_to_the_heuristic(
    tmp_path: Path, no_claude: None
) -> None:
    config = settings(tmp_path)
    assert isinstance(choose(config, os.environ), HeuristicBackend)
    assert describe(config) == "heuristic (no ANTHROPIC_API_KEY, no claude CLI on PATH)"


def test_a_named_backend_wins_over_auto_detection(tmp_path: Path, claude_on_path: Path) -> None:
    config = settings(tmp_path, miner_backend="heuristic", anthropic_api_key=API_KEY)
    assert isinstance(choose(config, os.environ), HeuristicBackend)
    assert describe(config) == "heuristic (MEMEM_MINER_BACKEND=heuristic)"
    config = settings(tmp_path, miner_backend="claude-cli", anthropic_api_key=API_KEY)
    assert isinstance(choose(config, os.environ), ClaudeCliBackend)
    assert describe(config).startswith("claude-cli (MEMEM_MINER_BACKEND=claude-cli, ")
    config = settings(tmp_path, miner_backend="anthropic", anthropic_api_key=API_KEY)
    assert isinstance(choose(config, os.environ), AnthropicBackend)
    assert describe(config).startswith("anthropic (MEMEM_MINER_BACKEND=anthropic, model ")


def test_named_anthropic_without_a_key_is_a_config_error(tmp_path: Path) -> None:
    config = settings(tmp_path, miner_backend="anthropic")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        choose(config, os.environ)
    assert describe(config) == (
        "anthropic (MEMEM_MINER_BACKEND=anthropic, but ANTHROPIC_API_KEY is not set: "
        "mining will fail)"
    )


def test_named_claude_cli_without_the_executable_is_a_config_error(
    tmp_path: Path, no_claude: None
) -> None:
    config = settings(tmp_path, miner_backend="claude-cli")
    with pytest.raises(ConfigError, match="MEMEM_CLAUDE"):
        choose(config, os.environ)
    assert describe(config) == (
        "claude-cli (MEMEM_MINER_BACKEND=claude-cli, but 'claude' is not on PATH: mining will fail)"
    )


def test_every_backend_satisfies_the_protocol(tmp_path: Path) -> None:
    backends: list[Backend] = [
        AnthropicBackend(api_key=API_KEY, model=DEFAULT_MODEL),
        ClaudeCliBackend(env=os.environ),
        HeuristicBackend(),
    ]
    assert [b.name for b in backends] == ["anthropic", "claude-cli", "heuristic"]
