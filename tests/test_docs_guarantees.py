"""Every ``python`` block of docs/guarantees.md runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[1] / "docs" / "guarantees.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = BLOCK.findall(PAGE.read_text())

pytestmark = pytest.mark.integration


def test_the_page_has_runnable_blocks() -> None:
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_page_block_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(PAGE), "exec"), {"__name__": "__main__"})  # noqa: S102 - our docs
    assert capsys.readouterr().out


def test_the_exactly_once_example_creates_the_batch_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = next(block for block in BLOCKS if "CreatePrimeSettlementBatch" in block)
    exec(compile(code, str(PAGE), "exec"), {"__name__": "__main__"})  # noqa: S102
    assert capsys.readouterr().out.rstrip().endswith("created 1 time(s)")
