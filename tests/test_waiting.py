"""The suite's one wait: bounded, polling, and failing with what it waited for."""

from __future__ import annotations

import threading

import pytest

from tests.waiting import wait_until


def test_returns_at_once_when_the_condition_already_holds() -> None:
    calls: list[int] = []
    wait_until(lambda: calls.append(1) or True)
    assert calls == [1]


def test_returns_once_another_thread_makes_the_condition_true() -> None:
    done = threading.Event()
    worker = threading.Timer(0.05, done.set)
    worker.start()
    try:
        wait_until(done.is_set, timeout=10, what="the worker")
    finally:
        worker.join()
    assert done.is_set()


def test_keeps_polling_until_the_condition_holds() -> None:
    checks = iter([False, False, False, True])
    wait_until(lambda: next(checks), interval=0.001)
    assert list(checks) == []


def test_fails_with_what_it_waited_for_and_the_timeout() -> None:
    with pytest.raises(AssertionError, match=r"the status file not reached within 0\.05 s"):
        wait_until(lambda: False, timeout=0.05, what="the status file")


def test_a_condition_true_only_at_the_deadline_still_passes() -> None:
    """The last check comes after the deadline: a slow machine that got there is not failed."""
    checks = iter([False, False, True])
    wait_until(lambda: next(checks), timeout=0.001, interval=0.01)


def test_any_truthy_value_counts() -> None:
    wait_until(lambda: [1])
    with pytest.raises(AssertionError):
        wait_until(lambda: [], timeout=0.02)


@pytest.mark.parametrize("timeout", [0, -1])
def test_an_unbounded_or_empty_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        wait_until(lambda: True, timeout=timeout)


def test_an_exception_in_the_condition_is_not_swallowed() -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        wait_until(broken)
