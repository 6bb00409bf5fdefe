"""Settings are a function of the environment mapping an entry point passes in: defaults,
overrides, and values that cannot be used falling back to the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memem.settings import (
    BACKENDS,
    DEFAULT_MODEL,
    INDEX_FILE,
    Settings,
    absolute,
    state_dir,
    vault_dir,
)

HOME = "/home/ada"


def settings(**env: str) -> Settings:
    return Settings.from_env({"HOME": HOME, **env})


def test_defaults_under_the_home_directory() -> None:
    s = settings()
    assert s.state_dir == Path(HOME, ".memem")
    assert s.vault_dir == Path(HOME, "obsidian-brain")
    assert s.session_dirs == (Path(HOME, ".claude", "projects"),)
    assert s.settle_seconds == 300.0
    assert s.miner_backend == "auto"
    assert s.miner_model == DEFAULT_MODEL
    assert s.anthropic_api_key == ""
    assert s.anthropic_base_url == ""
    assert s.claude_executable == "claude"
    assert s.import_roots == ()


def test_the_files_inside_the_state_dir() -> None:
    s = settings(MEMEM_DIR="/srv/memem")
    assert s.index_path == Path("/srv/memem", INDEX_FILE)
    assert s.events_path == Path("/srv/memem/events.jsonl")
    assert s.log_dir == Path("/srv/memem/logs")
    assert s.miner_path == Path("/srv/memem/miner.sqlite3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/srv/memem", "/srv/memem"),
        ("/srv/memem/", "/srv/memem"),
        ("/srv/./x/../memem", "/srv/memem"),
        ("", f"{HOME}/.memem"),  # set but empty: the default
    ],
)
def test_memem_dir_sets_the_state_dir(value: str, expected: str) -> None:
    assert settings(MEMEM_DIR=value).state_dir == Path(expected)
    assert state_dir({"HOME": HOME, "MEMEM_DIR": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/data/vault", "/data/vault"),
        ("/data/vault/../brain", "/data/brain"),
        ("", f"{HOME}/obsidian-brain"),
    ],
)
def test_memem_obsidian_vault_sets_the_vault(value: str, expected: str) -> None:
    assert settings(MEMEM_OBSIDIAN_VAULT=value).vault_dir == Path(expected)
    assert vault_dir({"HOME": HOME, "MEMEM_OBSIDIAN_VAULT": value}) == expected


def test_a_relative_directory_is_made_absolute_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = settings(MEMEM_DIR="state", MEMEM_OBSIDIAN_VAULT="./vault")
    assert s.state_dir == tmp_path / "state"
    assert s.vault_dir == tmp_path / "vault"


def test_without_home_in_the_mapping_the_users_home_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    s = Settings.from_env({})
    assert s.state_dir == tmp_path / "me" / ".memem"
    assert s.vault_dir == tmp_path / "me" / "obsidian-brain"


def test_a_tilde_is_expanded_with_the_mappings_home() -> None:
    assert settings(MEMEM_DIR="~/state").state_dir == Path(HOME, "state")


@pytest.mark.parametrize(
    ("value", "extra"),
    [
        ("/a", ["/a"]),
        ("/a:/b", ["/a", "/b"]),
        ("/a::/b:", ["/a", "/b"]),
        (" : ", []),
        ("", []),
    ],
)
def test_extra_session_dirs_are_watched_besides_claudes(value: str, extra: list[str]) -> None:
    s = settings(MEMEM_EXTRA_SESSION_DIRS=value)
    assert s.session_dirs == (Path(HOME, ".claude", "projects"), *map(Path, extra))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("60", 60.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (" 30 ", 30.0),
        ("-5", 0.0),  # never negative
        ("soon", 300.0),  # not a number: the default
        ("", 300.0),
        ("1e3", 1000.0),
    ],
)
def test_the_settle_time(value: str, seconds: float) -> None:
    assert settings(MEMEM_MINER_SETTLE_SECONDS=value).settle_seconds == seconds


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("anthropic", "anthropic"),
        ("claude-cli", "claude-cli"),
        ("heuristic", "heuristic"),
        ("auto", "auto"),
        (" Anthropic ", "anthropic"),
        ("HEURISTIC", "heuristic"),
        ("openai", "auto"),  # unknown: the automatic choice
        ("", "auto"),
    ],
)
def test_the_miner_backend(value: str, backend: str) -> None:
    assert settings(MEMEM_MINER_BACKEND=value).miner_backend == backend
    assert backend in BACKENDS


def test_the_model_key_url_and_claude_executable_are_taken_as_given() -> None:
    s = settings(
        MEMEM_MINER_MODEL="claude-sonnet-4-5",
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9999",
        MEMEM_CLAUDE="/opt/claude/bin/claude",
    )
    assert s.miner_model == "claude-sonnet-4-5"
    assert s.anthropic_api_key == "sk-ant-test"
    assert s.anthropic_base_url == "http://127.0.0.1:9999"
    assert s.claude_executable == "/opt/claude/bin/claude"


@pytest.mark.parametrize(
    ("env", "roots"),
    [
        ({"CLAUDE_PROJECT_DIR": "/work/shop"}, ["/work/shop"]),
        ({"MEMEM_IMPORT_PATHS": "/a:/b"}, ["/a", "/b"]),
        (
            {"CLAUDE_PROJECT_DIR": "/work/shop", "MEMEM_IMPORT_PATHS": "/docs"},
            ["/work/shop", "/docs"],
        ),
        ({"MEMEM_IMPORT_PATHS": "::"}, []),
        ({"CLAUDE_PROJECT_DIR": ""}, []),
    ],
)
def test_import_roots(env: dict[str, str], roots: list[str]) -> None:
    assert settings(**env).import_roots == tuple(map(Path, roots))


def test_unrelated_variables_change_nothing() -> None:
    assert settings(PATH="/bin", MEMEM_UNKNOWN="x", EDITOR="vim") == settings()


def test_settings_are_read_only() -> None:
    s = settings()
    with pytest.raises(AttributeError, match="read-only"):
        s.state_dir = Path("/elsewhere")  # type: ignore[misc]


def test_settings_compare_by_value() -> None:
    assert settings(MEMEM_DIR="/x") == settings(MEMEM_DIR="/x")
    assert settings(MEMEM_DIR="/x") != settings(MEMEM_DIR="/y")
    assert hash(settings(MEMEM_DIR="/x")) == hash(settings(MEMEM_DIR="/x"))


def test_evolve_gives_changed_settings_and_keeps_the_original() -> None:
    s = settings()
    t = s.evolve(settle_seconds=1.0)
    assert t.settle_seconds == 1.0
    assert s.settle_seconds == 300.0
    assert t.state_dir == s.state_dir


@given(st.text(alphabet=st.characters(exclude_characters="\x00"), min_size=1, max_size=40))
def test_absolute_is_absolute_and_stable(name: str) -> None:
    path = absolute(f"/base/{name}")
    assert path.startswith("/")
    assert absolute(path) == path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.5", 0.5),
        ("0", 0.0),
        ("1", 1.0),
        ("", 0.2),
        ("abc", 0.2),
        ("nan", 0.2),
        ("-0.1", 0.2),
        ("3", 0.2),
    ],
)
def test_the_topic_shift_threshold_is_a_share_or_the_default(value: str, expected: float) -> None:
    from memem.settings import topic_shift

    assert topic_shift({"MEMEM_TOPIC_SHIFT_THRESHOLD": value}, 0.2) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 300.0),  # unset: every five minutes
        ("", 300.0),
        ("60", 60.0),
        ("2.5", 2.5),
        (" 120 ", 120.0),
        ("0", 0.0),  # no schedule: `memem sync` by hand
        ("0.0", 0.0),
        ("off", 0.0),
        ("OFF", 0.0),
        ("abc", 300.0),  # a bad value is the default, never "off"
        ("-5", 300.0),
        ("nan", 300.0),
        ("inf", 300.0),
    ],
)
def test_the_sync_interval_is_seconds_off_or_the_default(
    value: str | None, expected: float
) -> None:
    env = {} if value is None else {"MEMEM_SYNC_INTERVAL": value}
    assert settings(**env).sync_interval == expected
