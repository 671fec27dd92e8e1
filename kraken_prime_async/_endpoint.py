"""Endpoints as data, and decoding of Kraken's ``{"error": [...], "result": ...}`` envelope.

An ``Endpoint`` says everything the pipeline needs: the wire operation name, the HTTP verb and
path (``POST /0/private/<operation>`` for every Prime endpoint), the Struct the ``result`` decodes
into, how to unwrap it (``data``/``batch``/``transfer`` wrappers), and whether the call is
idempotent (may be re-sent after its answer was lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from . import _error_map
from ._constants import ERROR_BODY_SNIPPET, LOGGER_NAME, PRIVATE_PATH_PREFIX
from ._secret import SecretStr
from ._transports.base import RawResponse
from .errors import ResponseValidationError

T = TypeVar("T")
W = TypeVar("W")
R = TypeVar("R")

logger = logging.getLogger(LOGGER_NAME)


class Envelope(msgspec.Struct, Generic[T], gc=False):
    """Kraken's response envelope with a typed ``result``."""

    error: list[str] = []
    result: T | UnsetType = UNSET


class ErrorEnvelope(msgspec.Struct, gc=False):
    """The envelope's ``error`` array alone (``result`` skipped)."""

    error: list[str] = []


class Data(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """``{"data": ...}`` wrapper used by Get/List answers."""

    data: T


def _dec_hook(tp: type[Any], obj: Any) -> Any:
    if tp is SecretStr and isinstance(obj, str):
        return SecretStr(obj)
    # msgspec turns a TypeError into a ValidationError (a malformed answer); it would let a
    # NotImplementedError escape.
    raise TypeError(f"Expected `str`, got `{type(obj).__name__}`")


_error_decoder = msgspec.json.Decoder(ErrorEnvelope)


class Endpoint(Generic[W, R]):
    """One API operation.

    Parameters
    ----------
    operation : str
        Wire name, e.g. ``"GetPrimeApiUser"`` (for OAuth operations, a name for logs and errors).
    wire_type : type
        What ``result`` decodes into.
    unwrap : callable
        Turns the decoded ``result`` into what the SDK method returns.
    idempotent : bool
        Whether re-sending after a lost answer cannot cause a second effect.
    cost : float
        What one call adds to Kraken's call counter (1 for every Prime endpoint).
    http_method : str
        HTTP verb. ``GET`` requests carry no body; the others send the JSON body.
    path : str, optional
        URL path under the base URL; default ``/0/private/<operation>``.
    """

    __slots__ = (
        "_decoder",
        "cost",
        "http_method",
        "idempotent",
        "operation",
        "path",
        "path_bytes",
        "unwrap",
        "wire_type",
    )

    def __init__(
        self,
        operation: str,
        wire_type: Any,
        unwrap: Callable[[W], R],
        *,
        idempotent: bool,
        cost: float = 1.0,
        http_method: str = "POST",
        path: str | None = None,
    ) -> None:
        self.operation = operation
        self.http_method = http_method
        self.path = f"{PRIVATE_PATH_PREFIX}{operation}" if path is None else path
        self.path_bytes = self.path.encode("ascii")
        self.wire_type = wire_type
        self.unwrap = unwrap
        self.idempotent = idempotent
        self.cost = cost
        self._decoder: msgspec.json.Decoder[Envelope[W]] | None = None

    @property
    def decoder(self) -> msgspec.json.Decoder[Envelope[W]]:
        """The envelope decoder, built on first use and reused."""
        if self._decoder is None:
            self._decoder = msgspec.json.Decoder(Envelope[self.wire_type], dec_hook=_dec_hook)  # type: ignore[name-defined]
        return self._decoder

    def decode(self, answer: RawResponse, *, redact: Callable[[str], str]) -> R:
        """Turn an answer into the result, or raise the matching exception.

        The ``error`` array is looked at before the result is used. Bodies of 2xx answers are never
        quoted in exceptions (they may carry a new key's secret); non-2xx bodies are quoted
        truncated. Both the quoted snippet and the ``error`` strings pass through ``redact`` (a
        server may echo a credential back) before anything else is done with them.

        The body is only ever reached through ``answer`` (whose ``repr`` hides it): no frame on
        an error's traceback holds the answer's bytes as a local.
        """
        status = answer.status
        if 200 <= status < 300:
            try:
                envelope = self.decoder.decode(answer.body)
            except msgspec.ValidationError as exc:
                errors = _redacted(_errors_only(answer.body), redact)
                if any(_error_map.is_error(entry) for entry in errors):
                    raise _error_map.from_errors(
                        errors, status=status, operation=self.operation
                    ) from None
                raise ResponseValidationError(
                    f"{self.operation}: unexpected answer shape: {exc}",
                    status=status,
                    operation=self.operation,
                ) from None
            except msgspec.DecodeError:
                raise ResponseValidationError(
                    f"{self.operation}: answer is not valid JSON ({len(answer.body)} bytes)",
                    status=status,
                    operation=self.operation,
                    retryable=True,
                ) from None
            except RecursionError:
                raise self._too_deep(status) from None
            if envelope.error:
                errors = _redacted(envelope.error, redact)
                if any(_error_map.is_error(entry) for entry in errors):
                    # No frame keeps what the server sent once an error leaves: the envelope's
                    # error strings may quote a credential (only the redacted copy goes on).
                    del envelope
                    raise _error_map.from_errors(errors, status=status, operation=self.operation)
                logger.warning("%s answered with warnings: %s", self.operation, errors)
            if isinstance(envelope.result, UnsetType):
                raise ResponseValidationError(
                    f"{self.operation}: answer has neither errors nor a result",
                    status=status,
                    operation=self.operation,
                )
            try:
                return self.unwrap(envelope.result)
            except RecursionError:  # an unwrap that renders a nested result
                raise self._too_deep(status) from None
        errors = _redacted(_errors_only(answer.body), redact)
        if errors:
            raise _error_map.from_errors(errors, status=status, operation=self.operation)
        raise _error_map.from_status(status, _snippet(answer, redact), operation=self.operation)

    def _too_deep(self, status: int) -> ResponseValidationError:
        return ResponseValidationError(
            f"{self.operation}: answer is nested too deeply to decode",
            status=status,
            operation=self.operation,
        )

    def __repr__(self) -> str:
        return f"Endpoint({self.operation!r}, idempotent={self.idempotent})"


def _snippet(answer: RawResponse, redact: Callable[[str], str]) -> str:
    """The start of a non-JSON error body, redacted BEFORE it is cut (a credential cut in half
    would no longer match) and with whitespace collapsed."""
    text = redact(answer.body.decode("utf-8", "replace"))
    return " ".join(text[: ERROR_BODY_SNIPPET * 2].split())[:ERROR_BODY_SNIPPET]


def _redacted(errors: list[str], redact: Callable[[str], str]) -> list[str]:
    return [redact(entry) for entry in errors]


def _errors_only(body: bytes) -> list[str]:
    try:
        return _error_decoder.decode(body).error
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return []


def same(value: T) -> T:
    """Identity unwrap for results that are not wrapped."""
    return value


def data(value: Data[T]) -> T:
    """Unwrap ``{"data": ...}``."""
    return value.data
