"""Git, the one place memem runs it: plumbing on a bare repository of the state dir.

Sync keeps each channel's git data in `<state>/sync/<name>.git`, a bare repository with no
working tree, and works it with plumbing only: `ls-remote`, `fetch`, `ls-tree`,
`cat-file --batch`, `hash-object -w`, a temp `GIT_INDEX_FILE` with `update-index
--index-info` + `write-tree` + `commit-tree`, and `push <commit>:refs/heads/memem`.

Every git runs as a list of arguments (no shell), niced (a sync in the engine must not slow
the prompt hook), in its own session with stdin closed and `GIT_TERMINAL_PROMPT=0` (nothing
can stop to ask for a password: a credential helper or an ssh agent answers, or git fails),
`LC_ALL=C` (messages to classify), ssh in BatchMode unless the user set their own ssh command
(`GIT_SSH_COMMAND` in the environment or `core.sshCommand` in their config win over ours),
and a timeout. The variables are added with `env`, so that this module never reads the
environment. A failure is a `GitError` whose message is one line with any URL's userinfo
removed: credentials are git's own and never logged, shown or stored by memem.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from memem.errors import SyncError

log = logging.getLogger("memem.storage.git")

BRANCH: Final = "memem"
REMOTE_REF: Final = "refs/remotes/origin/memem"
NETWORK_TIMEOUT: Final = 120.0
NICENESS: Final = 10
FALLBACK_NAME: Final = "memem"
FALLBACK_EMAIL: Final = "memem@localhost"
EMPTY_SHA: Final = "0" * 40
# The largest file taken from a remote (a memory file's own limit, `vault.MAX_FILE_BYTES`).
MAX_BLOB_BYTES: Final = 1024 * 1024
_URL_USERINFO: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_SCP_USERINFO: Final = re.compile(r"^[^/@:\s]+@(?=[^/:\s]+:)")
_ENV: Final = ("GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANGUAGE=C", "GIT_PAGER=cat")
# What a git hook or an editor's git integration may have set for its own repository: memem
# runs in one (a Claude Code session started from a hook, say) and must work on its own.
_UNSET: Final = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
)


class GitError(SyncError):
    """A git command failed. `unreachable`: the remote did not answer (or refused us)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def shown_url(url: str) -> str:
    """`url` as memem shows and logs it: any userinfo (`user:token@`) removed."""
    return _SCP_USERINFO.sub("", _URL_USERINFO.sub(r"\1", url))


def credentials_in(url: str) -> str:
    """Why `url` cannot be stored ("" when it can): it carries a password or a token."""
    if "://" not in url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL git can use"
    if parts.password is not None:
        return "the URL carries a password or token; use git's credential helper or ssh instead"
    user = parts.username or ""
    if user and parts.scheme in ("http", "https", "ftp", "ftps") and len(user) >= 20:
        # A long user name on http(s) is how tokens are pasted (`https://ghp_...@github.com`).
        return "the URL carries a token; use git's credential helper or ssh instead"
    return ""


