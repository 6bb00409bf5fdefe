"""The engine as users run it: real `memem daemon run` processes on a real socket, real hook
and CLI processes as clients; the engine up, down, stopped, killed mid-request, restarted
with new code, raced for its lock, reached by another user (tests/test_engine_lifecycle.py:
ensure, status, SIGTERM, the state dir gone)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memem import Store
from memem.engine import client, protocol, server
from tests.conftest import ROOT
from tests.engine_helpers import Engines, answers, engine_env, heartbeat, hook
from tests.waiting import wait_until

NOBODY = 65534
OTHER_PYTHON = "/usr/bin/python3"  # the venv's interpreter lives under /root, closed to nobody


@pytest.fixture
def env(isolated: Path) -> dict[str, str]:
    return engine_env()


@pytest.fixture
def project(tmp_path: Path, store: Store) -> Path:
    root = tmp_path / "work" / "shop"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    store.save("The shop project is a Django 5 web store with Postgres.", project="shop")
    store.save("Deploys go through Fly.io from main, never from a feature branch.", project="shop")
    store.save(
        "The checkout test was flaky because it called Stripe; use the fake gateway.",
        project="shop",
    )
    store.save("Blog posts are written in Markdown with Hugo.", project="blog")
    return root


PROMPT = "Why is the checkout test flaky with Stripe?"
IGNORED = shutil.ignore_patterns("*.pyc", "__pycache__")


def in_process(event: str, project: Path, env: dict[str, str], **payload: object) -> str:
    done = hook(event, {**env, "MEMEM_ENGINE": "off"}, project, **payload)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def write_memory(vault: Path, memory_id: str, text: str, project: str = "shop") -> Path:
    """A memory file written straight into the vault, as Obsidian or a sync tool would."""
    path = vault / "memem" / "memories" / f"{memory_id}.md"
    path.write_text(
        f'---\nid: "{memory_id}"\nschema_version: 1\ntitle: {text}\nproject: {project}\n'
        "tags: []\nlayer: 2\nimportance: 3\nstatus: active\nsource_type: user\n"
        "source_session: null\ncreated: 2026-12-01T10:00:00Z\nupdated: 2026-12-01T10:00:00Z\n"
        f"valid_to: null\nrelated: []\ncontradicts: []\n---\n\n{text}\n",
        encoding="utf-8",
    )
    return path


# -- the engine answers hooks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "payload"),
    [("SessionStart", {"source": "startup"}), ("UserPromptSubmit", {"prompt": PROMPT})],
)
def test_the_engine_answers_a_hook_exactly_as_the_in_process_hook_does(
    env: dict[str, str], project: Path, engines: Engines, event: str, payload: dict[str, str]
) -> None:
    expected = in_process(event, project, env, session_id="s-local", **payload)
    assert "<memem-memory>" in expected
    engines.start(env)
    before = engines.ready(env)["requests"]
    done = hook(event, env, project, session_id="s-engine", **payload)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", expected)
    assert engines.ready(env)["requests"] == before + 2  # the hook's and this status request


def test_with_no_engine_the_hook_answers_in_process_and_starts_one(
    env: dict[str, str], project: Path, engines: Engines
) -> None:
    expected = in_process("UserPromptSubmit", project, env, session_id="s-1", prompt=PROMPT)
    engines.watch(env)
    assert answers(env) is None
    done = hook("UserPromptSubmit", env, project, session_id="s-2", prompt=PROMPT)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", expected)
    status = engines.ready(env)  # started in the background by that hook
    assert status["pid"] != os.getpid() and status["ready"] is True


def test_a_stale_socket_file_is_not_waited_for_and_the_next_engine_replaces_it(
    env: dict[str, str], project: Path, engines: Engines
) -> None:
    path = protocol.socket_path(str(Path(env["MEMEM_DIR"])))
    os.makedirs(os.path.dirname(path), mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a killed engine leaves
    with pytest.raises(client.Unavailable, match="did not answer"):
        client.call(env, env["MEMEM_DIR"], "status")
    expected = in_process("UserPromptSubmit", project, env, session_id="s-1", prompt=PROMPT)
    engines.watch(env)
    done = hook("UserPromptSubmit", env, project, session_id="s-2", prompt=PROMPT)
    assert done.stdout == expected
    assert engines.ready(env)["socket"] == path


def test_a_socket_another_user_could_reach_or_own_is_not_used(
    env: dict[str, str], project: Path, engines: Engines
) -> None:
    engines.start(env)
    path = protocol.socket_path(env["MEMEM_DIR"])
    directory = os.path.dirname(path)
    expected = in_process("UserPromptSubmit", project, env, session_id="s-1", prompt=PROMPT)
    os.chmod(directory, 0o755)
    with pytest.raises(client.Unavailable, match="open to other users"):
        client.call(env, env["MEMEM_DIR"], "status")
    done = hook("UserPromptSubmit", env, project, session_id="s-2", prompt=PROMPT)
    assert done.stdout == expected  # answered in-process
    os.chmod(directory, 0o700)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(client.Unavailable, match="not this user's engine socket"):
        client.call(env, env["MEMEM_DIR"], "status")
    os.chown(path, os.getuid(), os.getgid())
    assert answers(env) is not None


# -- killed, stopped, restarted --------------------------------------------------------------


def test_an_engine_killed_mid_request_loses_nothing_and_the_next_one_takes_over(
    env: dict[str, str], project: Path, engines: Engines, tmp_path: Path
) -> None:
    first = engines.start(env)
    saved = client.call(
        env, env["MEMEM_DIR"], "save", {"content": "Invoices are numbered per fiscal year."}
    )
    assert saved["outcome"] == "created"
    expected = in_process("UserPromptSubmit", project, env, session_id="s-1", prompt=PROMPT)
    os.kill(first.pid, signal.SIGSTOP)  # hung: accepts into its backlog, never answers
    in_flight: list[BaseException] = []

    def ask() -> None:
        try:
            client.call(env, env["MEMEM_DIR"], "status", timeout=60)
        except BaseException as exc:
            in_flight.append(exc)

    asking = threading.Thread(target=ask)
    asking.start()
    # The hook's client gives up at its deadline and answers in-process.
    done = hook("UserPromptSubmit", env, project, session_id="s-2", prompt=PROMPT)
    assert (done.returncode, done.stdout) == (0, expected)
    os.kill(first.pid, signal.SIGKILL)
    asking.join(timeout=60)
    assert len(in_flight) == 1 and isinstance(in_flight[0], client.Unavailable)
    assert first.wait(timeout=30) == -signal.SIGKILL
    socket_file = Path(protocol.socket_path(env["MEMEM_DIR"]))
    assert socket_file.is_socket()  # left behind, with the lock file

    second = engines.start(env)
    assert engines.ready(env)["pid"] == second.pid
    hits = client.call(env, env["MEMEM_DIR"], "search", {"query": "invoices fiscal year"})
    assert [h["id"] for h in hits] == [saved["memory"]["id"]]
    memories = tmp_path / "vault" / "memem" / "memories"
    assert len(list(memories.glob(f"*-{saved['memory']['id'][:8]}.md"))) == 1
    done = hook("UserPromptSubmit", env, project, session_id="s-3", prompt=PROMPT)
    assert done.stdout == expected


def test_new_code_on_disk_restarts_the_engine_on_the_next_request(
    env: dict[str, str], project: Path, engines: Engines, tmp_path: Path
) -> None:
    installed = tmp_path / "plugin"
    shutil.copytree(ROOT / "memem", installed / "memem", ignore=IGNORED)
    plugin = {**env, "PYTHONPATH": str(installed)}
    expected = in_process("UserPromptSubmit", project, plugin, session_id="s-1", prompt=PROMPT)
    old = engines.start(plugin, cwd=installed)
    old_version = engines.ready(plugin)["version"]
    assert old_version == protocol.code_digest(str(installed / "memem"))
    # A client of another install (this process) works in-process; the engine stays.
    with pytest.raises(client.Unavailable, match="version"):
        client.call(env, env["MEMEM_DIR"], "status")
    assert engines.ready(plugin)["pid"] == old.pid

    with open(installed / "memem" / "engine" / "watch.py", "a", encoding="utf-8") as module:
        module.write("\n# the plugin was updated\n")
    new_version = protocol.code_digest(str(installed / "memem"))
    done = hook("UserPromptSubmit", plugin, project, session_id="s-2", prompt=PROMPT)
    assert (done.returncode, done.stdout) == (0, expected)  # answered in-process meanwhile
    assert old.wait(timeout=60) == 0
    # That hook started an engine with the new code; no other request was needed.
    wait_until(
        lambda: heartbeat(plugin).get("version") == new_version and heartbeat(plugin).get("socket"),
        timeout=60,
        what="an engine with the new code",
    )
    new_pid = int(heartbeat(plugin)["pid"])
    assert new_pid != old.pid
    done = hook("UserPromptSubmit", plugin, project, session_id="s-3", prompt=PROMPT)
    assert done.stdout == expected
    assert engines.ready(plugin, new_pid)["version"] == new_version


def test_a_plugin_update_in_a_new_folder_replaces_the_engine_and_the_old_install_does_not(
    env: dict[str, str], project: Path, engines: Engines, tmp_path: Path
) -> None:
    versions = {}
    for name in ("1.0", "1.1"):
        shutil.copytree(ROOT / "memem", tmp_path / name / "memem", ignore=IGNORED)
        versions[name] = {**env, "PYTHONPATH": str(tmp_path / name)}
    old_code = protocol.code_digest(str(tmp_path / "1.0" / "memem"))
    later = protocol.code_time(old_code) + 10**9
    os.utime(tmp_path / "1.1" / "memem" / "hook.py", ns=(later, later))  # installed later
    new_code = protocol.code_digest(str(tmp_path / "1.1" / "memem"))
    expected = in_process("UserPromptSubmit", project, env, session_id="s-1", prompt=PROMPT)
    old = engines.start(versions["1.0"], cwd=tmp_path / "1.0")

    done = hook("UserPromptSubmit", versions["1.1"], project, session_id="s-2", prompt=PROMPT)
    assert done.stdout == expected  # answered in-process while the engines change over
    assert old.wait(timeout=60) == 0
    wait_until(
        lambda: heartbeat(env).get("version") == new_code and heartbeat(env).get("socket"),
        timeout=60,
        what="an engine of the new install",
    )
    new_pid = int(heartbeat(env)["pid"])
    # The old install's files are still there: its clients work in-process, the new engine stays.
    done = hook("UserPromptSubmit", versions["1.0"], project, session_id="s-3", prompt=PROMPT)
    assert done.stdout == expected
    assert engines.ready(versions["1.1"], new_pid)["version"] == new_code
    assert heartbeat(env)["state"] == "running"


def test_two_engines_racing_for_the_lock_one_serves_the_other_exits_3(
    env: dict[str, str], engines: Engines
) -> None:
    racers = [engines.spawn(env), engines.spawn(env)]
    wait_until(
        lambda: any(r.poll() is not None for r in racers), timeout=60, what="one racer exiting"
    )
    loser = next(r for r in racers if r.poll() is not None)
    winner = next(r for r in racers if r is not loser)
    _, err = loser.communicate(timeout=30)
    assert loser.returncode == 3
    assert "a daemon is already running" in err
    assert engines.ready(env)["pid"] == winner.pid
    assert winner.poll() is None


# -- another user ----------------------------------------------------------------------------

RAW_CLIENT = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(sys.argv[1])
except OSError as exc:
    print("connect failed:", type(exc).__name__)
    raise SystemExit(0)
data = b""
try:
    sock.sendall(sys.argv[2].encode() + b"\\n")
    sock.shutdown(socket.SHUT_WR)
    while chunk := sock.recv(65536):
        data += chunk
except OSError:
    pass  # the engine hung up on us
print("answer:", repr(data))
"""


