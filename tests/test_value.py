"""`Value`, the base of the records a hook builds: read-only once built, equal and hashed by
its fields, shown by its fields, copied with changes through its own `__init__`."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memem.core.memory import Memory
from memem.core.slice import Environment
from memem.core.value import Value
from memem.errors import InvalidInput


class Point(Value):
    __slots__ = ("label", "x", "y")

    x: Final[int]
    y: Final[int]
    label: Final[str]

    def __init__(self, x: int, y: int, label: str = "") -> None:
        if x < 0:
            raise ValueError("x must not be negative")
        self.x = x
        self.y = y
        self.label = label


class Pair(Value):
    """Same field names as Point's: a different record all the same."""

    __slots__ = ("label", "x", "y")

    x: Final[int]
    y: Final[int]
    label: Final[str]

    def __init__(self, x: int, y: int, label: str = "") -> None:
        self.x = x
        self.y = y
        self.label = label


def test_fields_are_set_once_then_read_only() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError, match=r"Point\.x is read-only"):
        p.x = 5  # type: ignore[misc]
    assert p.x == 1


def test_a_field_cannot_be_deleted() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError, match=r"Point\.y is read-only"):
        del p.y  # type: ignore[misc]
    assert p.y == 2


def test_no_attribute_outside_the_slots_can_be_added() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError):
        p.z = 3  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__")


def test_real_records_are_read_only_too() -> None:
    env = Environment(cwd="/work/shop", project="shop")
    with pytest.raises(AttributeError, match="read-only"):
        env.project = "other"  # type: ignore[misc]
    m = Memory(id="abc123", title="t", content="c", created="2025-01-01", updated="2025-01-01")
    with pytest.raises(AttributeError, match=r"Memory\.content is read-only"):
        m.content = "changed"  # type: ignore[misc]


def test_fields_come_in_slots_order() -> None:
    assert Point(1, 2, "a").fields() == {"label": "a", "x": 1, "y": 2}
    assert list(Point(1, 2).fields()) == list(Point.__slots__)


def test_evolve_changes_some_fields_in_a_copy() -> None:
    p = Point(1, 2, "a")
    q = p.evolve(y=5)
    assert q == Point(1, 5, "a")
    assert p == Point(1, 2, "a")
    assert q is not p


def test_evolve_goes_through_init_so_checks_run() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Point(1, 2).evolve(x=-1)
    m = Memory(id="abc123", title="t", content="c", created="2025-01-01", updated="2025-01-01")
    with pytest.raises(InvalidInput, match="importance"):
        m.evolve(importance=9)


def test_evolve_normalises_like_a_new_record() -> None:
    m = Memory(id="abc123", title="t", content="c", created="2025-01-01", updated="2025-01-01")
    changed = m.evolve(tags=["Deploy", "deploy", " CI "], project="My Shop")
    assert changed.tags == ("deploy", "ci")
    assert changed.project == "My-Shop"


def test_evolve_with_an_unknown_field_fails() -> None:
    with pytest.raises(TypeError):
        Point(1, 2).evolve(z=3)


def test_equal_fields_make_equal_records() -> None:
    assert Point(1, 2, "a") == Point(1, 2, "a")
    assert Point(1, 2, "a") != Point(1, 2, "b")
    assert Point(1, 2) != Point(2, 1)


def test_records_of_different_classes_are_never_equal() -> None:
    assert Point(1, 2) != Pair(1, 2)
    assert Pair(1, 2) != Point(1, 2)
    assert Point(1, 2) != (1, 2)
    assert Point(1, 2) != {"x": 1, "y": 2, "label": ""}
    assert Point(1, 2) is not None


def test_equal_records_hash_alike_and_dedupe_in_a_set() -> None:
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "a"))
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    seen = {Environment(cwd="/a", project="a"): 1}
    assert seen[Environment(cwd="/a", project="a")] == 1


def test_repr_shows_the_class_and_every_field() -> None:
    assert repr(Point(1, 2, "a")) == "Point(label='a', x=1, y=2)"
    assert repr(Environment(cwd="/w", branch="main")) == (
        "Environment(branch='main', cwd='/w', folder='', project='', repository='')"
    )


def test_a_memory_compares_by_every_field() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    m = Memory(id="abc123", title="t", content="c", created=when, updated=when)
    assert m == Memory(id="abc123", title="t", content="c", created=when, updated=when)
    assert m != m.evolve(importance=4)
    assert m != m.evolve(extra={"aliases": ["x"]})


def test_a_record_survives_copy_and_pickle() -> None:
    """The reconcile pool sends records between processes."""
    p = Point(1, 2, "a")
    assert copy.copy(p) == p
    assert copy.deepcopy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p
    env = Environment(cwd="/w", repository="/w", branch="main", project="w")
    assert pickle.loads(pickle.dumps(env)) == env


@given(
    a=st.tuples(st.integers(0, 5), st.integers(0, 5), st.sampled_from(["", "a"])),
    b=st.tuples(st.integers(0, 5), st.integers(0, 5), st.sampled_from(["", "a"])),
)
def test_equality_follows_the_fields_and_hash_agrees(
    a: tuple[int, int, str], b: tuple[int, int, str]
) -> None:
    p, q = Point(*a), Point(*b)
    assert (p == q) == (a == b)
    if p == q:
        assert hash(p) == hash(q)
