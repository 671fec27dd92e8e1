"""A loopback HTTP/1.1 server that answers every request with exactly the bytes it is told to:
any status, a true, missing, short or long ``Content-Length``, chunked, endless or gzip-encoded
bodies."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

_CHUNK = 64 * 1024


def _head(status: int, framing: str, size: int) -> bytes:
    lines = [f"HTTP/1.1 {status} Fuzz", "Content-Type: application/json", "Connection: close"]
    if framing == "length":
        lines.append(f"Content-Length: {size}")
    elif framing == "gzip":
        lines += [f"Content-Length: {size}", "Content-Encoding: gzip"]
    elif framing == "short-length":
        lines.append(f"Content-Length: {size // 2}")
    elif framing == "long-length":
        lines.append(f"Content-Length: {size + 100}")
    elif framing in ("chunked", "endless"):
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _write_body(writer: asyncio.StreamWriter, framing: str, body: bytes) -> None:
    if framing == "endless":
        chunk = (body or b"x")[:_CHUNK]
        while True:  # until the client hangs up
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    if framing == "chunked":
        for start in range(0, len(body), _CHUNK):
            part = body[start : start + _CHUNK]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
    else:
        writer.write(body)
    await writer.drain()


@contextlib.asynccontextmanager
async def raw_http_server(status: int, framing: str, body: bytes) -> AsyncIterator[str]:
    """Serve the answer on 127.0.0.1; yields the base URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            payload = gzip.compress(body) if framing == "gzip" else body
            writer.write(_head(status, framing, len(payload)))
            await _write_body(writer, framing, payload)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async with serve_on_loopback(handle) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_on_loopback(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """Serve ``handle`` on a free 127.0.0.1 port; yields the base URL.

    On exit, handlers still running (a request never answered) are cancelled and awaited:
    before Python 3.12 closing the server leaves them pending, and a handler task destroyed
    with the loop reports its socket as a ResourceWarning in whichever test runs next.
    """
    running: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await handle(reader, writer)
        finally:
            running.discard(task)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
