"""The HTTP layer: the ``Transport`` seam, the aiohttp transport (the only home of aiohttp's
API), its deadline timer and the transports that wrap another."""

from __future__ import annotations

import aiohttp

from .aiohttp import AiohttpTransport
from .base import Transport
from .wrappers import SizeCheckedTransport


def build_transport(
    transport: Transport | None, session: aiohttp.ClientSession | None, max_response_bytes: int
) -> Transport:
    """The client's transport: its own [`AiohttpTransport`][kraken_prime_async.AiohttpTransport], or
    the caller's, size-checked."""
    if transport is None:
        return AiohttpTransport(session, max_response_bytes=max_response_bytes)
    return SizeCheckedTransport(transport, max_response_bytes)
