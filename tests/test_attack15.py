"""Attacks on issue 15's surfaces (ledger, usage detection, provenance, feedback, retention,
the mining token cap), each reproduced as a user meets it: every memory, transcript, synced
file and model reply is untrusted text."""

from __future__ import annotations

import pytest

from memem.core import usage as core

REAL = "3f9a1c2e5b7d4f608a1b2c3d4e5f6a7b"


# -- usage detection: a planted id must not read as cited in any reply --------------------------


@pytest.mark.parametrize(
    "planted",
    [
        "e",  # a one-letter id is "cited" by any reply holding that letter
        "the",
        "settings-planted-1",  # a word-like 8-character prefix ("settings")
        "00000000000000000000000000000000",  # a low-entropy hex prefix
    ],
)
def test_a_planted_id_is_not_cited_by_an_ordinary_reply(planted: str) -> None:
    turn = core.Turn(
        "how do I deploy?",
        "Run the deploy script; the settings file is fine. Commit 00000000 is the root.",
    )
    assert not core.cited(planted, f"{turn.reply}")
    assert core.decide([(planted, "Planted", "Unrelated words only.")], turn) == {planted: False}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Per {REAL[:8]}, done.", True),
        (f"memory {REAL[:12]} applied", True),
        (f"Applied memory {REAL}.", True),
        (f"x{REAL[:8]}", False),  # inside another token
        (f"{REAL[:8]}ff", False),  # a longer token that is not this id
    ],
)
def test_a_generated_id_is_still_cited_by_its_prefix_or_in_full(text: str, expected: bool) -> None:
    assert core.cited(REAL, text) is expected


def test_a_hand_named_id_counts_only_in_full() -> None:
    assert core.cited("staging-port-5433", "see staging-port-5433.")
    assert not core.cited("staging-port-5433", "staging-port-54331")
    assert not core.cited("staging-port-5433", "staging port 5433")