def _one_line(stderr: bytes, fallback: str) -> str:
    """The line of git's stderr that says what went wrong, without credentials."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    pick = next((ln for ln in lines if ln.startswith("fatal:")), None)
    pick = pick or next((ln for ln in reversed(lines) if ln.startswith("error:")), None)
    pick = pick or (lines[-1] if lines else fallback)
    return shown_url(pick)[:300]


class Git:
    """The bare repository `git_dir`, worked with plumbing."""

    _ssh_command: str | None = None  # the user's core.sshCommand, looked up once per process

    def __init__(self, git_dir: Path, *, timeout: float = NETWORK_TIMEOUT) -> None:
        self.git_dir = git_dir
        self.timeout = timeout
        self._identity: tuple[str, str] | None = None

    # -- running -------------------------------------------------------------------------------

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        config: Sequence[str] = (),
        unreachable: bool = False,
    ) -> bytes:
        """git's stdout; GitError (one line) when it fails or outlives the timeout."""
        code, out, err = self.spawn(*args, input=input, env=env, config=config)
        if code != 0:
            reason = _one_line(err, f"git {args[0]} exited with {code}")
            raise GitError(reason, unreachable=unreachable)
        return out

    def spawn(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        config: Sequence[str] = (),
    ) -> tuple[int, bytes, bytes]:
        """Run git: its exit code, stdout and stderr; GitError when it cannot be started or
        outlives the timeout (it is killed with its children then)."""
        cmd = ["nice", "-n", str(NICENESS), "env"]
        for name in _UNSET:
            cmd += ["-u", name]
        cmd += _ENV
        cmd += [f"{k}={v}" for k, v in (env or {}).items()]
        cmd += ["git", f"--git-dir={self.git_dir}"]
        for item in config:
            cmd += ["-c", item]
        cmd += args
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # no terminal to prompt on; killed as a group
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(input, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise GitError(
                f"git {args[0]} timed out after {self.timeout:.0f} s", unreachable=True
            ) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return proc.returncode, out, err

    def _network_config(self) -> list[str]:
        if Git._ssh_command is None:
            try:
                Git._ssh_command = self.run("config", "--get", "core.sshCommand").decode().strip()
            except GitError:
                Git._ssh_command = ""
        return [] if Git._ssh_command else ["core.sshCommand=ssh -o BatchMode=yes"]

    # -- the repository ------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.git_dir / "HEAD").is_file() and (self.git_dir / "objects").is_dir()

    def init(self) -> None:
        self.git_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.run("init", "--quiet", "--bare", str(self.git_dir))
        # No automatic gc: it would block a sync for seconds at a time; `pack` does it when
        # many objects were written.
        self.run("config", "gc.auto", "0")

    def healthy(self) -> str:
        """Why the repository cannot be used ("" when it can): missing pieces, a ref that
        does not resolve, an object that does not read."""
        if not self.exists():
            return "not a git repository"
        try:
            self.run("rev-parse", "--git-dir")
            head = self.local_head()
            if head:
                self.run("cat-file", "-e", f"{head}^{{tree}}")
                self.tree(head)
        except GitError as exc:
            return str(exc)
        return ""

    def move_aside(self, stamp: str) -> Path:
        """Rename a broken repository out of the way (kept for a look, never deleted)."""
        aside = self.git_dir.with_name(f"{self.git_dir.name}.broken-{stamp}")
        n = 0
        while aside.exists():
            n += 1
            aside = self.git_dir.with_name(f"{self.git_dir.name}.broken-{stamp}-{n}")
        self.git_dir.rename(aside)
        return aside

    def remove(self) -> None:
        shutil.rmtree(self.git_dir, ignore_errors=True)

    def clear_stale_locks(self) -> list[str]:
        """Remove the `*.lock` files a killed git left (the caller holds the channel's lock,
        so no git of memem's is working here)."""
        removed = []
        for path in self.git_dir.rglob("*.lock"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(str(path.relative_to(self.git_dir)))
        return removed

    def identity(self) -> tuple[str, str]:
        """The user's git name and email (their git config), or memem's fallback."""
        if self._identity is None:
            found = []
            for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)):
                try:
                    value = self.run("config", "--get", key).decode("utf-8", "replace").strip()
                except GitError:
                    value = ""
                found.append(value or fallback)
            self._identity = (found[0], found[1])
        return self._identity

    # -- the remote ----------------------------------------------------------------------------

    def remote_head(self, url: str) -> str | None:
        """The remote's `memem` branch commit (None: no such branch yet); GitError
        (unreachable) when the remote does not answer."""
        out = self.run(
            "ls-remote",
            "--heads",
            url,
            f"refs/heads/{BRANCH}",
            config=self._network_config(),
            unreachable=True,
        )
        for line in out.decode("utf-8", "replace").splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{BRANCH}":
                return sha
        return None

    def fetch(self, url: str) -> str | None:
        """Fetch the remote's `memem` branch (forced: a rewritten remote is taken as it is)
        into REMOTE_REF; its commit, or None when the remote has no such branch."""
        if self.remote_head(url) is None:
            with contextlib.suppress(GitError):
                self.run("update-ref", "-d", REMOTE_REF)
            return None
        self.run(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-auto-gc",
            "--no-write-fetch-head",
            url,
            f"+refs/heads/{BRANCH}:{REMOTE_REF}",
            config=self._network_config(),
            unreachable=True,
        )
        return self.local_head()

    def local_head(self) -> str | None:
        """The commit of REMOTE_REF as last fetched or pushed; None when there is none."""
        try:
            out = self.run("rev-parse", "--verify", "--quiet", f"{REMOTE_REF}^{{commit}}")
        except GitError:
            if (self.git_dir / REMOTE_REF).exists() or self._packed(REMOTE_REF):
                raise
            return None
        return out.decode().strip() or None

    def _packed(self, ref: str) -> bool:
        packed = self.git_dir / "packed-refs"
        try:
            return f" {ref}\n" in packed.read_text("utf-8", "replace")
        except OSError:
            return False

    def push(self, url: str, commit: str) -> bool:
        """Push `commit` to the remote's `memem` branch; False when it was rejected because
        the remote moved on (fetch, merge, push again)."""
        code, out, err = self.spawn(
            "push",
            "--porcelain",
            url,
            f"{commit}:refs/heads/{BRANCH}",
            config=self._network_config(),
        )
        if code != 0:
            # Porcelain: one line per ref, flag "!" when the remote refused the update.
            if any(line.startswith(b"!") for line in out.splitlines()):
                return False
            raise GitError(_one_line(err, f"git push exited with {code}"), unreachable=True)
        self.run("update-ref", REMOTE_REF, commit)
        return True

    def pack(self) -> None:
        """Pack the loose objects (a first push writes one per memory)."""
        self.run("repack", "-d", "-q")

    # -- objects -------------------------------------------------------------------------------

    def tree(self, commit: str | None) -> dict[str, str]:
        """Every blob of `commit`'s tree: path -> sha."""
        if commit is None:
            return {}
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit)
        found: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == b"blob":
                found[path.decode("utf-8", "replace")] = parts[2].decode()
        return found

    def read_blobs(self, shas: Iterable[str], limit: int = MAX_BLOB_BYTES) -> dict[str, bytes]:
        """The bytes of each blob (one `cat-file --batch`); one over `limit` bytes is left
        out (a remote may hold anything)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        sizes = self.run("cat-file", "--batch-check", input=("\n".join(wanted) + "\n").encode())
        for line in sizes.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) == 3 and int(parts[2]) > limit:
                wanted.remove(parts[0])
        if not wanted:
            return {}
        out = self.run("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
        found: dict[str, bytes] = {}
        at = 0
        for sha in wanted:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) != 3:  # "<sha> missing"
                raise GitError(f"object {sha} is missing from the local repository")
            size = int(header[2])
            found[sha] = out[at : at + size]
            at += size + 1
        return found

    def write_blobs(self, blobs: Sequence[bytes]) -> list[str]:
        """Store each of `blobs` (one `hash-object -w --stdin-paths`); their shas in order."""
        if not blobs:
            return []
        with tempfile.TemporaryDirectory(dir=self.git_dir, prefix="memem-blobs-") as tmp:
            paths = []
            for n, data in enumerate(blobs):
                path = os.path.join(tmp, str(n))
                with open(path, "wb") as handle:
                    handle.write(data)
                paths.append(path)
            out = self.run(
                "hash-object",
                "-w",
                "--no-filters",
                "--stdin-paths",
                input="\n".join(paths).encode(),
            )
        shas = out.decode().split()
        if len(shas) != len(blobs):
            raise GitError("git hash-object did not store every file")
        return shas

    def commit(self, parent: str | None, changes: Mapping[str, str | None], message: str) -> str:
        """A commit on `parent`'s tree with `changes` (path -> blob sha, None: removed)."""
        fd, index_file = tempfile.mkstemp(dir=self.git_dir, prefix="memem-index-")
        os.close(fd)
        os.unlink(index_file)  # git wants to create it: an empty file is not an index
        env = {"GIT_INDEX_FILE": index_file}
        try:
            if parent:
                self.run("read-tree", parent, env=env)
            else:
                self.run("read-tree", "--empty", env=env)
            lines = [
                f"0 {EMPTY_SHA}\t{path}" if sha is None else f"100644 {sha}\t{path}"
                for path, sha in sorted(changes.items())
            ]
            if lines:
                self.run(
                    "update-index", "--index-info", input="\n".join(lines).encode() + b"\n", env=env
                )
            tree = self.run("write-tree", env=env).decode().strip()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(index_file)
        name, email = self.identity()
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", parent]
        ident = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        return self.run(*args, env=ident).decode().strip()

    def authors(self, since: str | None, until: str, prefixes: Sequence[str]) -> dict[str, str]:
        """path -> the author name of the newest commit in `since..until` that changed it
        (all of `until`'s history when `since` is None or not here)."""
        span = until
        if since and since != until:
            try:
                self.run("merge-base", "--is-ancestor", since, until)
                span = f"{since}..{until}"
            except GitError:
                span = until
        out = self.run(
            "log", "--no-renames", "--format=%x01%an", "--name-only", span, "--", *prefixes
        )
        found: dict[str, str] = {}
        author = ""
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("\x01"):
                author = line[1:].strip()
            elif line and line not in found:
                found[line] = author
        return found
