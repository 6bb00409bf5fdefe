"""The three-way merge of sync (memem.core.merge): pure decisions over blob shas and memories."""

from __future__ import annotations

import pytest

from memem.core import markdown, merge
from memem.core.memory import Memory

A, B, C = "a" * 40, "b" * 40, "c" * 40


@pytest.mark.parametrize(
    ("base", "local", "remote", "action"),
    [
        (None, None, None, merge.SAME),
        (A, A, A, merge.SAME),
        (A, B, B, merge.SAME),  # both made the same change
        (None, A, None, merge.PUSH),  # new here
        (A, B, A, merge.PUSH),  # changed here
        (A, A, None, merge.PUSH),  # the remote lost it (rewritten by force): absence never deletes
        (A, B, None, merge.PUSH),
        (None, None, A, merge.PULL),  # new there
        (A, A, B, merge.PULL),  # changed there
        (A, None, A, merge.PULL),  # the file was removed here by hand: only a tombstone deletes
        (A, B, C, merge.CONFLICT),
        (None, A, B, merge.CONFLICT),  # made on both sides with one id
    ],
)
def test_decide(base: str | None, local: str | None, remote: str | None, action: str) -> None:
    assert merge.decide(base, local, remote) == action


def memory(content: str, updated: str, **extra: object) -> Memory:
    return Memory(
        id="0123456789abcdef0123456789abcdef",
        title="Releases",
        content=content,
        created="2030-01-01T00:00:00Z",
        updated=updated,
        project="shop",
        extra=extra,
    )


def test_the_blob_sha_is_gits() -> None:
    assert merge.blob_sha(b"x") == "c1b0730e0133447badcfd47fd144e254807b06e1"
    assert merge.blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_the_remote_form_leaves_out_local_keys_and_keeps_the_rest() -> None:
    mine = memory("Tuesdays", "2030-01-02T00:00:00Z", author="Ada", reviewed_by="Bob")
    text = merge.remote_form(mine).decode()
    assert "author" not in text and "reviewed_by: Bob" in text
    assert merge.remote_form(mine) == merge.remote_form(mine.evolve(extra={"reviewed_by": "Bob"}))


def test_the_newer_side_wins_and_a_tie_goes_to_the_larger_sha() -> None:
    old, new = memory("Tuesdays", "2030-01-01T10:00:00Z"), memory("Fridays", "2030-01-01T11:00:00Z")
    assert merge.local_wins(new, A, old, B) and not merge.local_wins(old, B, new, A)
    assert merge.local_wins(old, B, old, A) and not merge.local_wins(old, A, old, B)


def test_the_loser_is_kept_deprecated_under_its_own_id_linked_to_the_winner() -> None:
    winner = memory("Fridays", "2030-01-01T11:00:00Z")
    loser = memory("Tuesdays", "2030-01-01T10:00:00Z", author="Ada")
    sha = merge.blob_sha(merge.remote_form(loser))
    kept = merge.superseded(loser, sha, winner)
    assert kept.id == f"{loser.id}-{sha[:8]}"
    assert kept.status == "deprecated" and kept.content == "Tuesdays"
    assert kept.related[0] == winner.id and kept.extra == {"superseded_by": winner.id}
    assert kept == merge.superseded(loser, sha, winner)  # the same on every device
    assert markdown.render(kept) == markdown.render(merge.superseded(loser, sha, winner))


@pytest.mark.parametrize(
    ("path", "prefix", "suffix", "found"),
    [
        ("memories/abc.md", merge.MEMORIES, ".md", "abc"),
        ("memories/sub/abc.md", merge.MEMORIES, ".md", ""),
        ("tombstones/abc.json", merge.TOMBSTONES, ".json", "abc"),
        ("README.md", merge.MEMORIES, ".md", ""),
    ],
)
def test_id_of_a_remote_path(path: str, prefix: str, suffix: str, found: str) -> None:
    assert merge.id_of(path, prefix, suffix) == found
