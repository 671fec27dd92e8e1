"""Loopback HTTP/1.1 server for the per-call benchmarks, run in its own process.

Raw asyncio protocol, keep-alive, pre-encoded answers. Any POST (any path, any body) gets the
same answer: one listener serves the tiny answer, another the large one. Signatures are not
checked. Run: ``python -m benchmarks.server``; it prints ``PORTS <tiny> <large>`` when ready and
exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from . import payloads

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)


def http_response(body: bytes) -> bytes:
    """A complete keep-alive 200 answer carrying ``body``."""
    return _HEAD % len(body) + body


class AnswerProtocol(asyncio.Protocol):
    """Reads requests with a ``Content-Length`` body and answers each with ``response``."""

    def __init__(self, response: bytes) -> None:
        self._response = response
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._answer_one():
            pass

    def _answer_one(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).lower()
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked request bodies are not supported by the bench server")
        total = end + 4 + length
        if len(self._buffer) < total:
            return False
        del self._buffer[:total]
        assert self._transport is not None
        self._transport.write(self._response)
        if close:
            self._transport.close()
            return False
        return True


async def serve() -> None:
    loop = asyncio.get_running_loop()
    tiny = http_response(payloads.tiny_body())
    large = http_response(payloads.large_body())
    servers = [
        await loop.create_server(lambda r=r: AnswerProtocol(r), "127.0.0.1", 0, backlog=2048)
        for r in (tiny, large)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(f"PORTS {ports[0]} {ports[1]}", flush=True)
    # Stop when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(serve())
