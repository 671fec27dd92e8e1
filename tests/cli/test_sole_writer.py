"""``--sole-writer`` (a global option) and ``$KRAKEN_PRIME_SOLE_WRITER`` reach the client the
command builds: a create whose answer was lost may then claim the one new object it finds."""

from __future__ import annotations

import pytest

from kraken_prime_async.cli._args import apply_defaults
from kraken_prime_async.cli._config import client_from, oauth_client_from
from kraken_prime_async.cli._main import build_parser
from tests._fakes import FAKE_SECRET, unique_key


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    monkeypatch.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    monkeypatch.setenv("KRAKEN_OAUTH_TOKEN", "token-for-the-test")
    monkeypatch.delenv("KRAKEN_PRIME_SOLE_WRITER", raising=False)
    return monkeypatch


def _sole(*argv: str) -> tuple[bool, bool]:
    args = apply_defaults(build_parser().parse_args(list(argv)))
    prime, oauth = client_from(args), oauth_client_from(args)
    return prime._pipeline.claims.sole_writer, oauth._pipeline.claims.sole_writer  # type: ignore[union-attr]


def test_off_unless_asked() -> None:
    assert _sole("users", "create", "--name", "Desk A", "--role", "Trader") == (False, False)


@pytest.mark.parametrize(
    "argv",
    [
        ("--sole-writer", "users", "create", "--name", "Desk A", "--role", "Trader"),
        ("users", "create", "--name", "Desk A", "--role", "Trader", "--sole-writer"),
    ],
)
def test_the_option_anywhere(argv: tuple[str, ...]) -> None:
    assert _sole(*argv) == (True, True)


def test_the_environment(credentials: pytest.MonkeyPatch) -> None:
    credentials.setenv("KRAKEN_PRIME_SOLE_WRITER", "true")
    assert _sole("users", "create", "--name", "Desk A", "--role", "Trader") == (True, True)
