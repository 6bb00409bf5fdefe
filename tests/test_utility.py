"""The utility store (`memem.storage.utility`) and the pure factor (`memem.core.utility`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from memem.core import utility as core
from memem.core.utility import Record, factor
from memem.errors import InvalidInput
from memem.service.store import Store
from memem.storage.ledger import iso
from memem.storage.utility import FILE, Use, Utility


def test_without_a_utility_file_factors_are_empty_and_nothing_is_created(tmp_path: Path) -> None:
    with Utility.open(tmp_path / "state") as store:
        assert store.factors(["a", "b"]) == {}
        assert store.records() == {}
    assert not (tmp_path / "state").exists()


def test_the_file_is_owner_only_and_unknown_ids_get_one(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        assert store.record_uses([Use("a", "2026-12-04T15:00:00.000Z", False)]) == 1
        factors = store.factors(["a", "new"])
    assert factors["new"] == 1.0
    assert factors["a"] < 1.0
    assert stat.S_IMODE(os.stat(tmp_path / FILE).st_mode) == 0o600


def test_uses_are_deduplicated_on_memory_and_time(tmp_path: Path) -> None:
    uses = [Use("a", "2026-12-04T15:00:00.000Z", True), Use("a", "2026-12-04T15:01:00.000Z", True)]
    with Utility.open(tmp_path) as store:
        assert store.record_uses(uses) == 2
        assert store.record_uses(uses) == 0
        assert store.record_uses([]) == 0
        assert store.records(["a"])["a"] == Record(2, 2, 0, 0, "2026-12-04T15:01:00.000Z")


def test_a_second_connection_sees_what_the_first_wrote(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        store.record_uses([Use("a", "2026-12-04T15:00:00.000Z", False)])
    with Utility.open(tmp_path) as again:
        assert again.records()["a"].injected == 1


def test_injected_often_and_never_used_sinks_and_used_often_rises(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        for n in range(20):
            at = f"2026-12-04T15:{n:02d}:00.000Z"
            store.record_uses([Use("noise", at, False), Use("useful", at, True)])
        factors = store.factors(["noise", "useful", "new"])
    assert factors["noise"] < factors["new"] == 1.0 < factors["useful"]
    assert factors["noise"] >= core.LOW and factors["useful"] <= core.HIGH


def test_verdicts_count_and_a_bad_verdict_is_refused(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        store.record_feedback("a", "helpful")
        store.record_feedback("b", "unhelpful", "noise", at="2026-12-01T10:00:00.000Z")
        store.record_feedback("b", "unhelpful", at="2026-12-02T10:00:01.000Z")
        with pytest.raises(InvalidInput, match="verdict must be one of"):
            store.record_feedback("a", "great")
        records = store.records()
        assert store.verdicts("b")[0][1:] == ("unhelpful", "noise")
    assert records["a"].helpful == 1 and records["b"].unhelpful == 2
    assert factor(records["a"]) > 1.0 > factor(records["b"])


def test_a_repeated_verdict_counts_once_a_day(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        day = "2026-12-04T15:%02d:00.000Z"
        assert [store.record_feedback("a", "helpful", at=day % n) for n in range(5)] == [
            True,
            False,
            False,
            False,
            False,
        ]
        assert store.record_feedback("a", "unhelpful", at=day % 6)
        assert store.record_feedback("a", "helpful", at="2026-12-05T15:00:01.000Z")
        store.record_feedback("a", "restore", at="2026-12-05T16:00:00.000Z")
        assert store.record_feedback("a", "helpful", at="2026-12-05T16:01:00.000Z")
        assert store.records(["a"])["a"].helpful == 1
        assert len(store.verdicts("a")) == 5


def test_a_restore_forgets_the_record_before_it(tmp_path: Path) -> None:
    with Utility.open(tmp_path) as store:
        store.record_uses([Use("a", f"2026-12-04T15:{n:02d}:00.000Z", False) for n in range(12)])
        store.record_feedback("a", "unhelpful", at="2026-12-04T15:30:00.000Z")
        store.record_feedback("a", "restore", at="2026-12-04T16:00:00.000Z")
        assert "a" not in store.records(["a"])
        assert store.factors(["a"]) == {"a": 1.0}
        store.record_uses([Use("a", "2026-12-04T16:01:00.000Z", True)])
        assert store.records(["a"])["a"] == Record(1, 1, 0, 0, "2026-12-04T16:01:00.000Z")


def test_many_ids_are_read_in_chunks(tmp_path: Path) -> None:
    ids = [f"m{n}" for n in range(1200)]
    with Utility.open(tmp_path) as store:
        store.record_uses([Use(i, "2026-12-04T15:00:00.000Z", True) for i in ids])
        assert len(store.factors(ids)) == 1200


def test_a_damaged_file_ranks_as_if_there_were_no_history(tmp_path: Path) -> None:
    (tmp_path / FILE).write_bytes(b"not a database at all" * 100)
    with Utility.open(tmp_path) as store:
        assert store.factors(["a"]) == {}


def test_iso_has_milliseconds_and_z() -> None:
    assert iso(0.5) == "1970-01-01T00:00:00.500Z"
    assert iso(1.9999) == "1970-01-01T00:00:02.000Z"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (Record(), 1.0),
        (Record(200, 0), core.LOW),
        (Record(200, 200), core.HIGH),
    ],
)
def test_the_factor_is_bounded_with_a_neutral_prior(record: Record, expected: float) -> None:
    assert factor(record) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("record", "archived"),
    [
        (Record(10, 0), True),
        (Record(20, 1), True),
        (Record(20, 2), False),
        (Record(9, 0), False),
        (Record(0, 0, unhelpful=2), True),
        (Record(3, 1, unhelpful=2), False),
        (Record(), False),
    ],
)
def test_archive_rules(record: Record, archived: bool) -> None:
    assert bool(core.archive_reason(record)) is archived


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"layer": 0}, "L0 anchor"),
        ({"source_type": "user"}, "saved by hand"),
        ({"record": Record(30, 1, helpful=1)}, "judged helpful"),
        ({"record": Record(30, 1, last_used="2026-12-01T00:00:00.000Z")}, "used recently"),
        ({"tags": ("keep", "x")}, "immune tag keep"),
        ({}, ""),
    ],
)
def test_immunity(kwargs: dict[str, object], reason: str) -> None:
    given: dict[str, object] = {
        "record": Record(30, 1, last_used="2026-10-01T00:00:00.000Z"),
        "layer": 2,
        "source_type": "mined",
        "tags": ("x",),
        "immune_tags": ("keep",),
        "since": "2026-11-04T00:00:00.000Z",
        **kwargs,
    }
    record = given.pop("record")
    assert isinstance(record, Record)
    assert core.immunity(record, **given) == reason  # type: ignore[arg-type]


# -- the ranking term ---------------------------------------------------------------------------


def _history(store: Store, memory_id: str, times: int, used: int) -> None:
    with Utility.open(store.settings.state_dir) as utility:
        utility.record_uses(
            Use(memory_id, f"2026-12-04T10:{n // 60:02d}:{n % 60:02d}.000Z", n < used)
            for n in range(times)
        )


FILLER = (
    "The office coffee machine descales on Fridays.",
    "Logs ship to Loki through promtail.",
    "The CDN purges with cdnctl purge --all.",
    "Releases are tagged vX.Y.Z by CI.",
    "The staging database is Postgres 16.",
    "Lunch orders go through the food channel.",
    "Frontend builds use Vite and pnpm.",
    "The search cluster runs OpenSearch 2.11.",
)
STRONG = "Webhook retries: the payments service retries webhooks with exponential backoff."
WEAK = "The payments service sends webhooks to partners over HTTPS."


def _add(store: Store, *texts: str) -> list[str]:
    """Save `texts` (L2, project shop) in a vault with some unrelated memories besides (in a
    vault of two, every word is common)."""
    for text in FILLER:
        store.add(text, project="shop", layer=2)
    return [store.add(t, project="shop", layer=2).memory.id for t in texts]


TWINS = (
    "The payments service retries webhooks with exponential backoff, five attempts.",
    "The payments service retries webhooks with exponential backoff, six attempts.",
)
TWIN_QUERY = "how does the payments service retry webhooks"


def test_injected_often_and_never_used_sinks_below_its_twin(store: Store) -> None:
    first, second = _add(store, *TWINS)
    before = [h.id for h in store.search(TWIN_QUERY)]
    loser, winner = before[0], before[1]
    _history(store, loser, 30, 0)
    _history(store, winner, 30, 20)
    assert [h.id for h in store.search(TWIN_QUERY)] == [winner, loser]
    assert {first, second} == {winner, loser}


def test_a_strong_match_still_wins_over_a_weak_one_that_is_always_used(store: Store) -> None:
    strong, weak = _add(store, STRONG, WEAK)
    _history(store, strong, 200, 0)
    _history(store, weak, 200, 200)
    hits = store.search(TWIN_QUERY)
    assert hits[0].id == strong
    assert store.slice(TWIN_QUERY, scope="shop").items[0].id == strong


def test_learning_off_ranks_exactly_as_without_history(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(store, *TWINS, WEAK)
    before = [(h.id, h.score) for h in store.search(TWIN_QUERY)]
    _history(store, before[0][0], 30, 0)
    monkeypatch.setenv("MEMEM_LEARNING", "off")
    with Store.open(state_dir=store.settings.state_dir, vault_dir=store.settings.vault_dir) as off:
        assert not off.settings.learning
        assert [(h.id, h.score) for h in off.search(TWIN_QUERY)] == before
        slice_off = off.slice(TWIN_QUERY, scope="shop")
    assert [(h.id, h.score) for h in store.search(TWIN_QUERY)] != before
    assert before[0][0] in [i.id for i in slice_off.items]


def test_the_slice_leaves_out_a_weak_match_that_is_seldom_used(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    strong, weak = _add(store, STRONG, WEAK)
    assert {strong, weak} <= {i.id for i in store.slice(TWIN_QUERY, scope="shop").items}
    _history(store, weak, 40, 0)
    ids = [i.id for i in store.slice(TWIN_QUERY, scope="shop").items]
    assert strong in ids and weak not in ids


def test_the_hook_ranks_with_the_record_of_use_unless_learning_is_off(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memem import hook

    _strong, weak = _add(store, STRONG, WEAK)
    _history(store, weak, 40, 0)
    env = {
        "HOME": str(tmp_path / "home"),
        "MEMEM_DIR": str(store.settings.state_dir),
        "MEMEM_OBSIDIAN_VAULT": str(store.settings.vault_dir),
    }
    (tmp_path / "shop").mkdir()
    payload = {"prompt": TWIN_QUERY, "cwd": str(tmp_path / "shop")}
    learned = hook.respond("UserPromptSubmit", {**payload, "session_id": "a"}, env)
    off = hook.respond(
        "UserPromptSubmit", {**payload, "session_id": "b"}, {**env, "MEMEM_LEARNING": "off"}
    )
    assert "exponential backoff" in learned and "exponential backoff" in off
    assert "over HTTPS" not in learned and "over HTTPS" in off


def test_an_unused_weak_match_weighs_less_than_an_unused_strong_one(tmp_path: Path) -> None:
    """Evidence is weighed by relevance: noise that tops the slice and is never used sinks;
    a memory injected weakly for other prompts (and used for its own) barely moves."""
    at = [f"2026-12-04T10:00:{n:02d}.000Z" for n in range(10)]
    with Utility.open(tmp_path) as store:
        store.record_uses(Use("strong", t, False, 1.0) for t in at)
        store.record_uses(Use("weak", t, False, 0.05) for t in at)
        store.record_uses([Use("used", at[0], True, 0.05)])
        records = store.records()
        factors = store.factors(["strong", "weak", "used"])
    assert records["strong"].evidence == 10.0
    assert records["weak"].evidence == pytest.approx(10 * core.MIN_WEIGHT)
    assert records["weak"].injected == 10  # retention still counts injections
    assert records["used"].evidence == 1.0  # a use counts whole, however weak the match
    assert factors["strong"] < factors["weak"] < 1.0 < factors["used"]
    assert core.weight(False, 7.0) == 1.0 and core.weight(False, -1.0) == core.MIN_WEIGHT
