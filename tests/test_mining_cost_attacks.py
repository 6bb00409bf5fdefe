"""Attacks on the mining token receipt: a model reply (or a proxy in front of the API) with
hostile usage numbers must neither break mining nor slip past the daily cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memem import Store
from memem.mining.miner import Miner
from memem.storage.miner_state import MinerState, receipt
from tests.fake_anthropic import FakeAnthropic
from tests.test_mining_cost import MEMORY, NOW, backend, transcript


@pytest.fixture
def state(tmp_path: Path) -> MinerState:
    return MinerState(tmp_path / "state" / "miner.sqlite3")


@pytest.mark.parametrize(
    "spent",
    [
        {"input_tokens": 2**70, "output_tokens": 10},  # past SQLite's integers
        {"input_tokens": 10**30, "output_tokens": 2**63},
        {"input_tokens": -(2**70), "output_tokens": -5},  # negative
        {"input_tokens": 1.5e300, "output_tokens": 3.0},  # floats
        {"input_tokens": "900", "output_tokens": None},  # not numbers
        {"input_tokens": 0, "output_tokens": 0},  # a proxy that reports nothing
    ],
)
def test_hostile_usage_numbers_neither_break_mining_nor_escape_the_cap(
    tmp_path: Path, store: Store, state: MinerState, api: FakeAnthropic, spent: dict[str, Any]
) -> None:
    path = transcript(tmp_path, ["Staging Postgres is on 5433.", "Noted."])
    api.reply_json({"memories": [MEMORY]}, usage=spent)
    outcome = Miner(store, state, backend(api), daily_tokens=50_000_000).mine(str(path), now=NOW)
    assert outcome.status == "mined", outcome
    today = receipt(state.path, NOW)["today"]
    assert today["calls"] == 1
    assert 0 < today["total"] <= 50_000_000  # counted, never less than nothing, bounded
    assert all(isinstance(today[k], int) and today[k] >= 0 for k in ("input", "output"))
