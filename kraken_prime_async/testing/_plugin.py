"""The pytest plugin: a running Kraken Prime sandbox, and open clients on it, as fixtures.

``kraken_prime_async.testing.pytest_configure()`` registers this module when pytest loads
``kraken_prime_async.testing`` as a plugin (importing the package alone never imports pytest).
Opt in with ``pytest -p kraken_prime_async.testing`` or, in a ``conftest.py``::

    pytest_plugins = ["kraken_prime_async.testing"]

The package registers no ``pytest11`` entry point on purpose: nothing is loaded into test runs
that did not ask for it, and the generic fixture names stay free for projects that do not use it.
The fixtures are async and need pytest-asyncio (``asyncio_mode`` ``auto`` or ``strict``; they
run on the test's own event loop, function-scoped by default).

Fixtures
--------
prime_sandbox
    A started [`PrimeSandbox`][kraken_prime_async.sandbox.PrimeSandbox] (rate limit off unless
    configured), closed after the test.
prime_client
    An open [`PrimeClient`][kraken_prime_async.PrimeClient] signing with the sandbox owner's key.
fast_api_client
    An open [`FastApiKeyClient`][kraken_prime_async.FastApiKeyClient] with a freshly issued OAuth
    token.
prime_sandbox_options, prime_client_options
    The keyword arguments used to build them (``{"rate_limit": False}`` and ``{}``); override
    these fixtures in a ``conftest.py`` to change the defaults of a directory.

Marker
------
``@pytest.mark.prime_sandbox(**options)`` passes ``PrimeSandbox`` options (``tier``,
``rate_limit``, ``nonce_window``, ``latency``, ``seed``, ``auto_confirm_after``, ``clock``…) to the
fixture for one test, class or module; the closest marker wins. The clients take the sandbox's
``clock`` and ``nonce_window`` when given.

Faults read as what happens: ``prime_sandbox.faults.drop_after("SettlePrimeSettlementBatchAsset")``,
``prime_sandbox.faults.error("CreatePrimeApiUser", "EService:Unavailable")``,
``prime_sandbox.faults.delay_after(None, 0.5)``; see [`Faults`][kraken_prime_async.sandbox.Faults].
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from kraken_prime_async import FastApiKeyClient, PrimeClient
    from kraken_prime_async.sandbox import PrimeSandbox

__all__ = [
    "fast_api_client",
    "prime_client",
    "prime_client_options",
    "prime_sandbox",
    "prime_sandbox_options",
]

MARKER: Final = "prime_sandbox"
#: Options the clients take over from the sandbox when a test sets them.
_SHARED_WITH_CLIENTS: Final = ("clock", "nonce_window")

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the plugin then explains itself at use
    pytest_asyncio = None  # type: ignore[assignment]


def _async_fixture(function: Any) -> Any:
    """An async fixture on the test's loop, in pytest-asyncio's auto and strict modes alike."""
    if pytest_asyncio is None:  # pragma: no cover

        @pytest.fixture(name=function.__name__)
        def missing() -> None:
            pytest.fail(
                "kraken_prime_async.testing needs pytest-asyncio: pip install pytest-asyncio"
            )

        return missing
    return pytest_asyncio.fixture(function)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): PrimeSandbox options for the prime_sandbox fixture of this test",
    )


@pytest.fixture
def prime_sandbox_options() -> dict[str, Any]:
    """Default ``PrimeSandbox`` options of the ``prime_sandbox`` fixture (override to change)."""
    return {"rate_limit": False}


@pytest.fixture
def prime_client_options() -> dict[str, Any]:
    """Extra ``PrimeClient``/``FastApiKeyClient`` options (override to change)."""
    return {}


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # farthest first
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword options only")
        options.update(marker.kwargs)
    return options


def _shared(request: pytest.FixtureRequest, options: dict[str, Any]) -> dict[str, Any]:
    merged = {**request.getfixturevalue("prime_sandbox_options"), **_marker_options(request)}
    shared = {name: merged[name] for name in _SHARED_WITH_CLIENTS if name in merged}
    sleep = getattr(shared.get("clock"), "sleep", None)
    if inspect.iscoroutinefunction(sleep):  # a fake clock that advances when slept on
        shared["sleep"] = sleep
    return {**shared, **options}


@_async_fixture
async def prime_sandbox(
    request: pytest.FixtureRequest, prime_sandbox_options: dict[str, Any]
) -> AsyncIterator[PrimeSandbox]:
    """A started sandbox for one test (options: fixture defaults, then the marker's)."""
    from kraken_prime_async.sandbox import PrimeSandbox

    options = {**prime_sandbox_options, **_marker_options(request)}
    async with PrimeSandbox(**options) as sandbox:
        yield sandbox


@_async_fixture
async def prime_client(
    request: pytest.FixtureRequest,
    prime_sandbox: PrimeSandbox,
    prime_client_options: dict[str, Any],
) -> AsyncIterator[PrimeClient]:
    """An open ``PrimeClient`` on ``prime_sandbox`` with the owner's key."""
    from kraken_prime_async import PrimeClient

    options = _shared(request, prime_client_options)
    async with PrimeClient(
        prime_sandbox.api_key, prime_sandbox.api_secret, base_url=prime_sandbox.url, **options
    ) as client:
        yield client


@_async_fixture
async def fast_api_client(
    request: pytest.FixtureRequest,
    prime_sandbox: PrimeSandbox,
    prime_client_options: dict[str, Any],
) -> AsyncIterator[FastApiKeyClient]:
    """An open ``FastApiKeyClient`` on ``prime_sandbox`` with a token of both scopes."""
    from kraken_prime_async import FastApiKeyClient

    options = _shared(request, prime_client_options)
    options.pop("nonce_window", None)  # a Prime signing option
    token = prime_sandbox.issue_token()
    async with FastApiKeyClient(token, prime_sandbox.url, **options) as client:
        yield client
