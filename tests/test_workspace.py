"""Where the user is working: bounded reads of files the hooks are handed, the git root, the
branch and the project name of a directory, all without running git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memem.core.slice import Environment
from memem.storage.workspace import (
    CONFIG_LIMIT,
    GIT_FILE_LIMIT,
    environment,
    git_root,
    project_of,
    read_regular,
)
from tests.conftest import ROOT
from tests.gitrepos import git, git_env, git_repo


def repo(path: Path, head: str = "ref: refs/heads/main\n") -> Path:
    """A directory that looks like a git repository to memem: `.git/HEAD` is all it reads."""
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text(head, encoding="utf-8")
    return path


# -- read_regular ------------------------------------------------------------------------------


def test_reads_a_whole_small_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    assert read_regular(str(path), 100) == b"hello"


@pytest.mark.parametrize(
    ("limit", "head", "tail"),
    [
        (0, b"", b""),
        (3, b"012", b"789"),
        (10, b"0123456789", b"0123456789"),
        (50, b"0123456789", b"0123456789"),
    ],
)
def test_reads_at_most_limit_bytes_from_the_start_or_the_end(
    tmp_path: Path, limit: int, head: bytes, tail: bytes
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_regular(str(path), limit) == head
    assert read_regular(str(path), limit, tail=True) == tail


def test_reads_a_file_larger_than_one_chunk_whole(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    path = tmp_path / "big"
    path.write_bytes(data)
    assert read_regular(str(path), len(data)) == data
    assert read_regular(str(path), 1024 * 1024 + 1, tail=True) == data[-(1024 * 1024 + 1) :]


def test_an_empty_file_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    assert read_regular(str(path), 10) == b""
    assert read_regular(str(path), 10, tail=True) == b""


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"through the link")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_regular(str(tmp_path / "link"), 100) == b"through the link"


@pytest.mark.parametrize("what", ["missing", "directory", "dangling", "nul"])
def test_anything_but_a_readable_regular_file_reads_as_none(tmp_path: Path, what: str) -> None:
    path = tmp_path / what
    if what == "directory":
        path.mkdir()
    elif what == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    name = str(path) + ("\x00x" if what == "nul" else "")
    assert read_regular(name, 100) is None


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_reads_as_none(device: str) -> None:
    """/dev/zero never ends: a hook handed it as a transcript must not read forever."""
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    assert read_regular(device, 1 << 30) is None


def test_a_fifo_reads_as_none_without_blocking(tmp_path: Path) -> None:
    """No writer ever opens this FIFO: a blocking open would hang the hook. The read runs
    in a child process, so a regression fails on the timeout instead of hanging the suite."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    script = (
        "import sys\n"
        "from memem.storage.workspace import read_regular\n"
        "print(read_regular(sys.argv[1], 100), read_regular(sys.argv[2], 100, tail=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(fifo), str(tmp_path / "link")],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.stdout.strip() == "None None", done.stderr


# -- git_root and project_of -------------------------------------------------------------------


def test_git_root_is_the_nearest_directory_holding_git(tmp_path: Path) -> None:
    root = repo(tmp_path / "shop")
    deep = root / "src" / "app" / "views"
    deep.mkdir(parents=True)
    assert git_root(str(deep)) == str(root)
    assert git_root(str(root)) == str(root)


def test_a_nested_repository_wins_over_the_outer_one(tmp_path: Path) -> None:
    outer = repo(tmp_path / "mono")
    inner = repo(outer / "vendor" / "lib")
    (inner / "src").mkdir()
    assert git_root(str(inner / "src")) == str(inner)
    assert git_root(str(outer / "vendor")) == str(outer)


def test_a_git_file_marks_a_root_too(tmp_path: Path) -> None:
    """A worktree or a submodule has a `.git` file, not a folder."""
    root = tmp_path / "wt"
    root.mkdir()
    (root / ".git").write_text("gitdir: /elsewhere\n", encoding="utf-8")
    assert git_root(str(root)) == str(root)


def test_no_git_anywhere_above_gives_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "dir"
    plain.mkdir(parents=True)
    assert git_root(str(plain)) is None


@pytest.mark.parametrize(
    ("layout", "cwd", "project"),
    [
        ("shop/.git", "shop/src/app", "shop"),
        ("shop/.git", "shop", "shop"),
        ("", "notes", "notes"),
        ("", "My Project", "My-Project"),
        ("web shop/.git", "web shop/src", "web-shop"),
    ],
)
def test_the_project_is_the_git_roots_name_else_the_directorys(
    tmp_path: Path, layout: str, cwd: str, project: str
) -> None:
    if layout:
        repo(tmp_path / layout.removesuffix("/.git"))
    (tmp_path / cwd).mkdir(parents=True, exist_ok=True)
    assert project_of(tmp_path / cwd) == project


