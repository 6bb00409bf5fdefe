"""Scenario 6: the slash commands answer with real figures: the output of their `!` bash
line, with the actual memory counts, reaches the model."""

from __future__ import annotations

import pytest

from .conftest import Claude, texts

MEMORIES = [
    ("The shop project is a Django web store", "shop", "0"),
    ("Always run make migrate before make test in the shop repo", "shop", "1"),
    ("The checkout uses Stripe webhooks verified with the signing secret", "shop", "2"),
    ("The blog is built with Hugo and deployed to Netlify", "blog", "2"),
]


def command_output(claude: Claude, command: str) -> str:
    """Run `claude -p /<command>` and return what the model received in the user turn."""
    run = claude.run(f"/{command}")
    (request,) = run.requests
    shown = texts(request, "user")
    assert f"<command-name>/{command}</command-name>" in shown, run.describe()
    return shown


def test_memem_welcomes_a_new_user_with_the_two_mining_choices(claude: Claude) -> None:
    shown = command_output(claude, "memem:memem")
    assert "WELCOME (new memem user)" in shown
    assert "past Claude Code sessions found: 0" in shown
    assert "choice 1:" in shown and "choice 2:" in shown
    assert f"{claude.vault}/memem/memories" in shown


def test_status_and_memem_report_the_real_counts(claude: Claude) -> None:
    for content, project, layer in MEMORIES:
        saved = claude.memem("save", content, "--project", project, "--layer", layer)
        assert saved.returncode == 0, saved.stderr

    shown = command_output(claude, "memem:memem-status")
    assert "memories: 4 active, 0 deprecated" in shown
    assert "shop: L0 1 · L1 1 · L2 1 · L3 0" in shown
    assert "blog: L0 0 · L1 0 · L2 1 · L3 0" in shown
    assert "mining: none; backend anthropic" in shown

    shown = command_output(claude, "memem:memem")
    assert "WELCOME (new memem user)" not in shown  # a returning user gets the status
    assert "memories: 4 active, 0 deprecated" in shown
    assert "shop: L0 1 · L1 1 · L2 1 · L3 0" in shown


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("memem", "WELCOME (new memem user)"),
        ("memem-status", "memories: 0 active"),
        ("memem-doctor", "memem doctor: HEALTHY"),
    ],
)
def test_the_documented_command_names_run_the_commands(
    claude: Claude, typed: str, expected: str
) -> None:
    run = claude.run(f"/{typed}")
    (request,) = run.requests
    shown = texts(request, "user")
    assert "no command with that name" not in shown, shown[-1500:]
    assert expected in shown, shown[-1500:]
