"""``--secret-encoding`` and ``KRAKEN_PRIME_SECRET_ENCODING``: where the CLI reads a secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kraken_prime_async._config import prime_settings
from kraken_prime_async.errors import ValidationError
from tests.cli._support import ThreadedSandbox, run_cli

pytestmark = pytest.mark.integration

RAW_SECRET = "not base64: a raw secret!"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def test_a_secret_that_is_not_base64_names_the_cli_option(sandbox: ThreadedSandbox) -> None:
    env = {**sandbox.env, "KRAKEN_PRIME_API_SECRET": RAW_SECRET}
    done = run_cli("users", "list", env=env)
    assert done.returncode == 2
    assert (
        "--secret-encoding raw" in done.stderr and "KRAKEN_PRIME_SECRET_ENCODING=raw" in done.stderr
    )
    assert "secret_encoding=" not in done.stderr and RAW_SECRET not in done.stderr


@pytest.mark.parametrize(
    "how",
    [("--secret-encoding", "raw"), ()],
    ids=["option", "variable"],
)
def test_raw_is_accepted_from_the_option_or_the_variable(
    sandbox: ThreadedSandbox, how: tuple[str, ...]
) -> None:
    env = {**sandbox.env, "KRAKEN_PRIME_API_SECRET": RAW_SECRET}
    if not how:
        env["KRAKEN_PRIME_SECRET_ENCODING"] = "raw"
    done = run_cli("users", "list", *how, env=env)
    # Accepted by the client; the sandbox (whose secrets are base64) refuses the signature.
    assert done.returncode == 1, done.stderr
    assert "Invalid signature" in done.stderr and RAW_SECRET not in done.stderr


def test_the_variable_is_checked_and_named() -> None:
    environ = {"KRAKEN_PRIME_API_KEY": "K", "KRAKEN_PRIME_API_SECRET": "c2VjcmV0"}
    kwargs, _ = prime_settings({}, {**environ, "KRAKEN_PRIME_SECRET_ENCODING": "RAW"})
    assert kwargs["secret_encoding"] == "raw"
    with pytest.raises(ValidationError) as caught:
        prime_settings({}, {**environ, "KRAKEN_PRIME_SECRET_ENCODING": "hex"})
    assert caught.value.field == "KRAKEN_PRIME_SECRET_ENCODING"
    kwargs, _ = prime_settings(
        {"secret_encoding": "base64"}, {**environ, "KRAKEN_PRIME_SECRET_ENCODING": "hex"}
    )
    assert kwargs["secret_encoding"] == "base64"  # an argument wins; the variable is not read
