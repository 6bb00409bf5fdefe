"""memem.storage.git: credentials never shown or stored, failures as one clean line."""

from __future__ import annotations

from pathlib import Path

import pytest

from memem.storage import git
from memem.storage.git import Git, GitError
from tests.sync_devices import git_env

__all__ = ["git_env"]  # fixture


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ada:s3cret@github.com/acme/shop.git", "https://github.com/acme/shop.git"),
        ("https://ghp_token@github.com/acme/shop", "https://github.com/acme/shop"),
        ("ssh://git@host:22/acme/shop.git", "ssh://host:22/acme/shop.git"),
        ("git@github.com:acme/shop.git", "github.com:acme/shop.git"),
        ("/srv/git/shop.git", "/srv/git/shop.git"),
        (
            "fatal: unable to access 'https://u:p@h/x/': refused",
            "fatal: unable to access 'https://h/x/': refused",
        ),
    ],
)
def test_shown_urls_carry_no_userinfo(url: str, shown: str) -> None:
    assert git.shown_url(url) == shown


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://ada:s3cret@github.com/acme/shop.git", True),
        ("ssh://ada:s3cret@host/acme/shop.git", True),
        ("https://ghp_0123456789abcdefABCDEF0123@github.com/acme/shop.git", True),
        ("https://ada@github.com/acme/shop.git", False),
        ("git@github.com:acme/shop.git", False),
        ("ssh://git@host:22/acme/shop.git", False),
        ("/srv/git/shop.git", False),
    ],
)
def test_a_url_with_a_password_or_token_is_refused(url: str, refused: bool) -> None:
    assert bool(git.credentials_in(url)) is refused


def test_a_failure_is_one_line_without_the_password(tmp_path: Path) -> None:
    repo = Git(tmp_path / "r.git", timeout=30)
    repo.init()
    with pytest.raises(GitError) as caught:
        repo.remote_head("http://ada:hunter2@127.0.0.1:1/acme/shop.git")
    message = str(caught.value)
    assert caught.value.unreachable
    assert "hunter2" not in message and "ada" not in message
    assert "\n" not in message and message


def test_blobs_and_commits_round_trip_through_plumbing(tmp_path: Path) -> None:
    repo = Git(tmp_path / "r.git")
    repo.init()
    shas = repo.write_blobs([b"one\n", b"two\n"])
    commit = repo.commit(None, {"memories/a.md": shas[0], "memories/b.md": shas[1]}, "first")
    second = repo.commit(commit, {"memories/a.md": None}, "second")
    assert repo.tree(commit) == {"memories/a.md": shas[0], "memories/b.md": shas[1]}
    assert repo.tree(second) == {"memories/b.md": shas[1]}
    assert repo.read_blobs(shas) == {shas[0]: b"one\n", shas[1]: b"two\n"}
    assert repo.identity() == (git.FALLBACK_NAME, git.FALLBACK_EMAIL)  # no git config here


def test_commits_carry_the_users_git_identity(tmp_path: Path) -> None:
    (tmp_path / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"
    )
    repo = Git(tmp_path / "r.git")
    repo.init()
    commit = repo.commit(None, {"memories/a.md": repo.write_blobs([b"x"])[0]}, "first")
    assert repo.identity() == ("Ada Lovelace", "ada@example.com")
    assert repo.authors(None, commit, ["memories"]) == {"memories/a.md": "Ada Lovelace"}


def test_git_variables_of_another_repository_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.git"
    Git(other).init()
    monkeypatch.setenv("GIT_DIR", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "their-index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other / "objects"))
    repo = Git(tmp_path / "r.git")
    repo.init()
    commit = repo.commit(None, {"memories/a.md": repo.write_blobs([b"mine\n"])[0]}, "first")
    assert repo.read_blobs(repo.tree(commit).values()) == {
        sha: b"mine\n" for sha in repo.tree(commit).values()
    }
    assert not any((other / "objects").glob("??/*"))
    assert not (tmp_path / "their-index").exists()
