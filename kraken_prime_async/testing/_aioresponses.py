"""``aioresponses()`` that works with every aiohttp the SDK allows.

aioresponses (0.7.x) builds its fake ``aiohttp.ClientResponse`` without ``stream_writer``, a
keyword aiohttp 3.14 made required: every mocked request then fails with ``TypeError:
ClientResponse.__init__() missing 1 required keyword-only argument: 'stream_writer'``. The
context returned here gives each mocked response a response class that supplies it (a response
built for a request that was already sent reads only ``stream_writer.output_size``), whether
the mock was added with ``payload=``, with a ``callback=`` or with the caller's own
``response_class=``. On an aiohttp without that keyword nothing is changed. Nothing global is
patched: plain ``aioresponses.aioresponses`` stays as it is.

aioresponses is not a dependency of the SDK: ``pip install 'kraken-prime-async[testing]'``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Final

import aiohttp

__all__ = ["INSTALL_HINT", "aioresponses"]

INSTALL_HINT: Final = (
    "kraken_prime_async.testing.aioresponses() needs the aioresponses package: "
    "pip install 'kraken-prime-async[testing]'"
)


class _SentWriter:
    """The ``stream_writer`` of a request already sent: nothing more will be written."""

    __slots__ = ()
    output_size = 0


@functools.cache
def _needs_stream_writer() -> bool:
    parameters = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    return "stream_writer" in parameters


@functools.cache
def compatible(response_class: type[aiohttp.ClientResponse]) -> type[aiohttp.ClientResponse]:
    """``response_class``, or a subclass of it that supplies ``stream_writer`` when this aiohttp
    requires it."""
    if not _needs_stream_writer() or getattr(response_class, "_kraken_compatible", False):
        return response_class

    def __init__(self: aiohttp.ClientResponse, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentWriter())
        response_class.__init__(self, method, url, **kwargs)

    namespace = {"__init__": __init__, "_kraken_compatible": True, "__module__": __name__}
    return type(response_class.__name__, (response_class,), namespace)


def _compatible_callback(callback: Any) -> Any:
    """``callback``, with the response class of the ``CallbackResult`` it returns made
    compatible (aioresponses builds that response with the result's class, not the mock's)."""

    def fix(result: Any) -> Any:
        if result is not None:
            result.response_class = compatible(result.response_class or aiohttp.ClientResponse)
        return result

    if inspect.iscoroutinefunction(callback):

        async def asynchronous(url: Any, **kwargs: Any) -> Any:
            return fix(await callback(url, **kwargs))

        return asynchronous

    def synchronous(url: Any, **kwargs: Any) -> Any:
        return fix(callback(url, **kwargs))

    return synchronous


@functools.lru_cache(maxsize=1)
def _context_class() -> type[Any]:
    try:
        from aioresponses import aioresponses as upstream
    except ImportError:
        raise ModuleNotFoundError(INSTALL_HINT, name="aioresponses") from None
    signature = inspect.signature(upstream.add)

    class CompatibleAioresponses(upstream):
        """``aioresponses.aioresponses`` whose mocked responses build on every aiohttp."""

        def add(self, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            arguments = bound.arguments
            given = arguments.get("response_class") or aiohttp.ClientResponse
            arguments["response_class"] = compatible(given)
            if callable(arguments.get("callback")):
                arguments["callback"] = _compatible_callback(arguments["callback"])
            super().add(*bound.args[1:], **bound.kwargs)

    CompatibleAioresponses.__qualname__ = CompatibleAioresponses.__name__ = "aioresponses"
    return CompatibleAioresponses


def aioresponses(**kwargs: Any) -> Any:
    """An ``aioresponses.aioresponses(**kwargs)`` context that works with every aiohttp the SDK
    allows (3.10 up to the newest 3.x).

    Use it like aioresponses itself (``with aioresponses() as mocked: mocked.post(url,
    payload=answer_payload(...))``); build Kraken envelopes with
    ``answer_payload()``.

    Raises
    ------
    ModuleNotFoundError
        When aioresponses is not installed; the message names the extra to install
        (``kraken-prime-async[testing]``).
    """
    return _context_class()(**kwargs)
