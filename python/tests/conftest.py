from __future__ import annotations

import os
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# The repository root, for the CLI and the shared baselines.
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    return tmp_path / "conversations"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The one skip gate, as the Rust suites have it (tests/it/util.rs,
    `skip`): with ``CONVLOG_REQUIRE_ALL=1`` (CI has everything) a skipped
    test is a failure, so that a skip cannot hide a suite."""
    report = yield
    if report.skipped and os.environ.get("CONVLOG_REQUIRE_ALL") == "1":
        why = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CONVLOG_REQUIRE_ALL=1 but {item.nodeid} was skipped: {why}"
    return report
