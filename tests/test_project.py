"""A project's name from its git remote (memem.core.project): the url forms of one remote
agree, credentials, host, port and `.git` never reach the name, and a config is read as git
reads it."""

from __future__ import annotations

import pytest

from memem.core.memory import normalize_project
from memem.core.project import name_from_remote, remote_url, remotes


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@github.com:Acme/Shop.git", "acme-shop"),
        ("git@github.com:acme/shop", "acme-shop"),
        ("github.com:acme/shop.git", "acme-shop"),
        ("https://github.com/acme/shop.git", "acme-shop"),
        ("https://github.com/acme/shop/", "acme-shop"),
        ("https://user:ghp_secrettoken123@github.com/acme/shop", "acme-shop"),
        ("https://oauth2@gitlab.example.com:8443/acme/shop.git?x=1#frag", "acme-shop"),
        ("ssh://git@host:22/acme/shop.git", "acme-shop"),
        ("ssh://host/acme/shop", "acme-shop"),
        ("git://host.example/acme/shop.git", "acme-shop"),
        ("https://gitlab.com/group/sub/Shop.GIT", "group-sub-shop"),
        ("/srv/git/shop.git", "shop"),
        ("/srv/git/shop.git/", "shop"),
        ("file:///srv/shop.git", "shop"),
        ("../shop.git", "shop"),
        ("./Shop", "shop"),
    ],
)
def test_a_remote_url_names_the_project_without_host_credentials_or_git(
    url: str, name: str
) -> None:
    assert name_from_remote(url) == name


@pytest.mark.parametrize("url", ["", "   ", "https://host", "https://host/", "/", ".git", "../"])
def test_a_url_that_names_nothing_gives_none(url: str) -> None:
    assert name_from_remote(url) is None


def test_the_ssh_and_https_forms_of_one_remote_agree() -> None:
    forms = [
        "git@github.com:acme/shop.git",
        "https://github.com/acme/shop",
        "https://u:t@github.com/Acme/Shop.git",
        "ssh://git@github.com:22/acme/shop.git",
    ]
    assert {name_from_remote(url) for url in forms} == {"acme-shop"}


CONFIG = """\
[core]
\trepositoryformatversion = 0
\tbare = false
[remote "fork"]
\turl = git@github.com:me/shop.git
\tfetch = +refs/heads/*:refs/remotes/fork/*
[remote "origin"]
\turl = "git@github.com:acme/shop.git" ; the team's
\turl = https://mirror.example/other.git
[branch "main"]
\tremote = origin
\turl = https://not.a.remote/x.git
"""


def test_origin_is_preferred_to_other_remotes_and_its_first_url_is_used() -> None:
    assert remotes(CONFIG) == {
        "fork": "git@github.com:me/shop.git",
        "origin": "git@github.com:acme/shop.git",
    }
    assert remote_url(CONFIG) == "git@github.com:acme/shop.git"


def test_upstream_is_preferred_to_origin_and_else_the_first_remote_is_taken() -> None:
    upstream = CONFIG + '[remote "upstream"]\n\turl = https://github.com/acme/shop-main\n'
    assert remote_url(upstream) == "https://github.com/acme/shop-main"
    only_fork = '[remote "fork"]\n  URL = /srv/fork.git\n[remote "b"]\n url = /srv/b.git\n'
    assert remote_url(only_fork) == "/srv/fork.git"


@pytest.mark.parametrize(
    "config",
    [
        "",
        "[core]\n\tbare = false\n",
        '[remote "origin"]\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
        "url = https://outside.a/section.git\n",
        '[remote "origin"\n\turl = https://broken.header/x.git\n',
        "\x00\x01 garbage \ufffd\n[[[\n===\n",
    ],
)
def test_a_config_without_a_usable_remote_gives_none(config: str) -> None:
    assert remote_url(config) is None


def test_a_hostile_remote_becomes_a_plain_project_name() -> None:
    config = '[remote "origin"]\n\turl = "https://h/../../etc/pass wd\\"; rm -rf ~\\n.git"\n'
    name = normalize_project(name_from_remote(remote_url(config) or ""))
    assert "/" not in name and " " not in name and "\n" not in name and name
