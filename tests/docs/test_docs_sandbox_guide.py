"""Every ``python`` block of docs/testing-with-the-sandbox.md runs as written (``python norun``
blocks are the pytest files, run from ``examples/sandbox_pytest`` by tests/plugin)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "testing-with-the-sandbox.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = BLOCK.findall(GUIDE.read_text())

pytestmark = pytest.mark.integration


def test_the_guide_has_runnable_blocks() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_guide_block_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "__main__"})  # noqa: S102 - our docs
    assert capsys.readouterr().out
