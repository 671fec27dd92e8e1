"""Sharing one API key between processes and hosts.

``_base`` holds the seam (:class:`Fleet`, :class:`FleetGate`) and what the backends share;
``_file`` is :class:`FileLockFleet` (processes on one host), ``_redis`` is :class:`RedisFleet`
(hosts sharing a Redis) with its Lua scripts in ``_redis_scripts``. The backends are imported
on first use, never by this package.
"""

from ._base import Fleet, FleetCounterBase, FleetGate, key_id, poll_delays

__all__ = ["Fleet", "FleetCounterBase", "FleetGate", "key_id", "poll_delays"]