def test_project_of_a_relative_directory_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo(tmp_path / "shop")
    (tmp_path / "shop" / "src").mkdir()
    monkeypatch.chdir(tmp_path / "shop")
    assert project_of("src") == "shop"
    assert project_of(".") == "shop"


def test_project_of_home_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    (home / "notes").mkdir(parents=True, exist_ok=True)
    assert project_of("~/notes") == "notes"


def test_the_filesystem_root_is_the_global_project() -> None:
    assert project_of("/") == "global"


# -- environment -------------------------------------------------------------------------------


def test_environment_of_a_repository_on_a_branch(tmp_path: Path) -> None:
    root = repo(tmp_path / "shop", "ref: refs/heads/feature/checkout\n")
    cwd = root / "src"
    cwd.mkdir()
    assert environment(cwd) == Environment(
        cwd=str(cwd), repository=str(root), branch="feature/checkout", project="shop", folder="shop"
    )


def test_environment_of_a_detached_head_shows_the_short_commit(tmp_path: Path) -> None:
    root = repo(tmp_path / "shop", "0123456789abcdef0123456789abcdef01234567\n")
    assert environment(root).branch == "0123456789ab"


def test_environment_outside_any_repository(tmp_path: Path) -> None:
    cwd = tmp_path / "notes"
    cwd.mkdir()
    assert environment(cwd) == Environment(
        cwd=str(cwd), repository="", branch="", project="notes", folder="notes"
    )


def test_environment_of_a_worktree_follows_its_gitdir_pointer(tmp_path: Path) -> None:
    main = repo(tmp_path / "shop")
    worktree_git = main / ".git" / "worktrees" / "hotfix"
    worktree_git.mkdir(parents=True)
    (worktree_git / "HEAD").write_text("ref: refs/heads/hotfix\n", encoding="utf-8")
    wt = tmp_path / "shop-hotfix"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {worktree_git}\n", encoding="utf-8")
    env = environment(wt)
    assert (env.repository, env.branch, env.project) == (str(wt), "hotfix", "shop-hotfix")


def test_a_relative_gitdir_pointer_is_read_from_the_worktree(tmp_path: Path) -> None:
    sub_git = tmp_path / "super" / ".git" / "modules" / "lib"
    sub_git.mkdir(parents=True)
    (sub_git / "HEAD").write_text("ref: refs/heads/stable\n", encoding="utf-8")
    lib = tmp_path / "super" / "lib"
    lib.mkdir()
    (lib / ".git").write_text("gitdir: ../.git/modules/lib\n", encoding="utf-8")
    assert environment(lib).branch == "stable"


