"""Duplicates and contradictions between a new memory and an existing one, without a model.

Terms here are a text's words weighted equally, so similarity is the plain Jaccard index of
the two word sets (the store weighs rare terms more; the decisions are the same)."""

from __future__ import annotations

import pytest

from memem.core.conflict import (
    NEAR_DUPLICATE,
    Claim,
    contradiction,
    fingerprint,
    is_near_duplicate,
)
from memem.core.text import words


def terms(text: str) -> frozenset[str]:
    return frozenset(words(text))


def uniform(*texts: str) -> dict[str, float]:
    return {t: 1.0 for text in texts for t in terms(text)}


def verdict(new: str, old: str) -> str | None:
    return contradiction(Claim.of(new), Claim.of(old), terms(new), terms(old), uniform(new, old))


# -- fingerprints ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Use pnpm, not npm.", "use PNPM not npm"),
        ("The API listens on port 8080", "The  API\nlistens on port 8080!"),
        ("Café crème", "cafe creme"),
        ("**Always** run `make test`", "always run make test"),
        ("don't push to main", "Don\u2019t push to main."),
    ],
)
def test_fingerprint_ignores_case_accents_punctuation_and_spacing(a: str, b: str) -> None:
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Use pnpm, not npm", "Use npm, not pnpm"),
        ("The API listens on port 8080", "The API listens on port 9090"),
        ("run tests", "run the tests"),
        ("always push", "never push"),
    ],
)
def test_fingerprint_tells_different_words_or_orders_apart(a: str, b: str) -> None:
    assert fingerprint(a) != fingerprint(b)


def test_fingerprint_is_a_sha1_hex_digest() -> None:
    digest = fingerprint("anything at all")
    assert len(digest) == 40 and int(digest, 16) >= 0
    assert fingerprint("") == fingerprint("  ... !!! ")


# -- near duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "duplicate"),
    [
        ("The API uses Postgres for storage", "The API uses Postgres for storage", True),
        # Five of five shared words against one more: 5/6 >= 0.8.
        (
            "deploys run through the release script",
            "deploys run through the release script now",
            True,
        ),
        ("The API uses Postgres for storage", "The web client uses React for rendering", False),
        ("cache invalidation happens nightly", "nightly builds publish docs", False),
        ("", "something", False),
    ],
)
def test_near_duplicates_share_at_least_80_percent_of_their_weighted_terms(
    a: str, b: str, duplicate: bool
) -> None:
    assert is_near_duplicate(terms(a), terms(b), uniform(a, b)) is duplicate


def test_near_duplicate_threshold_is_inclusive() -> None:
    # 4 shared of 5 in the union: exactly the threshold.
    a, b = frozenset("abcd"), frozenset("abcde")
    weights = dict.fromkeys("abcde", 1.0)
    assert NEAR_DUPLICATE == 4 / 5
    assert is_near_duplicate(a, b, weights)
    assert not is_near_duplicate(frozenset("abc"), b, weights)


def test_rare_terms_weigh_more_in_near_duplicate_detection() -> None:
    a, b = frozenset({"postgres", "the", "uses"}), frozenset({"postgres", "the", "api"})
    # Equal weights: 2 shared of 4.
    assert not is_near_duplicate(a, b, dict.fromkeys(a | b, 1.0))
    # The differing terms weigh 3 each: (10 + 0.1) / (10 + 0.1 + 3 + 3) < 0.8 ...
    assert not is_near_duplicate(a, b, {"postgres": 10.0, "the": 0.1, "uses": 3.0, "api": 3.0})
    # ... common ones (weight 1): (10 + 0.1) / (10 + 0.1 + 1 + 1) >= 0.8, the same memory.
    assert is_near_duplicate(a, b, {"postgres": 10.0, "the": 0.1, "uses": 1.0, "api": 1.0})


