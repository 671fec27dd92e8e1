"""One process of the kill tests: run one journaled write with a file or Redis journal and
print its result as JSON (``python -m tests.journal._worker CONFIG_JSON``).

The test kills it with SIGKILL at a random point and runs it again with the same
idempotency key; it reads the sandbox's state to count effects.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from kraken_prime_async import PrimeClient
from kraken_prime_async.models import CreatedApiKey


def _journal(config: dict[str, Any]) -> Any:
    if "redis" in config:
        from kraken_prime_async import RedisJournal

        return RedisJournal(config["redis"])
    return config["journal"]


def _key(created: CreatedApiKey) -> dict[str, Any]:
    return {"id": created.id, "withheld": created.api_secret.withheld}


async def _run(client: PrimeClient, config: dict[str, Any]) -> Any:
    op, idem = config["op"], config.get("idem")
    if op == "create_user":
        user = await client.api_users.create(config["name"], "Trader", idempotency_key=idem)
        return {"id": user.id}
    if op == "create_key":
        return _key(await client.api_user_keys.create(config["user_id"], idempotency_key=idem))
    if op == "create_batch":
        return {"id": (await client.settlement.create_batch(idempotency_key=idem)).id}
    if op == "settle_asset":
        transfer = await client.settlement.settle_asset(
            config["batch_id"], config["asset"], idempotency_key=idem
        )
        return {"id": transfer.id}
    if op == "settle_batch":
        report = await client.settlement.settle_batch(
            config["batch_id"], concurrency=config.get("concurrency", 4)
        )
        return {
            "complete": report.complete,
            "settled": len(report.settled),
            "failed": [(leg.asset, leg.reason) for leg in report.failed],
            "unknown": len(report.unknown),
        }
    if op == "rotate":
        delivered = Path(config["secret_file"])

        def keep(new: CreatedApiKey) -> None:
            delivered.write_text(json.dumps([new.id, new.api_secret.get_secret_value()]))

        new = await client.api_user_keys.rotate(
            config["user_id"], config["key_id"], verify=True, on_new_key=keep
        )
        return {"id": new.id}
    if op == "resolve":
        found = await client.journal.resolve_pending()
        return {"resolved": [[r.operation, r.status] for r in found]}
    raise SystemExit(f"unknown op {op}")


async def main(config: dict[str, Any]) -> None:
    journal = _journal(config)
    fleet: Any = None
    if "redis" in config:  # the hosts of a fleet: one key's nonces shared through Redis too
        from kraken_prime_async import RedisFleet

        fleet = RedisFleet(config["redis"])
    client = PrimeClient(
        config["api_key"],
        config["api_secret"],
        base_url=config["base_url"],
        nonce_window=config.get("window", 0),
        rate_limit=None,
        abandon_hold=0.2,
        journal=journal,
        sole_writer=True,  # the only writer on its sandbox: a lost create resolves exactly
        fleet=fleet,
    )
    try:
        async with client:
            result = await _run(client, config)
    finally:
        if not isinstance(journal, str):
            await journal.close()
        if fleet is not None:
            await fleet.close()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
