"""Every ``python`` block of docs/keys.md runs as it is (each in a fresh interpreter, as a reader
would run it). Blocks marked ``python norun`` are skipped.

The docs helper replaces this with one harness for every page; until then it covers this page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PAGE = Path(__file__).parents[1] / "docs" / "keys.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index: int, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KRAKEN_PRIME_", "KRAKEN_OAUTH"))
    }
    done = subprocess.run(  # noqa: S603 - our own docs, our own interpreter
        [sys.executable, "-W", "error", "-c", BLOCKS[index]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
