"""Shared fixtures, and the aioresponses shim for aiohttp >= 3.14."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import aioresponses.core
import pytest

from tests._fakes import FAKE_API_KEY, FAKE_SECRET, ScriptedTransport


def _install_aioresponses_shim() -> None:
    """aiohttp 3.14's ``ClientResponse`` requires ``stream_writer``; aioresponses 0.7.9 omits it.

    A response built for an already-sent request only reads ``stream_writer.output_size``.
    """
    params = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    if "stream_writer" not in params:
        return

    class _Response(aiohttp.ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
            super().__init__(method, url, **kwargs)

    aioresponses.core.ClientResponse = _Response  # type: ignore[attr-defined]


_install_aioresponses_shim()


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
