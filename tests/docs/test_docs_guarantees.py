"""docs/guarantees.md: the exactly-once example prints what the page says (the docs harness,
``tests/docs/test_snippets.py``, runs every block of the page)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[2] / "docs" / "guarantees.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

pytestmark = pytest.mark.integration


def test_the_exactly_once_example_creates_the_batch_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = BLOCK.findall(PAGE.read_text())
    code = next(block for block in blocks if "CreatePrimeSettlementBatch" in block)
    exec(compile(code, str(PAGE), "exec"), {"__name__": "__main__"})  # noqa: S102 - our docs
    assert capsys.readouterr().out.rstrip().endswith("created 1 time(s)")
