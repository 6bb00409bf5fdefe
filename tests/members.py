"""People and machines for the sync tests: each `Member` is a separate HOME, state dir, vault
and git identity, driving the real CLI (`python -m memem ...`) and real git in subprocesses.

    alice = Member(tmp_path, "alice")
    alice.memem("save", "We deploy from main", cwd=alice.clone(origin, "shop"))
    alice.ok("sync")          # stdout of a command that must succeed; .json(..., "--json")
    alice.ids()               # the ids `memem list` shows
    alice.memories()          # {id: Memory} parsed from the vault's files
    alice.edit(memory_id, lambda text: text + "more")   # an edit made in Obsidian

Every git subprocess gets HOME in the member's dir, GIT_CONFIG_NOSYSTEM=1 and
GIT_CONFIG_GLOBAL pointing at the member's own config file, so the real ~/.gitconfig is never
read or written. The environment is built from scratch (not inherited) apart from PATH, so
nothing of the caller's MEMEM_*/GIT_* leaks in; MEMEM_ENGINE=off keeps every command
in-process (no engine outlives a test).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memem.core.markdown import parse
from memem.core.memory import Memory
from tests.conftest import ROOT
from tests.gitrepos import TIMEOUT, git, git_env


class Member:
    """One person on one machine."""

    def __init__(self, root: Path, name: str, **env: str) -> None:
        self.name = name
        self.dir = root / name
        self.home = self.dir / "home"
        self.state = self.dir / "state"
        self.vault = self.dir / "vault"
        self.work = self.dir / "work"
        for path in (self.home, self.work):
            path.mkdir(parents=True, exist_ok=True)
        self.gitconfig = self.dir / "gitconfig"
        self.gitconfig.write_text(
            f"[user]\n\tname = {name}\n\temail = {name}@example.com\n"
            "[init]\n\tdefaultBranch = main\n",
            encoding="utf-8",
        )
        self.env = {
            **git_env(self.home, self.gitconfig),
            "MEMEM_DIR": str(self.state),
            "MEMEM_OBSIDIAN_VAULT": str(self.vault),
            "MEMEM_ENGINE": "off",
            "PYTHONPATH": str(ROOT),
            **env,
        }

    @property
    def memories_dir(self) -> Path:
        return self.vault / "memem" / "memories"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return git(*args, cwd=cwd, env=self.env)

    def memem(
        self,
        *args: str,
        cwd: Path | None = None,
        stdin: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`python -m memem ARGS` as this member runs it (in `cwd`, default the home)."""
        done = subprocess.run(
            [sys.executable, "-m", "memem", *args],
            cwd=cwd or self.home,
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{self.name}: memem {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        """`memem ARGS`, which must succeed without a traceback: its stdout."""
        done = self.memem(*args, cwd=cwd)
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        """`python -m memem ARGS` started, not waited for (`finish` collects it)."""
        return subprocess.Popen(
            [sys.executable, "-m", "memem", *args],
            cwd=cwd or self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def save(self, text: str, *args: str, cwd: Path | None = None) -> str:
        """`memem save TEXT ARGS` in `cwd`; the new memory's id (the output's last word)."""
        return self.memem("save", text, *args, cwd=cwd).stdout.split()[-1]

    def json(self, *args: str, cwd: Path | None = None) -> Any:
        return json.loads(self.memem(*args, cwd=cwd).stdout)

    def channels(self) -> list[dict[str, Any]]:
        """`memem sync status --json`: one object per channel."""
        found = self.json("sync", "status", "--json")
        assert isinstance(found, list), found
        return found

    def channel(self, name: str) -> dict[str, Any]:
        (found,) = [c for c in self.channels() if c["name"] == name]
        return found

    def ids(self, project: str | None = None) -> set[str]:
        """The ids of the active memories searchable here (of `project`, or all)."""
        listing = self.json(
            "list", "--recent", "1000", "--json", *(["--project", project] if project else [])
        )
        return {m["id"] for p in listing for m in p.get("recent", [])}

    def clone(self, remote: Path | str, folder: str) -> Path:
        """A checkout of `remote` in this member's work dir, named `folder`."""
        target = self.work / folder
        self.git("clone", "--quiet", str(remote), str(target))
        return target

    # -- the vault as files ------------------------------------------------------------------

    def files(self) -> dict[str, Path]:
        """{memory id: file} of every memory file in the vault."""
        found: dict[str, Path] = {}
        if not self.memories_dir.is_dir():
            return found
        for path in sorted(self.memories_dir.glob("*.md")):
            found[self.read(path).id] = path
        return found

    def file_of(self, memory_id: str) -> Path | None:
        """The vault file whose frontmatter carries `memory_id`, or None (found by its text,
        so a file that does not parse is found too)."""
        folder = self.memories_dir
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            text = path.read_text(encoding="utf-8")
            if any(f"\nid: {v}\n" in text for v in (memory_id, f'"{memory_id}"')):
                return path
        return None

    def read(self, path: Path) -> Memory:
        return parse(
            path.read_text(encoding="utf-8"),
            fallback_id=path.stem,
            fallback_time=datetime(2000, 1, 1, tzinfo=UTC),
            fallback_title=path.stem,
        )

    def memories(self) -> dict[str, Memory]:
        return {memory_id: self.read(path) for memory_id, path in self.files().items()}

    def text(self, memory_id: str) -> str:
        return self.files()[memory_id].read_text(encoding="utf-8")

    def edit(self, memory_id: str, change: Callable[[str], str]) -> Path:
        """Change a memory's file in place, as Obsidian saves an edit (no temp file, no
        rename, frontmatter untouched unless `change` touches it)."""
        path = self.files()[memory_id]
        text = path.read_text(encoding="utf-8")
        with open(path, "w", encoding="utf-8") as out:
            out.write(change(text))
        return path

    def write_new(self, name: str, text: str) -> Path:
        """A memory file created by hand in the vault."""
        self.memories_dir.mkdir(parents=True, exist_ok=True)
        path = self.memories_dir / name
        path.write_text(text, encoding="utf-8")
        return path


def body(old: str, new: str) -> Callable[[str], str]:
    """An edit that replaces `old` with `new` in the body (after the frontmatter)."""

    def change(file_text: str) -> str:
        head, sep, rest = file_text.partition("\n---\n")
        assert old in rest, f"{old!r} is not in the body"
        return head + sep + rest.replace(old, new, 1)

    return change


def plant(
    remote: Path, files: Mapping[str, str], *, author: str, work: Path, env: Mapping[str, str]
) -> None:
    """Commit `files` ({path in the repository: text}) onto the remote's `memem` branch as
    `author`, with plain git: what someone with push access can always do."""
    checkout = work / f"plant-{author}"
    environ = {
        **env,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author}@example.com",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": f"{author}@example.com",
    }
    git("clone", "--quiet", "--branch", "memem", str(remote), str(checkout), env=environ)
    for name, text in files.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(text, encoding="utf-8")
        git("add", name, cwd=checkout, env=environ)
    git("commit", "--quiet", "-m", f"{author} adds {len(files)} files", cwd=checkout, env=environ)
    git("push", "--quiet", "origin", "memem", cwd=checkout, env=environ)
