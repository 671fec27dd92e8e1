"""``from_env`` on both clients, and the loopback-only rule for plain ``http://`` base URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kraken_prime_async import FastApiKeyClient, PrimeClient, ValidationError
from kraken_prime_async._config import checked_base_url, prime_settings
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FAKE_SECRET, unique_key

ALL_VARS = (
    "KRAKEN_PRIME_API_KEY",
    "KRAKEN_PRIME_API_SECRET",
    "KRAKEN_PRIME_API_SECRET_FILE",
    "KRAKEN_PRIME_BASE_URL",
    "KRAKEN_PRIME_RATE_LIMIT",
    "KRAKEN_PRIME_NONCE_WINDOW",
    "KRAKEN_PRIME_SOLE_WRITER",
    "KRAKEN_OAUTH_TOKEN",
)
TOKEN_CANARY = "oauth-token-canary-XYZ"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _no_secret(exc: BaseException, *secrets: str) -> None:
    text = f"{exc!s} {exc!r} {vars(exc)!r}"
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(
    ("missing", "present"),
    [
        ("KRAKEN_PRIME_API_KEY", {"KRAKEN_PRIME_API_SECRET": FAKE_SECRET}),
        ("KRAKEN_PRIME_API_SECRET", {"KRAKEN_PRIME_API_KEY": "K"}),
    ],
)
def test_a_missing_variable_is_named(
    clean_env: pytest.MonkeyPatch, missing: str, present: dict[str, str]
) -> None:
    for name, value in present.items():
        clean_env.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == missing
    assert missing in str(info.value)
    _no_secret(info.value, FAKE_SECRET)


def test_an_empty_variable_counts_as_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", "")
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_API_KEY"


def test_everything_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    key = unique_key()
    clean_env.setenv("KRAKEN_PRIME_API_KEY", key)
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    clean_env.setenv("KRAKEN_PRIME_BASE_URL", "https://prime.example")
    clean_env.setenv("KRAKEN_PRIME_RATE_LIMIT", "Pro")
    clean_env.setenv("KRAKEN_PRIME_NONCE_WINDOW", "5000")
    kwargs, sources = prime_settings({})
    assert kwargs == {
        "api_key": key,
        "api_secret": FAKE_SECRET,
        "base_url": "https://prime.example",
        "rate_limit": "pro",
        "nonce_window": 5000,
    }
    assert sources["api_secret"] == "KRAKEN_PRIME_API_SECRET"
    client = PrimeClient.from_env()
    assert client.base_url == "https://prime.example"
    assert client._gate.window_seconds == 5.0
    assert FAKE_SECRET not in repr(client)


def test_defaults_when_only_credentials_are_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    kwargs, _ = prime_settings({})
    assert kwargs["base_url"] == "https://api.kraken.com"
    assert kwargs["rate_limit"] == "auto"
    assert "nonce_window" not in kwargs
    clean_env.setenv("KRAKEN_PRIME_RATE_LIMIT", "none")
    assert prime_settings({})[0]["rate_limit"] is None


def test_keyword_arguments_override_and_skip_the_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KRAKEN_PRIME_BASE_URL", "not a url")
    clean_env.setenv("KRAKEN_PRIME_RATE_LIMIT", "bogus")
    key = unique_key()
    client = PrimeClient.from_env(
        api_key=key,
        api_secret=FAKE_SECRET,
        base_url="https://override.example",
        rate_limit=None,
        timeout=5.0,
    )
    assert client.base_url == "https://override.example"


def test_secret_file_strips_one_trailing_newline(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text(FAKE_SECRET + "\n")
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET_FILE", str(path))
    kwargs, sources = prime_settings({})
    assert kwargs["api_secret"] == FAKE_SECRET
    assert sources["api_secret"] == "KRAKEN_PRIME_API_SECRET_FILE"
    path.write_text(FAKE_SECRET + "\r\n")
    assert prime_settings({})[0]["api_secret"] == FAKE_SECRET
    path.write_text(FAKE_SECRET + "\n\n")  # only one newline goes
    assert prime_settings({})[0]["api_secret"] == FAKE_SECRET + "\n"
    PrimeClient.from_env()  # a secret file is as good as the variable


def test_secret_file_problems_name_the_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_API_SECRET_FILE"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    clean_env.setenv("KRAKEN_PRIME_API_SECRET_FILE", str(empty))
    with pytest.raises(ValidationError, match="empty"):
        PrimeClient.from_env()


def test_secret_and_secret_file_together_are_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text(FAKE_SECRET)
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    clean_env.setenv("KRAKEN_PRIME_API_SECRET_FILE", str(path))
    with pytest.raises(ValidationError, match="not both") as info:
        PrimeClient.from_env()
    _no_secret(info.value, FAKE_SECRET)


def test_a_bad_secret_names_its_variable_without_echoing_it(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = "not-base64-canary!!"
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", bad)
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_API_SECRET"
    _no_secret(info.value, bad)
    path = tmp_path / "secret"
    path.write_text(bad + "\n")
    clean_env.delenv("KRAKEN_PRIME_API_SECRET")
    clean_env.setenv("KRAKEN_PRIME_API_SECRET_FILE", str(path))
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_API_SECRET_FILE"
    _no_secret(info.value, bad)


@pytest.mark.parametrize(
    ("name", "value"),
    [("KRAKEN_PRIME_RATE_LIMIT", "fast"), ("KRAKEN_PRIME_NONCE_WINDOW", "-1"),
     ("KRAKEN_PRIME_NONCE_WINDOW", "5s"), ("KRAKEN_PRIME_BASE_URL", "http://prime.example"),
     ("KRAKEN_PRIME_SOLE_WRITER", "maybe")],
)  # fmt: skip
def test_bad_values_name_their_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == name


def test_fast_api_client_from_env(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as info:
        FastApiKeyClient.from_env()
    assert info.value.field == "KRAKEN_OAUTH_TOKEN"
    clean_env.setenv("KRAKEN_OAUTH_TOKEN", TOKEN_CANARY)
    clean_env.setenv("KRAKEN_PRIME_BASE_URL", "https://oauth.example")
    oauth = FastApiKeyClient.from_env()
    assert oauth.base_url == "https://oauth.example"
    assert TOKEN_CANARY not in repr(oauth)
    assert FastApiKeyClient.from_env(base_url="http://127.0.0.1:1").base_url.endswith(":1")
    clean_env.setenv("KRAKEN_PRIME_BASE_URL", "http://oauth.example")
    with pytest.raises(ValidationError) as info:
        FastApiKeyClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_BASE_URL"
    _no_secret(info.value, TOKEN_CANARY)


async def test_from_env_talks_to_a_sandbox(clean_env: pytest.MonkeyPatch) -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        clean_env.setenv("KRAKEN_PRIME_API_KEY", sb.api_key)
        clean_env.setenv("KRAKEN_PRIME_API_SECRET", sb.api_secret)
        clean_env.setenv("KRAKEN_PRIME_BASE_URL", sb.url)
        async with PrimeClient.from_env() as client:
            assert await client.api_users.list() == []
        clean_env.setenv("KRAKEN_OAUTH_TOKEN", sb.issue_token())
        async with FastApiKeyClient.from_env() as oauth:
            assert await oauth.fast_api_keys.list() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://api.kraken.com",
        "https://10.0.0.1:8443",
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://localhost:1234",
        "http://LOCALHOST",
        "http://[::1]:9000",
    ],
)
def test_accepted_base_urls(url: str) -> None:
    assert checked_base_url(url) == url
    PrimeClient(unique_key(), FAKE_SECRET, base_url=url)
    FastApiKeyClient(TOKEN_CANARY, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.kraken.com",
        "http://10.0.0.1",
        "http://0.0.0.0:8080",
        "http://[::2]",
        "http://localhost.example.com",
        "http://128.0.0.1",
        "ftp://127.0.0.1",
        "https://",
        "api.kraken.com",
        "http://[::1",
    ],
)
def test_refused_base_urls(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient(unique_key(), FAKE_SECRET, base_url=url)
    assert info.value.field == "base_url"
    with pytest.raises(ValidationError) as info:
        FastApiKeyClient(TOKEN_CANARY, base_url=url)
    assert info.value.field == "base_url"
    _no_secret(info.value, TOKEN_CANARY)


def test_neither_key_nor_secret_set_names_both(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient.from_env()
    assert info.value.field == "KRAKEN_PRIME_API_KEY"
    assert "KRAKEN_PRIME_API_SECRET" in str(info.value)


def test_off_is_none_for_the_rate_limit(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KRAKEN_PRIME_RATE_LIMIT", "off")
    assert prime_settings({"api_key": "K", "api_secret": FAKE_SECRET})[0]["rate_limit"] is None


@pytest.mark.parametrize(
    ("value", "sole"),
    [("true", True), ("1", True), ("Yes", True), ("false", False), ("0", False), ("off", False)],
)
def test_sole_writer_from_the_environment(
    clean_env: pytest.MonkeyPatch, value: str, sole: bool
) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    clean_env.setenv("KRAKEN_PRIME_SOLE_WRITER", value)
    assert prime_settings({})[0]["sole_writer"] is sole
    assert PrimeClient.from_env()._pipeline.claims.sole_writer is sole  # type: ignore[union-attr]
    oauth = FastApiKeyClient.from_env(access_token=TOKEN_CANARY)
    assert oauth._pipeline.claims.sole_writer is sole  # type: ignore[union-attr]
    # An argument given is not read from the environment.
    assert prime_settings({"sole_writer": not sole})[0]["sole_writer"] is (not sole)


def test_sole_writer_is_false_unless_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KRAKEN_PRIME_API_KEY", unique_key())
    clean_env.setenv("KRAKEN_PRIME_API_SECRET", FAKE_SECRET)
    assert "sole_writer" not in prime_settings({})[0]
    assert PrimeClient.from_env()._pipeline.claims.sole_writer is False  # type: ignore[union-attr]
