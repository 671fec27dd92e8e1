"""Shared fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests._fakes import FAKE_API_KEY, FAKE_SECRET, ScriptedTransport


@pytest.fixture
def transport() -> ScriptedTransport:
    """A transport that answers from a script and records every request."""
    return ScriptedTransport()


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the SDK's logger, at DEBUG."""
    with caplog.at_level(logging.DEBUG, logger="kraken_prime_async"):
        yield caplog


__all__ = ["FAKE_API_KEY", "FAKE_SECRET"]
