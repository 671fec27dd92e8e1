"""Every Python block of README.md and docs/*.md runs against the sandbox (see ``_snippets``)."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from tests.docs._snippets import Session, environment, python_blocks

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])


def _documents_with_code() -> list[Path]:
    return [path for path in DOCUMENTS if python_blocks(path)]


def test_the_readme_and_the_guides_hold_python_blocks() -> None:
    names = {path.name for path in _documents_with_code()}
    assert {"README.md", "index.md", "settlement.md"} <= names


@pytest.mark.integration
@pytest.mark.parametrize(
    "path", _documents_with_code(), ids=lambda path: str(path.relative_to(ROOT))
)
def test_python_blocks_run(path: Path) -> None:
    session = Session()
    try:
        with environment(session.start()):
            for block in python_blocks(path):
                try:
                    session.run(block)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # SystemExit from a script's sys.exit() too
                    shown = "".join(traceback.format_exception(exc, limit=-8))
                    pytest.fail(
                        f"the Python block at {block.where} failed:\n{shown}", pytrace=False
                    )
    finally:
        session.close()