# -- claims ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("The API uses Postgres, not MySQL.", {"mysql"}),
        ("We no longer use Jenkins.", {"jenkins"}),
        ("Don't use pip in CI.", {"pip"}),
        ("Never use sudo with npm.", {"sudo"}),
        ("Use ruff instead of flake8.", {"flake8"}),
        ("Prefer uv rather than poetry.", {"poetry"}),
        ("We replaced Travis with GitHub Actions.", {"travis"}),
        ("We migrated away from Heroku last year.", {"heroku"}),
        ("We dropped Python 3.9 support.", {"python"}),
        ("The API uses Postgres.", set()),
        # A stopword or a single letter after the negation names nothing.
        ("This is not the way.", set()),
    ],
)
def test_a_claim_reads_off_what_a_text_rules_out(text: str, negated: set[str]) -> None:
    assert Claim.of(text).negated == negated


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("The API listens on port 8080.", {"8080"}),
        ("Use Node v20 with 512mb of memory.", {"v20", "512mb"}),
        # Words split at the dot: a dotted version is two values.
        ("Python 3.12 is required.", {"3", "12"}),
        ("No numbers here.", set()),
    ],
)
def test_a_claim_reads_off_the_values_of_a_text(text: str, values: set[str]) -> None:
    assert Claim.of(text).values == values


# -- contradictions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "old", "reason"),
    [
        (
            "The API uses Postgres, not MySQL.",
            "The API uses MySQL.",
            "the newer memory rules out mysql",
        ),
        (
            "We no longer use Jenkins for the deploy pipeline.",
            "We use Jenkins for the deploy pipeline.",
            "the newer memory rules out jenkins",
        ),
        (
            "Never push directly to main.",
            "Always push directly to main.",
            "the same statement with the opposite polarity",
        ),
        (
            "Always squash commits when merging feature branches.",
            "Never squash commits when merging feature branches.",
            "the same statement with the opposite polarity",
        ),
        (
            "The API listens on port 9090.",
            "The API listens on port 8080.",
            "the value changed from 8080 to 9090",
        ),
        (
            "CI runs on Node 20 in the main workflow.",
            "CI runs on Node 18 in the main workflow.",
            "the value changed from 18 to 20",
        ),
    ],
)
def test_contradictions_say_why_the_newer_memory_supersedes(
    new: str, old: str, reason: str
) -> None:
    assert verdict(new, old) == reason


@pytest.mark.parametrize(
    ("new", "old"),
    [
        # Same text: nothing changed.
        ("The API uses Postgres.", "The API uses Postgres."),
        # Different subjects: the web client's choice says nothing about the API's.
        ("The web client renders with React, not Vue.", "The billing job exports Vue reports."),
        # Both already rule out the same thing.
        ("Use pnpm, not npm.", "Use pnpm, not npm, in CI."),
        # Same polarity.
        ("Always run the linter.", "Always run the linter before pushing."),
        # Two values changed: more likely two different notes than an update.
        ("Note 1: port 8080 on host 10.", "Note 2: port 9090 on host 11."),
        # A value changed, but the sentences around it are different.
        ("Redis keeps 300 keys in the session cache.", "The build takes 120 seconds on CI."),
        # Unrelated texts.
        ("Deploys happen on Fridays.", "Tests use pytest-xdist with two workers."),
    ],
)
def test_texts_that_do_not_contradict(new: str, old: str) -> None:
    assert verdict(new, old) is None


def test_a_contradiction_reported_by_negation_comes_before_polarity() -> None:
    # Both rules match ("no longer" also flips the polarity): the more precise reason wins.
    new, old = "We no longer use Jenkins for deploys.", "We use Jenkins for deploys."
    assert verdict(new, old) == "the newer memory rules out jenkins"
    # Read the other way round, nothing is ruled out, but the polarity still differs.
    assert verdict(old, new) == "the same statement with the opposite polarity"


def test_a_negation_needs_the_same_subject() -> None:
    old = "The nightly export job writes MySQL dumps to the backup bucket."
    assert verdict("The web client talks GraphQL, not MySQL.", old) is None
