"""`wait_until`: the one way a test waits for something another process or thread does.

Bounded (no test hangs past `timeout`) and polling a condition instead of sleeping a fixed
time; when the time is up it fails the test with what it waited for. Imported as
`from tests.waiting import wait_until` (the suite runs from the repository root, as
`tests.conftest` and `tests.fake_anthropic` are imported), from tests/ and tests/e2e/ alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float = 10.0,
    what: str = "condition",
    interval: float = 0.01,
) -> None:
    """Return once `condition()` is true; raise AssertionError naming `what` and `timeout`
    when it is still false after `timeout` seconds (checked one last time at the deadline,
    so a slow machine that got there at the end still passes)."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    deadline = time.monotonic() + timeout
    while not condition():
        left = deadline - time.monotonic()
        if left <= 0:
            if condition():
                return
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(min(interval, left))
