"""Enum-like arguments are typed: a type checker catches a misspelt value before it runs.

The string aliases in ``models`` (``RoleName``, ...) list exactly the enums' values, and
``mypy --strict`` refuses a value outside them while accepting both spellings of a right one.
Run-time validation is unchanged (``tests/resources/`` and ``tests/test_validation*``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from enum import Enum
from pathlib import Path
from typing import get_args

import pytest

from kraken_prime_async import models

ROOT = Path(__file__).resolve().parents[2]

ALIASES = [
    (models.RoleName, models.Role),
    (models.UserStatusName, models.UserStatus),
    (models.AssetKindName, models.AssetKind),
    (models.BatchFilterAssetKindName, models.BatchFilterAssetKind),
    (models.BatchStatusName, models.BatchStatus),
]

SNIPPET = """\
from kraken_prime_async import PrimeClient
from kraken_prime_async.models import AssetKind, BatchStatus, Role, UserStatus


async def right(client: PrimeClient) -> None:
    await client.api_users.create("Desk A", role="Trader")
    await client.api_users.create("Desk A", role=Role.VIEWER)
    await client.api_users.update("U1", status="Disabled")
    await client.api_users.update("U1", status=UserStatus.ENABLED)
    await client.api_users.update_roles("U1", role="Viewer")
    await client.settlement.create_batch("tokenized_equity")
    await client.settlement.create_batch(AssetKind.CURRENCY)
    await client.settlement.list_batches(statuses=["settled", BatchStatus.UNSETTLED])
    await client.settlement.get_batch("B1", asset_kind="spot")
    await client.api_user_keys.audit(stale_after=86400, updated_at_unit="ms")


async def wrong(client: PrimeClient) -> None:
    await client.api_users.create("Desk A", role="Admin")  # wrong: role
    await client.api_users.update("U1", status="enabled")  # wrong: status
    await client.api_users.update_roles("U1", role="trader")  # wrong: role
    await client.settlement.create_batch("crypto")  # wrong: asset_kind
    await client.settlement.list_batches(statuses=["open"])  # wrong: statuses
    await client.settlement.get_batch("B1", asset_kind="options")  # wrong: asset_kind
    await client.api_user_keys.audit(stale_after=1, updated_at_unit="min")  # wrong: unit
"""


@pytest.mark.parametrize(("alias", "enum"), ALIASES, ids=lambda x: getattr(x, "__name__", ""))
def test_each_alias_lists_exactly_the_enums_values(alias: object, enum: type[Enum]) -> None:
    assert list(get_args(alias)) == [member.value for member in enum]


def test_mypy_strict_refuses_a_wrong_value_and_accepts_both_spellings(tmp_path: Path) -> None:
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    done = subprocess.run(  # noqa: S603 - this interpreter's mypy on our own snippet
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    # By file name, not path: mypy's cache may report a cached run's path for the same file.
    flagged = {int(n) for n in re.findall(r"snippet\.py:(\d+): error", done.stdout)}
    lines = SNIPPET.splitlines()
    wrong = {n for n, text in enumerate(lines, start=1) if "# wrong:" in text}
    assert flagged == wrong, textwrap.indent(done.stdout + done.stderr, "  ")
