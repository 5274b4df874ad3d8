from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# The repository root, for the CLI and the shared baselines.
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    return tmp_path / "conversations"
