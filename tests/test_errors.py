"""Every Kraken error string in the reference maps to its class; HTTP status only when the body
says nothing."""

from __future__ import annotations

import pytest

from kraken_prime_async import RawResponse
from kraken_prime_async import errors as e
from kraken_prime_async._endpoint import Endpoint, same
from kraken_prime_async._error_map import from_errors, from_status
from tests._fakes import html, kraken_error

CASES: list[tuple[str, type[e.APIError]]] = [
    ("EAPI:Invalid key", e.AuthenticationError),
    ("EAPI:Invalid signature", e.AuthenticationError),
    ("EAuth:Account temporary disabled", e.AuthenticationError),
    ("EAuth:Account unconfirmed", e.AuthenticationError),
    ("ESession:Invalid session", e.AuthenticationError),
    ("EAPI:Invalid nonce", e.InvalidNonceError),
    ("EAPI:Rate limit exceeded", e.RateLimitError),
    ("EService: Throttled: 1700000030", e.RateLimitError),
    ("EGeneral:Too many requests", e.RateLimitError),
    ("EAuth:Rate limit exceeded", e.RateLimitError),
    ("EAuth:Too many requests", e.RateLimitError),
    ("EOrder:Rate limit exceeded", e.RateLimitError),
    ("EGeneral:Temporary lockout", e.TemporaryLockoutError),
    ("EService:Unavailable", e.ServiceUnavailableError),
    ("EService:Busy", e.ServiceUnavailableError),
    ("EGeneral:Internal error", e.InternalServerError),
    ("EGeneral:Internal error:5", e.InternalServerError),
    ("EService:Deadline elapsed", e.DeadlineElapsedError),
    ("EGeneral:Invalid arguments", e.InvalidArgumentsError),
    ("EGeneral:Invalid arguments:user_id", e.InvalidArgumentsError),
    ("EAPI:Bad request", e.InvalidArgumentsError),
    ("EGeneral:Unknown Method", e.InvalidArgumentsError),
    ("ETrade:Invalid request", e.InvalidArgumentsError),
    ("EGeneral:Permission denied", e.PermissionDeniedError),
    ("EAccount:Invalid permissions", e.PermissionDeniedError),
    ("EOrder:Insufficient funds", e.APIError),
    ("EBM:limit exceeded:CAL", e.APIError),
    ("ESomething:never seen before", e.APIError),
]


@pytest.mark.parametrize(("raw", "cls"), CASES, ids=[raw for raw, _ in CASES])
def test_error_strings_map_by_prefix(raw: str, cls: type[e.APIError]) -> None:
    exc = from_errors([raw], status=200, operation="GetPrimeApiUser")
    assert type(exc) is cls
    assert exc.errors == (raw,)
    assert exc.status == 200 and exc.operation == "GetPrimeApiUser"
    assert raw in str(exc)


def test_retryability_follows_the_policy() -> None:
    never = [
        "EAPI:Invalid key",
        "EGeneral:Permission denied",
        "EGeneral:Invalid arguments",
        "EGeneral:Temporary lockout",
    ]
    always = ["EAPI:Invalid nonce", "EAPI:Rate limit exceeded", "EService:Unavailable"]
    assert not any(from_errors([raw], status=200, operation="m").retryable for raw in never)
    assert all(from_errors([raw], status=200, operation="m").retryable for raw in always)


def test_throttled_carries_the_time_to_wait_until() -> None:
    exc = from_errors(["EService: Throttled: 1700000030"], status=200, operation="m")
    assert isinstance(exc, e.RateLimitError) and exc.retry_at == 1700000030.0
    compact = from_errors(["EService:Throttled:1700000031"], status=200, operation="m")
    assert isinstance(compact, e.RateLimitError) and compact.retry_at == 1700000031.0


def test_lockout_outranks_everything_else_in_one_answer() -> None:
    exc = from_errors(
        ["EAPI:Invalid nonce", "EGeneral:Temporary lockout"], status=200, operation="m"
    )
    assert type(exc) is e.TemporaryLockoutError and not exc.retryable


