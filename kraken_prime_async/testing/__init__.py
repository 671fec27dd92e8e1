"""Testing code that uses the SDK, without Kraken: three ways, from the most faithful to the
narrowest (guide: ``docs/testing.md``).

* **The embedded sandbox** (``PrimeSandbox``), and this module
  as a **pytest plugin** (``pytest -p kraken_prime_async.testing`` or ``pytest_plugins =
  ["kraken_prime_async.testing"]``): fixtures ``prime_sandbox``, ``prime_client``,
  ``fast_api_client`` and the ``@pytest.mark.prime_sandbox(**options)`` marker (``_plugin``).
* ``MockTransport``: ``PrimeClient(key, secret, transport=MockTransport(handler))``; the
  handler answers each request with ``answer`` (``_mock``).
* ``aioresponses()``: the aioresponses context, made to work with every aiohttp the SDK
  allows, and ``answer_payload()`` for Kraken's envelopes (``_aioresponses``).

Importing this module imports neither pytest nor aioresponses: the plugin's fixtures load when
pytest loads the module as a plugin (``pytest_configure()``), and aioresponses when
``aioresponses()`` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._aioresponses import aioresponses
from ._mock import Answer, AnswerFactory, MockRequest, MockTransport, answer, answer_payload

if TYPE_CHECKING:
    import pytest

__all__ = [
    "Answer",
    "AnswerFactory",
    "MockRequest",
    "MockTransport",
    "aioresponses",
    "answer",
    "answer_payload",
]

#: The name the fixtures' module is registered under.
PLUGIN_NAME: Final = "kraken_prime_async.testing.fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """pytest hook, run when this module is loaded as a plugin: register the fixtures and the
    marker (``_plugin``)."""
    from . import _plugin

    if not config.pluginmanager.is_registered(_plugin):
        config.pluginmanager.register(_plugin, PLUGIN_NAME)
