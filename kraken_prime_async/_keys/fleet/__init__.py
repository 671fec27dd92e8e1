"""Sharing one API key between processes and hosts.

``_base`` holds the seam ([`Fleet`][kraken_prime_async.Fleet],
[`FleetGate`][kraken_prime_async.FleetGate]) and what the backends share;
``_file`` is [`FileLockFleet`][kraken_prime_async.FileLockFleet] (processes on one host), ``_redis``
is [`RedisFleet`][kraken_prime_async.RedisFleet]
(hosts sharing a Redis) with its Lua scripts in ``_redis_scripts``. The backends are imported
on first use, never by this package.
"""

from ._base import Fleet, FleetCounterBase, FleetGate, key_id, poll_delays

__all__ = ["Fleet", "FleetCounterBase", "FleetGate", "key_id", "poll_delays"]
