"""Load the sandbox fixtures (prime_sandbox, prime_client, fast_api_client) for this directory.

Needs pytest-asyncio (``pip install 'kraken-prime-async[testing]'``) and the settings in
``pytest.ini``; this example works with ``asyncio_mode = "auto"`` and ``"strict"``.
"""

import pytest

pytest_plugins = ["kraken_prime_async.testing"]


@pytest.fixture
def prime_sandbox_options() -> dict[str, object]:
    """This directory's sandbox defaults (a test's @pytest.mark.prime_sandbox adds to them)."""
    return {"rate_limit": False, "seed": 7}
