"""Extraction backends: the I/O shell around `memem.core.extraction`, one backend per class.

    AnthropicBackend   the Messages API through the `anthropic` SDK (ANTHROPIC_API_KEY)
    ClaudeCliBackend   `claude -p` on the user's subscription, in its own process group
    HeuristicBackend   no model: `extraction.heuristic`

`choose(settings)` picks one, `describe(settings)` says which and why. Every backend raises
`TransientError` (worth retrying later; `MalformedReply` for a reply outside the contract) or
`PermanentError` (not worth it soon; unknown failures are permanent); the miner owns retries,
backoff and dead-lettering, so no backend retries.

The `anthropic` SDK is imported inside `AnthropicBackend.extract` only: importing it costs
about 1.7 s, and the hooks must never pay that.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

from memem.core.extraction import SYSTEM_PROMPT, Lesson, heuristic, parse_reply, user_prompt
from memem.core.text import clip
from memem.core.transcript import MINER_CWD, Message, render
from memem.errors import (
    ConfigError,
    ExtractionError,
    MalformedReply,
    PermanentError,
    TransientError,
)
from memem.settings import MINER_CHILD, Settings

if TYPE_CHECKING:
    import anthropic

MAX_TOKENS: Final = 4096
STDERR_TAIL: Final = 600
MAX_REPLY_BYTES: Final = 1_000_000  # a reply is ~4,096 tokens; more is not a reply
# Added to the miner's own claude runs: they must not trigger memem's hooks (recursion) nor
# phone home.
CHILD_VARIABLES: Final = {MINER_CHILD: "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


class Backend(Protocol):
    """Turns a chunk of conversation into candidate lessons. A backend may also have a
    `cancel()` method, called from another thread to abandon a call in flight when the miner
    stops (the claude CLI's kills the child's process group), and a `take_usage()` method: the
    tokens its last call used (`Usage`), once, or None (the miner's receipt)."""

    name: str

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        """The lessons in `messages`; raises `TransientError` or `PermanentError`."""
        ...


def usage(
    input: int = 0, output: int = 0, cache_write: int = 0, cache_read: int = 0, *, estimated: bool
) -> dict[str, Any]:
    """One call's tokens as the receipt stores them (memem.storage.miner_state.TOKEN_FIELDS)."""
    return {
        "input": input,
        "output": output,
        "cache_write": cache_write,
        "cache_read": cache_read,
        "estimated": estimated,
    }


def estimate(text: str) -> int:
    """Tokens in `text` when the backend reports none: about four characters a token."""
    return (len(text) + 3) // 4


# More than any one call can use: a reported count past it (a hostile proxy, a bug) is
# counted as this many, so it still trips the daily cap and never overflows the receipt.
MAX_CALL_TOKENS: Final = 10_000_000


def _tokens(value: object) -> int:
    """A reported count as a whole number in 0..MAX_CALL_TOKENS (0 for what is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return MAX_CALL_TOKENS if value > 0 else 0
    return int(min(max(value, 0), MAX_CALL_TOKENS))


class _Receipt:
    """What a backend's last call used, handed to the miner once (`take_usage`)."""

    _usage: dict[str, Any] | None = None

    def take_usage(self) -> dict[str, Any] | None:
        found, self._usage = self._usage, None
        return found


class AnthropicBackend(_Receipt):
    """The Messages API with an API key. One request per call, no SDK retries."""

    name = "anthropic"

    def __init__(
        self, *, api_key: str, model: str, base_url: str = "", timeout: float = 60.0
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None

    def _connect(self) -> Any:
        """One client per backend: building one loads the CA bundle (~35 ms) and pools
        connections, so a daemon mining many chunks pays for it once."""
        import anthropic

        if self._client is None:
            self._client = anthropic.Anthropic(
                api_key=self.api_key,
                base_url=self.base_url or None,
                max_retries=0,  # the miner retries, with backoff and a persisted budget
                timeout=self.timeout,
            )
        return self._client

    def __repr__(self) -> str:  # never the key
        return f"AnthropicBackend(model={self.model!r}, base_url={self.base_url!r})"

    def cancel(self) -> None:
        """Best effort, from another thread when the miner stops: close the client and its
        pooled connections. A read already blocked may not wake (closing a socket does not
        interrupt `recv`), which is why the miner runs the call on a daemon thread that it
        can abandon; the next call builds a new client."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # best effort: the process is exiting
                client.close()

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        """Send the chunk, read the reply's text blocks (never a tool call), `parse_reply`.

        429, 408, 5xx (529 included), a timeout and a broken connection (a reset, a body cut
        short) are transient; a 200 that is not a Messages reply or whose text breaks the
        reply contract is `MalformedReply` (transient too); any other status and any other
        failure are permanent."""
        import anthropic  # lazy: see the module docstring

        prompt = user_prompt(render(messages, numbered=True), project=project)
        self._usage = None
        try:
            reply = self._connect().messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": prompt}],
            )
        except anthropic.APIStatusError as err:
            raise _status_error(err) from err
        except anthropic.APIResponseValidationError as err:  # a 200 of the wrong shape
            raise MalformedReply(f"anthropic API sent a malformed body: {err}") from err
        except anthropic.APIConnectionError as err:  # APITimeoutError included
            kind = "timed out" if isinstance(err, anthropic.APITimeoutError) else "failed"
            raise TransientError(f"anthropic API request {kind}: {_cause(err)}") from err
        except json.JSONDecodeError as err:  # a 200 whose body is not JSON
            raise MalformedReply(f"anthropic API sent a malformed body: {err}") from err
        except RecursionError as err:  # a 200 body nested deeper than the JSON parser goes
            raise MalformedReply("anthropic API sent a body nested too deeply") from err
        except Exception as err:
            # The SDK is a third party: whatever else it raises is unknown, so permanent.
            raise PermanentError(f"anthropic API call failed: {type(err).__name__}: {err}") from err
        # Read before the reply is: a malformed answer was paid for too.
        spent = getattr(reply, "usage", None)
        fields = ("input_tokens", "output_tokens", "cache_creation_input_tokens")
        counts = [_tokens(getattr(spent, f, 0)) for f in (*fields, "cache_read_input_tokens")]
        if not any(counts):  # a proxy that drops (or zeroes) the usage: the prompt, estimated
            self._usage = usage(estimate(SYSTEM_PROMPT + prompt), estimated=True)
        else:
            self._usage = usage(*counts, estimated=False)
        return _read(reply)


class ClaudeCliBackend(_Receipt):
    """`claude -p` (headless Claude Code) with the prompt on stdin, on the user's own login.

    The transcript is untrusted text, so the child gets no tools (`--tools ""`) and no MCP
    servers (`--strict-mcp-config` without a config): it can only answer. It runs in its own
    process group, in the environment `env` plus `CHILD_VARIABLES` (`MEMEM_MINER_CHILD=1`,
    which memem's hooks and daemon obey by exiting at once). The whole group is killed when
    the call ends, however it ends (success, timeout, failure, KeyboardInterrupt): claude's
    hooks must not outlive it."""

    name = "claude-cli"

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        executable: str = "claude",
        model: str = "haiku",
        timeout: float = 180.0,
        cwd: Path | None = None,
    ) -> None:
        self.env = {**env, **CHILD_VARIABLES}
        self.executable = executable
        self.model = model
        self.timeout = timeout
        # `<state>/miner-cwd`: Claude Code files the child's session under a project folder
        # named after it, which the miner knows is its own and never mines (memem.core.transcript).
        self.cwd = cwd
        self._running: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"ClaudeCliBackend(executable={self.executable!r}, model={self.model!r})"

    def cancel(self) -> None:
        """Abandon a call in flight (from another thread, when the miner stops): kill the
        child's process group, so no claude outlives memem."""
        process = self._running
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        """Run claude once. A timeout is transient; a non-zero exit is permanent, with the tail
        of stderr; stdout is the reply, read by `parse_reply`."""
        prompt = (
            f"{SYSTEM_PROMPT}\n\n{user_prompt(render(messages, numbered=True), project=project)}"
        )
        self._usage = None
        argv = [self.executable, "-p", "--model", self.model, "--output-format", "text"]
        argv += ["--tools", "", "--strict-mcp-config"]
        # Files, not pipes: a grandchild that inherits stdout (a hook starting something in
        # the background) would hold a pipe open and turn a finished run into a timeout.
        with (
            tempfile.TemporaryFile() as stdin,
            tempfile.TemporaryFile() as stdout,
            tempfile.TemporaryFile() as stderr,
        ):
            stdin.write(prompt.encode("utf-8"))
            stdin.seek(0)
            try:
                if self.cwd is not None:
                    self.cwd.mkdir(mode=0o700, parents=True, exist_ok=True)
                process = subprocess.Popen(
                    argv,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as err:
                raise PermanentError(f"cannot run {self.executable!r}: {err}") from err
            self._running = process
            try:
                returncode = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise TransientError(
                    f"claude CLI gave no answer within {self.timeout:g} s; killed"
                ) from None
            finally:
                self._running = None
                _kill_group(process)
            if returncode != 0:
                tail = _tail(stderr) or "(no stderr)"
                raise PermanentError(f"claude CLI exited with {returncode}: {tail}")
            stdout.seek(0)
            reply = stdout.read(MAX_REPLY_BYTES).decode("utf-8", "replace")
        # `--output-format text` reports no usage: the receipt says it is an estimate.
        self._usage = usage(estimate(prompt), estimate(reply), estimated=True)
        return parse_reply(reply)


class HeuristicBackend:
    """No model, no network: explicit statements, corrections and error-then-fix pairs."""

    name = "heuristic"

    def __repr__(self) -> str:
        return "HeuristicBackend()"

    def extract(self, messages: Sequence[Message], *, project: str) -> list[Lesson]:
        return heuristic(messages)


# A Haiku extraction answers in seconds; past this the API is treated as down (transient).
API_TIMEOUT: Final = 45.0


def choose(settings: Settings, env: Mapping[str, str]) -> Backend:
    """The backend `settings.miner_backend` names; "auto" picks the Anthropic API when a key is
    set, else the claude CLI when it is on PATH, else the heuristic. `env` is the environment
    the claude CLI runs in (the entry point's, which this module never reads). Raises
    `ConfigError` when the named backend cannot work (no key, no executable): failing every
    chunk instead would dead-letter transcripts that a fixed setting could still mine."""
    kind, _ = _pick(settings)
    if kind == "anthropic":
        if not settings.anthropic_api_key:
            raise ConfigError("MEMEM_MINER_BACKEND=anthropic needs ANTHROPIC_API_KEY")
        return AnthropicBackend(
            api_key=settings.anthropic_api_key,
            model=settings.miner_model,
            base_url=settings.anthropic_base_url,
            timeout=API_TIMEOUT,
        )
    if kind == "claude-cli":
        executable = shutil.which(settings.claude_executable)
        if executable is None:
            raise ConfigError(
                f"MEMEM_MINER_BACKEND=claude-cli but {settings.claude_executable!r} "
                "is not an executable on PATH (set MEMEM_CLAUDE)"
            )
        return ClaudeCliBackend(
            env=env,
            executable=executable,
            model=settings.miner_model,
            cwd=settings.state_dir / MINER_CWD,
        )
    return HeuristicBackend()


def describe(settings: Settings) -> str:
    """One line for status and doctor: the backend `choose` returns and why. Never raises and
    never shows the API key."""
    kind, reason = _pick(settings)
    model = f"model {settings.miner_model}"
    if kind == "anthropic":
        if not settings.anthropic_api_key:
            return f"anthropic ({reason}, but ANTHROPIC_API_KEY is not set: mining will fail)"
        base = f", base URL {settings.anthropic_base_url}" if settings.anthropic_base_url else ""
        return f"anthropic ({reason}, {model}{base})"
    if kind == "claude-cli":
        executable = shutil.which(settings.claude_executable)
        if executable is None:
            return (
                f"claude-cli ({reason}, but {settings.claude_executable!r} is not on PATH: "
                "mining will fail)"
            )
        return f"claude-cli ({reason}, {executable}, {model})"
    return f"heuristic ({reason})"


def _pick(settings: Settings) -> tuple[str, str]:
    """The backend kind and the reason it was picked."""
    forced = settings.miner_backend
    if forced in ("anthropic", "claude-cli", "heuristic"):
        return forced, f"MEMEM_MINER_BACKEND={forced}"
    if settings.anthropic_api_key:
        return "anthropic", "ANTHROPIC_API_KEY set"
    if shutil.which(settings.claude_executable):
        return "claude-cli", "no ANTHROPIC_API_KEY, claude CLI on PATH"
    return "heuristic", "no ANTHROPIC_API_KEY, no claude CLI on PATH"


# -- the Anthropic API ----------------------------------------------------------------------


def _read(reply: object) -> list[Lesson]:
    """The lessons in a Messages reply: its text blocks joined, then `parse_reply`."""
    content = getattr(reply, "content", None)
    if not isinstance(content, list):
        raise MalformedReply("anthropic API reply has no content list (a malformed body)")
    text = "".join(
        block.text
        for block in content
        if getattr(block, "type", None) == "text" and isinstance(getattr(block, "text", None), str)
    )
    stop = getattr(reply, "stop_reason", None)
    if not text.strip():
        raise MalformedReply(f"anthropic API reply has no text (stop_reason {stop!r})")
    try:
        return parse_reply(text)
    except MalformedReply as err:
        if stop == "max_tokens":
            raise MalformedReply(f"{err} (the reply hit max_tokens={MAX_TOKENS})") from err
        raise


def _status_error(err: anthropic.APIStatusError) -> ExtractionError:
    status = err.status_code
    message = f"anthropic API answered {status}: {_api_message(err.body) or err.message}"
    if status == 429:
        return TransientError(message, retry_after=_retry_after(err.response.headers))
    if status == 408 or status >= 500:  # 529 "overloaded" included
        return TransientError(message, retry_after=_retry_after(err.response.headers))
    return PermanentError(message)


def _api_message(body: object) -> str:
    """`error.type: error.message` from Anthropic's error shape, or ""."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [str(error[k]) for k in ("type", "message") if error.get(k)]
    return ": ".join(parts)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's hint in seconds: `retry-after-ms`, or `retry-after` as seconds or an
    HTTP date. None when absent or unreadable."""
    with contextlib.suppress(ValueError, TypeError):
        if (ms := headers.get("retry-after-ms")) and math.isfinite(seconds := float(ms) / 1000):
            return max(0.0, seconds)
    value = headers.get("retry-after")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    with contextlib.suppress(ValueError, TypeError, IndexError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


def _cause(err: BaseException) -> str:
    """The innermost cause: "Connection error." says less than the reset that caused it."""
    inner: BaseException = err
    while inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner) or type(inner).__name__
    return text if inner is err else f"{type(inner).__name__}: {text}"


# -- the claude CLI -------------------------------------------------------------------------


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (the child, and whatever it started that is still
    in the group), then reap the child. Idempotent; never raises."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # start_new_session made the child a group leader: its pid is the group id, and a pid
        # is not reused while a group of that id still has members.
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _tail(stream: IO[bytes]) -> str:
    """The last `STDERR_TAIL` characters written to `stream`, stripped."""
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - 4 * STDERR_TAIL))
    return clip(stream.read().decode("utf-8", "replace"), STDERR_TAIL, one_line=False, tail=True)
