"""Layer classification: the layer a memory lands in when nobody said which.

L0 project identity, L1 conventions and preferences, L2 the default, L3 rare or archival."""

from __future__ import annotations

import pytest

from memem.core.layers import classify


@pytest.mark.parametrize(
    ("title", "content"),
    [
        ("Overview", "This project is a memory plugin for Claude Code."),
        ("Stack", "The repo provides a CLI, an MCP server and a hook."),
        ("What this is", "Our service implements the billing API for the shop."),
        ("", "The memem codebase is written in Python 3.11."),
        ("This tool exists to sync notes", "Details follow."),
        ("Identity", "The payments library provides idempotent charge calls."),
    ],
)
def test_a_text_that_says_what_the_project_is_goes_to_layer_0(title: str, content: str) -> None:
    assert classify(title, content, [], 3) == 0


@pytest.mark.parametrize(
    ("content", "project"),
    [
        ("memem is a Claude Code memory plugin.", "memem"),
        ("The shop project is an online store for books.", "shop"),
        ("acme repo is a monorepo of services.", "acme"),
    ],
)
def test_a_text_that_names_its_own_project_goes_to_layer_0(content: str, project: str) -> None:
    assert classify("", content, [], 3, project) == 0


def test_naming_another_project_is_not_identity() -> None:
    assert classify("", "memem is a Claude Code memory plugin.", [], 3, "shop") == 2


def test_a_project_name_with_regex_characters_is_matched_literally() -> None:
    assert classify("", "c++ is a language.", [], 3, "c++") == 0
    assert classify("", "cxx is a language.", [], 3, "c++") == 2


@pytest.mark.parametrize(
    "tags",
    [["identity"], ["overview"], ["architecture"], ["project-identity"], ["stack", "python"]],
)
def test_identity_tags_put_a_memory_in_layer_0(tags: list[str]) -> None:
    assert classify("Ports", "The API listens on 8080.", tags, 3) == 0


@pytest.mark.parametrize(
    ("title", "content"),
    [
        ("Package manager", "Always use pnpm; npm breaks the lockfile."),
        ("Pushing", "Never push directly to main."),
        ("Editor", "I prefer tabs over spaces in Go files."),
        ("Naming", "The convention is snake_case for module names."),
        ("Formatting", "Follow the style guide in docs/STYLE.md."),
        ("Tooling", "We use ruff for linting and formatting."),
        ("Secrets", "Don't commit .env files."),
        ("Secrets", "Do not log request bodies."),
        ("Always rebase before merging", "Merge commits clutter the history."),
    ],
)
def test_conventions_and_preferences_go_to_layer_1(title: str, content: str) -> None:
    assert classify(title, content, [], 3) == 1


@pytest.mark.parametrize(
    "tags", [["convention"], ["conventions"], ["style"], ["preference"], ["preferences"]]
)
def test_convention_tags_put_a_memory_in_layer_1(tags: list[str]) -> None:
    assert classify("Ports", "The API listens on 8080.", tags, 3) == 1


@pytest.mark.parametrize(
    ("title", "content"),
    [
        ("One-off fix", "A one-off script repaired the 2024 invoices."),
        ("Migration", "The one-time migration of users ran in March."),
        ("Flag", "A temporary flag disables the new checkout."),
        ("Old setup", "Historical note: deploys used Capistrano."),
        ("Jenkins", "The Jenkins job is no longer relevant."),
        ("Old docs", "The v1 docs are archived in the wiki."),
    ],
)
def test_archival_texts_go_to_layer_3(title: str, content: str) -> None:
    assert classify(title, content, [], 3) == 3


@pytest.mark.parametrize("tags", [["archive"], ["archival"], ["historical"], ["one-off"], ["rare"]])
def test_archival_tags_put_a_memory_in_layer_3(tags: list[str]) -> None:
    assert classify("Ports", "The API listens on 8080.", tags, 3) == 3


def test_importance_1_is_rare_whatever_the_text() -> None:
    assert classify("Overview", "This project is a memory plugin.", ["identity"], 1) == 3
    assert classify("Overview", "This project is a memory plugin.", ["identity"], 2) == 0


@pytest.mark.parametrize(
    ("title", "content"),
    [
        ("Ports", "The API listens on 8080 and the admin UI on 8081."),
        ("Flaky test", "test_checkout fails when the clock crosses midnight."),
        ("Dog", "I used to have a dog called Rex."),
        ("Invoices", "Invoices are numbered per year, starting at 1."),
        ("", "Redis holds the session cache with a one hour TTL."),
    ],
)
def test_domain_knowledge_is_the_default_layer_2(title: str, content: str) -> None:
    assert classify(title, content, [], 3) == 2


def test_archival_wins_over_identity_and_convention() -> None:
    content = "This project is archived; we always used Ant."
    assert classify("Overview", content, ["identity", "convention"], 5) == 3


def test_identity_wins_over_convention() -> None:
    assert classify("Overview", "This app is a CLI; we always ship wheels.", ["style"], 3) == 0


@pytest.mark.parametrize(
    ("content", "layer"),
    [
        # The archival cue is read in the first 400 characters only ...
        ("x " * 150 + "historical", 3),
        ("x " * 250 + "historical", 2),
        # ... the convention cue in the first 300 ...
        ("y " * 100 + "always", 1),
        ("y " * 200 + "always", 2),
        # ... and identity in the first 200.
        ("This project is a plugin.", 0),
        ("z " * 150 + "This project is a plugin.", 2),
    ],
)
def test_cues_are_read_near_the_start_of_the_content(content: str, layer: int) -> None:
    assert classify("Note", content, [], 3) == layer


@pytest.mark.parametrize(
    ("text", "layer"),
    [("ALWAYS use pnpm.", 1), ("NEVER push to main.", 1), ("THIS PROJECT IS a plugin.", 0)],
)
def test_cues_are_case_insensitive(text: str, layer: int) -> None:
    assert classify("", text, [], 3) == layer