def test_the_real_git_agrees_on_the_branch(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    git = ["git", "-C", str(shop)]
    try:
        subprocess.run([*git, "init", "-q", "-b", "trunk"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not usable here")
    assert environment(shop).branch == "trunk"
    assert environment(shop).repository == str(shop)


@pytest.mark.parametrize(
    "head",
    [b"\xff\xfe not utf-8", b"", b"ref: refs/heads/" + b"x" * (GIT_FILE_LIMIT * 2)],
    ids=["binary", "empty", "huge"],
)
def test_a_strange_head_never_fails_the_environment(tmp_path: Path, head: bytes) -> None:
    root = tmp_path / "shop"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_bytes(head)
    env = environment(root)
    assert env.project == "shop"
    assert len(env.branch) <= GIT_FILE_LIMIT


@pytest.mark.parametrize("pointer", ["gitdir: /no/such/dir", "not a pointer", ""])
def test_a_git_file_pointing_nowhere_gives_no_branch(tmp_path: Path, pointer: str) -> None:
    root = tmp_path / "wt"
    root.mkdir()
    (root / ".git").write_text(pointer, encoding="utf-8")
    env = environment(root)
    assert (env.repository, env.branch, env.project) == (str(root), "", "wt")


def test_a_fifo_as_head_gives_no_branch_without_blocking(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    (root / ".git").mkdir(parents=True)
    os.mkfifo(root / ".git" / "HEAD")
    script = (
        "import sys\n"
        "from memem.storage.workspace import environment\n"
        "print(repr(environment(sys.argv[1]).branch))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.stdout.strip() == "''", done.stderr


def test_the_environment_cwd_is_absolute_and_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert environment("a/b/../b").cwd == str(tmp_path / "a" / "b")


# -- the project named after the repository's remote (real git) -------------------------------


@pytest.mark.parametrize(
    "remote",
    [
        "git@github.com:Acme/Shop.git",
        "https://user:tok3n@github.com/acme/shop",
        "ssh://git@github.com:22/acme/shop.git",
        "github.com:acme/shop",
    ],
)
def test_a_repository_is_named_after_its_remote_not_its_folder(tmp_path: Path, remote: str) -> None:
    root = git_repo(tmp_path / "my-checkout", remote)
    (root / "src").mkdir()
    assert project_of(root / "src") == "acme-shop"
    env = environment(root / "src")
    assert (env.project, env.folder, env.branch) == ("acme-shop", "my-checkout", "main")


@pytest.mark.parametrize("form", ["path", "file-url", "relative"])
def test_a_path_remote_names_the_project_after_its_last_segment(tmp_path: Path, form: str) -> None:
    bare = tmp_path / "srv" / "shop.git"
    bare.mkdir(parents=True)
    git("init", "-q", "--bare", cwd=bare, env=git_env(tmp_path / "git-home"))
    remote = {"path": str(bare), "file-url": f"file://{bare}", "relative": "../srv/shop.git"}[form]
    assert project_of(git_repo(tmp_path / "work", remote)) == "shop"


def test_two_clones_and_a_worktree_of_one_repository_agree(tmp_path: Path) -> None:
    env = git_env(tmp_path / "git-home")
    bare = tmp_path / "remote" / "Shop.git"
    bare.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", cwd=bare, env=env)
    seed = git_repo(tmp_path / "seed", str(bare))
    git("push", "-q", "origin", "main", cwd=seed, env=env)
    laptop, desktop = tmp_path / "laptop-shop", tmp_path / "desktop" / "shop-2"
    desktop.parent.mkdir()
    git("clone", "-q", str(bare), str(laptop), cwd=tmp_path, env=env)
    git("clone", "-q", str(bare), str(desktop), cwd=tmp_path, env=env)
    git(
        "worktree",
        "add",
        "-q",
        "-b",
        "hotfix",
        str(tmp_path / "hotfix-tree"),
        cwd=laptop,
        env=env,
    )
    dirs = [laptop, desktop, tmp_path / "hotfix-tree", seed]
    assert {project_of(d) for d in dirs} == {"shop"}
    wt = environment(tmp_path / "hotfix-tree")
    assert (wt.project, wt.branch, wt.folder) == ("shop", "hotfix", "hotfix-tree")


def test_a_repository_without_a_remote_keeps_its_folder_name(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "Scratch Pad")
    assert project_of(root) == "Scratch-Pad"
    assert environment(root).project == environment(root).folder == "Scratch-Pad"


@pytest.mark.parametrize(
    "config",
    [
        b"\xff\xfe\x00 not utf-8",
        b'[remote "origin"]\n\turl = ' + b"x/" * (CONFIG_LIMIT // 2) + b"shop.git\n",
        b'[remote "origin"]\n\turl = \n',
        b'[remote "origin"]\n\turl = https://h/\x00\n',
    ],
    ids=["binary", "huge", "empty-url", "nul"],
)
def test_a_hostile_config_falls_back_to_the_folder_name(tmp_path: Path, config: bytes) -> None:
    root = tmp_path / "shop"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (root / ".git" / "config").write_bytes(config)
    assert project_of(root) == "shop"


def test_a_fifo_as_the_config_falls_back_to_the_folder_without_blocking(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    (root / ".git").mkdir(parents=True)
    os.mkfifo(root / ".git" / "config")
    script = (
        "import sys\n"
        "from memem.storage.workspace import project_of\n"
        "print(project_of(sys.argv[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.stdout.strip() == "shop", done.stderr


def test_a_worktree_whose_commondir_points_nowhere_keeps_its_folder_name(tmp_path: Path) -> None:
    own = tmp_path / "gitdirs" / "wt"
    own.mkdir(parents=True)
    (own / "HEAD").write_text("ref: refs/heads/x\n", encoding="utf-8")
    (own / "commondir").write_text("../../nowhere\n", encoding="utf-8")
    wt = tmp_path / "wt-folder"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {own}\n", encoding="utf-8")
    assert project_of(wt) == "wt-folder"
    assert environment(wt).branch == "x"


@pytest.mark.parametrize("commondir", ["../\x00x", "\xff"], ids=["nul", "not-utf8"])
def test_a_hostile_commondir_keeps_the_folder_name(tmp_path: Path, commondir: str) -> None:
    own = tmp_path / "gitdirs" / "wt"
    own.mkdir(parents=True)
    (own / "HEAD").write_text("ref: refs/heads/x\n", encoding="utf-8")
    (own / "commondir").write_bytes(commondir.encode("utf-8", "surrogateescape"))
    wt = tmp_path / "wt-folder"
    wt.mkdir()
    (wt / ".git").write_bytes(b"gitdir: " + str(own).encode() + b"\n")
    assert project_of(wt) == "wt-folder"


def test_a_nul_in_the_gitdir_pointer_gives_no_branch(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_bytes(b"gitdir: /tmp/\x00evil\n")
    env = environment(wt)
    assert (env.branch, env.project) == ("", "wt")