def as_nobody(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [OTHER_PYTHON, "-I", *args] if env is None else [OTHER_PYTHON, *args],
        capture_output=True,
        text=True,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env=env or {"PATH": "/usr/bin:/bin"},
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def shared_state(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state dir another user can traverse (pytest's tmp dirs are closed to them)."""
    state = Path(tempfile.mkdtemp(prefix="memem-engine-test-", dir="/tmp"))
    monkeypatch.setenv("MEMEM_DIR", str(state))
    yield state
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0 or not os.path.exists(OTHER_PYTHON), reason="needs root")
def test_another_user_gets_no_answer_from_the_engine(shared_state: Path, engines: Engines) -> None:
    env = engine_env()
    engines.start(env)
    path = protocol.socket_path(str(shared_state))
    request = protocol.request_header("status", {}, protocol.code_digest()).decode().strip()
    # As the engine made it: a 0700 directory keeps the other user from the socket.
    assert as_nobody("-c", RAW_CLIENT, path, request) == "connect failed: PermissionError\n"
    # Even with the directory and the socket opened up, the engine checks the peer's uid.
    os.chmod(shared_state, 0o711)
    os.chmod(os.path.dirname(path), 0o711)
    os.chmod(path, 0o666)
    assert as_nobody("-c", RAW_CLIENT, path, request) == "answer: b''\n"
    # memem's own client, run by the other user, does not trust a socket that is not theirs.
    probe = (
        "from memem.engine import client\n"
        "try:\n"
        f"    client.call({{}}, {str(shared_state)!r}, 'status')\n"
        "except client.Unavailable as exc:\n"
        "    print('unavailable:', exc)\n"
    )
    out = as_nobody("-c", probe, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert out.startswith("unavailable:") and "not this user's engine socket" in out
    os.chmod(os.path.dirname(path), 0o700)
    assert answers(env) is not None  # its owner still gets answers


def test_peer_uid_is_the_uid_of_the_process_at_the_other_end() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert server.peer_uid(left) == os.getuid()
        assert server.peer_uid(right) == os.getuid()


# -- the vault watched -----------------------------------------------------------------------


def test_a_memory_written_into_the_vault_reaches_the_next_hook_and_search_without_a_command(
    env: dict[str, str], project: Path, engines: Engines, tmp_path: Path
) -> None:
    engines.start(env)
    write_memory(
        tmp_path / "vault",
        "0f0e0d0c0b0a09080706050403020100",
        "The zanzibar payment service is deployed with the blue green script.",
    )

    def found() -> bool:
        hits = client.call(env, env["MEMEM_DIR"], "search", {"query": "zanzibar"})
        return [h["id"] for h in hits] == ["0f0e0d0c0b0a09080706050403020100"]

    wait_until(found, timeout=30, what="the edited vault in the engine's index")
    done = hook(
        "UserPromptSubmit",
        env,
        project,
        session_id="s-1",
        prompt="How is the zanzibar payment service deployed?",
    )
    assert "zanzibar payment service is deployed" in done.stdout
    before = engines.ready(env)["requests"]
    cli = subprocess.run(
        [sys.executable, "-m", "memem", "search", "zanzibar"],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=60,
    )
    assert cli.returncode == 0 and "zanzibar payment service" in cli.stdout
    assert engines.ready(env)["requests"] == before + 2  # the search ran in the engine


def test_a_malformed_or_oversized_request_is_answered_invalid_and_the_engine_serves_on(
    env: dict[str, str], engines: Engines
) -> None:
    engines.start(env)
    path = protocol.socket_path(env["MEMEM_DIR"])

    def raw(data: bytes) -> bytes:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(path)
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except BrokenPipeError:  # the engine stopped reading an oversized request
                pass
            head = b""
            while b"\n" not in head and (chunk := sock.recv(65536)):
                head += chunk
        return head.partition(b"\n")[0]

    assert raw(b"no header line").startswith(b'{"ok":false,"error":"invalid"')
    oversized = b"x" * (protocol.MAX_HEADER + protocol.MAX_BODY + 1)
    assert raw(oversized).startswith(b'{"ok":false,"error":"invalid"')
    assert raw(b"\xff\xfe\n").startswith(b'{"ok":false,"error":"invalid"')
    assert answers(env) is not None  # and it still answers a well-formed one
