"""Child process: take N nonces from a shared source and print them, one per line."""

from __future__ import annotations

import asyncio
import sys

from kraken_prime_async import FileLockNonceSource, RedisNonceSource


async def main(kind: str, where: str, count: int) -> None:
    source: FileLockNonceSource | RedisNonceSource
    if kind == "file":
        source = FileLockNonceSource(where)
    else:
        source = RedisNonceSource(where, key="kp-test:nonce")
    nonces = [await source.next_nonce() for _ in range(count)]
    if isinstance(source, RedisNonceSource):
        await source.close()
    sys.stdout.write("\n".join(map(str, nonces)) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