def test_code_is_the_category_and_type() -> None:
    exc = from_errors(["EGeneral:Invalid arguments:user_id"], status=200, operation="m")
    assert exc.code == "EGeneral:Invalid arguments"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, e.RateLimitError),
        (401, e.AuthenticationError),
        (403, e.AuthenticationError),
        (500, e.InternalServerError),
        (502, e.ServiceUnavailableError),
        (503, e.ServiceUnavailableError),
        (504, e.ServiceUnavailableError),
        (418, e.APIError),
    ],
)
def test_bare_http_statuses(status: int, cls: type[e.APIError]) -> None:
    exc = from_status(status, "<html>", operation="m")
    assert type(exc) is cls and exc.status == status and exc.errors == ()


ENDPOINT: Endpoint[dict[str, int], dict[str, int]] = Endpoint(
    "ListPrimeApiUsers", dict[str, int], same, idempotent=True
)


def _no_redact(text: str) -> str:
    return text


def test_the_error_array_wins_over_a_result() -> None:
    body = b'{"error":["EGeneral:Invalid arguments"],"result":{"a":1}}'
    with pytest.raises(e.InvalidArgumentsError):
        ENDPOINT.decode(RawResponse(200, body), redact=_no_redact)


def test_warnings_do_not_fail_a_call() -> None:
    body = b'{"error":["WGeneral:Something odd"],"result":{"a":1}}'
    assert ENDPOINT.decode(RawResponse(200, body), redact=_no_redact) == {"a": 1}


def test_an_error_with_an_empty_result_object_is_still_the_error() -> None:
    raw = kraken_error("EAPI:Invalid key")
    typed: Endpoint[list[int], list[int]] = Endpoint("X", list[int], same, idempotent=True)
    with pytest.raises(e.AuthenticationError):
        typed.decode(raw, redact=_no_redact)


def test_the_declared_500_body_is_classified_by_its_error_strings() -> None:
    raw = kraken_error("EService:Unavailable", status=500, result=False)
    with pytest.raises(e.ServiceUnavailableError) as info:
        ENDPOINT.decode(raw, redact=_no_redact)
    assert info.value.status == 500


def test_a_proxy_html_page_becomes_a_clear_error_with_a_redacted_snippet() -> None:
    raw = html(502, "Bad Gateway SECRETISH")
    with pytest.raises(e.ServiceUnavailableError) as info:
        ENDPOINT.decode(raw, redact=lambda t: t.replace("SECRETISH", "<redacted>"))
    assert "HTTP 502" in str(info.value) and "Bad Gateway" in str(info.value)
    assert "SECRETISH" not in str(info.value)


def test_non_json_200_is_a_retryable_response_error_that_quotes_nothing() -> None:
    with pytest.raises(e.ResponseValidationError) as info:
        ENDPOINT.decode(
            RawResponse(200, b'{"error":[],"result":{"api_secret":"abc'), redact=_no_redact
        )
    assert info.value.retryable and "abc" not in str(info.value)


def test_wrong_shape_is_a_non_retryable_response_error() -> None:
    with pytest.raises(e.ResponseValidationError) as info:
        ENDPOINT.decode(RawResponse(200, b'{"error":[],"result":{"a":"x"}}'), redact=_no_redact)
    assert not info.value.retryable and "$.result" in str(info.value)


def test_neither_errors_nor_result() -> None:
    with pytest.raises(e.ResponseValidationError, match="neither"):
        ENDPOINT.decode(RawResponse(200, b'{"error":[]}'), redact=_no_redact)


def test_validation_error_is_a_value_error_naming_the_field() -> None:
    exc = e.ValidationError("limit", "must be between 1 and 200, got 500")
    assert isinstance(exc, ValueError) and exc.field == "limit"
    assert str(exc) == "limit: must be between 1 and 200, got 500"
