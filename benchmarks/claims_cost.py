"""What registering creates (claims) costs per ``api_users.create``: the same creates through
``MockTransport`` with the client's registrations and without, interleaved, in one run.

``.venv/bin/python -m benchmarks.claims_cost``. Each run makes 400 creates of one scope, so later
runs register against up to a few thousand live registrations (they live ``CLAIM_TTL`` s). A
registration is stamped, not compared with the others: those are read only when an answer is
lost, so the cost per create does not grow with them (it did, to +521 us per create at 6.3x,
when each registration read every live one of its scope).
"""

import asyncio
import base64
import statistics
import time

from kraken_prime_async import PrimeClient
from kraken_prime_async.testing import MockTransport, answer

N = 400


def handler(req):
    if req.operation == "ListPrimeApiUsers":
        return answer(result={"data": []})
    return answer(result={"id": "U1", "name": "A", "status": "Enabled", "roles": ["Trader"]})


async def run(claims_on: bool) -> float:
    client = PrimeClient(
        "KEY" + str(claims_on) + str(time.time_ns()),
        base64.b64encode(b"s" * 32).decode(),
        transport=MockTransport(handler),
        rate_limit=None,
        journal=None,
    )
    async with client:
        if not claims_on:
            client._pipeline.claims = None  # the mechanism off, as a bare pipeline has it
        t = time.perf_counter()
        for _ in range(N):
            await client.api_users.create(name="A", role="Trader")
        return (time.perf_counter() - t) / N * 1e6


async def main():
    on, off = [], []
    for _ in range(5):
        off.append(await run(False))
        on.append(await run(True))
    a, b = statistics.median(on), statistics.median(off)
    print(f"create with claims {a:.1f} us, without {b:.1f} us, ratio {a / b:.3f}, +{a - b:.1f} us")


asyncio.run(main())
