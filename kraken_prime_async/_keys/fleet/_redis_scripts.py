"""The Lua scripts [`RedisFleet`][kraken_prime_async.RedisFleet] runs atomically in Redis.

Each script's comment gives its ``KEYS``/``ARGV`` contract; ``_redis.py`` is the only caller.
The counter's constants (``$HEADROOM``, ...) are written into the scripts' text here, from
``pacing`` and ``_constants``, instead of being sent with every call.
"""

from __future__ import annotations

from typing import Final

from ..._constants import AUTO_RATE_LIMIT_QUIET
from ..pacing import _CALL_HISTORY, _FASTEST_FIRST, _TOLERANCE, HEADROOM, TIERS


def _bake(script: str) -> str:
    """``script`` with the counter's constants in place of their ``$NAME``."""
    tiers = ", ".join(
        f"{{{TIERS[name].max_counter!r}, {TIERS[name].decay_per_second!r}}}"
        for name in _FASTEST_FIRST
    )
    for name, value in (
        ("$HEADROOM", repr(HEADROOM)),
        ("$TOLERANCE", repr(_TOLERANCE)),
        ("$HISTORY", repr(_CALL_HISTORY)),
        ("$QUIET", repr(AUTO_RATE_LIMIT_QUIET)),
        ("$TIERS", "{" + tiers + "}"),
    ):
        script = script.replace(name, value)
    return script


# Lua numbers are doubles: exact for integers below 2**53, which "ms" and "us" nonces are.
NONCE_LUA: Final = """
local stored = redis.call('HMGET', KEYS[1], 'last', 'unit')
if stored[2] and stored[2] ~= ARGV[2] then
  return redis.error_reply('KP_UNIT ' .. stored[2])
end
local last = tonumber(stored[1] or '0')
local nonce = tonumber(ARGV[1])
if nonce <= last then nonce = last + 1 end
redis.call('HSET', KEYS[1], 'last', string.format('%d', nonce), 'unit', ARGV[2])
return nonce
"""

# KEYS: inflight (token -> start ms), leases (token -> expiry ms)
# ARGV: token, now ms, cap, window safety ms, lease ms
GATE_ACQUIRE_LUA: Final = """
local now = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, token in ipairs(expired) do
  redis.call('ZREM', KEYS[1], token)
  redis.call('ZREM', KEYS[2], token)
end
local n = redis.call('ZCARD', KEYS[1])
local granted = n == 0
if not granted and n < tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  granted = now - tonumber(oldest[2]) < tonumber(ARGV[4])
end
if granted then
  local lease = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
  redis.call('PEXPIRE', KEYS[2], lease)
  return 1
end
return 0
"""

# The counter hash: value, updated, blocked, max, decay (the tier; max 0: none), learnt (when
# rate_limit="auto" learnt the tier from a refusal; 0: a member gave it; absent: written before
# the field existed, counted as learnt at `updated`). The list: the auto members' recent send
# times (ARGV as given), the newest last.
#
# KEYS: counter hash, send-times list. ARGV: now, cost, max, decay (0 0: an auto member, paced
# by the fleet's tier, if any). An auto member drops a learnt tier after the quiet period and
# records the send time (the list keeps the last $HISTORY).
# Returns {delay, max, decay, blocked_until, learnt} as strings (Lua numbers would be truncated).
COUNTER_ACQUIRE_LUA: Final = _bake("""
local h = redis.call('HMGET', KEYS[1], 'value', 'updated', 'blocked', 'max', 'decay', 'learnt')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local max, decay = tonumber(ARGV[3]), tonumber(ARGV[4])
local auto = max < 1
local value, updated = tonumber(h[1] or '0'), tonumber(h[2] or ARGV[1])
local blocked, learnt = tonumber(h[3] or '0'), 0
if auto then
  max, decay = tonumber(h[4] or '0'), tonumber(h[5] or '0')
  if max >= 1 then learnt = tonumber(h[6] or h[2] or '0') end
  if learnt > 0 and now - learnt >= $QUIET then
    max, decay, learnt, value = 0, 0, 0, 0
    redis.call('HSET', KEYS[1], 'value', '0', 'max', '0', 'decay', '0', 'learnt', '0')
  end
end
if max >= 1 and now > updated then value = math.max(0, value - (now - updated) * decay) end
if now > updated then updated = now end
local delay = math.max(0, blocked - now)
if max >= 1 then
  local excess = value + cost - (max - $HEADROOM)
  if excess > $TOLERANCE then delay = math.max(delay, excess / decay) end
end
if delay <= $TOLERANCE then
  delay = 0
  if max >= 1 then
    redis.call('HSET', KEYS[1], 'value', tostring(value + cost), 'updated', tostring(updated),
               'max', tostring(max), 'decay', tostring(decay), 'learnt', tostring(learnt))
  end
  if auto then
    redis.call('RPUSH', KEYS[2], ARGV[1])
    redis.call('LTRIM', KEYS[2], -$HISTORY, -1)
  end
end
return {tostring(delay), tostring(max), tostring(decay), tostring(blocked), tostring(learnt)}
""")

# KEYS: counter hash, send-times list. ARGV: now, cost, retry_at (or ''), max, decay (0 0: an
# auto member), auto ('1' or '0'). $TIERS: the documented tiers' max and decay, fastest
# first. As CounterState.refused() (_base.py): a member's own tier is stored as
# given; on a counter refusal an auto member makes the fleet's tier the fastest that explains
# it from the send times (the slowest when none does), or, with a learnt tier in force, the next
# slower one, learnt now. Throttled (retry_at) changes no tier.
# Returns {max, decay, learnt, blocked_until} as strings.
COUNTER_REFUSED_LUA: Final = _bake("""
local h = redis.call('HMGET', KEYS[1], 'value', 'updated', 'blocked', 'max', 'decay', 'learnt')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local value, updated = tonumber(h[1] or '0'), tonumber(h[2] or ARGV[1])
local blocked = tonumber(h[3] or '0')
local max, decay = tonumber(h[4] or '0'), tonumber(h[5] or '0')
local learnt = 0
if max >= 1 then learnt = tonumber(h[6] or h[2] or '0') end
local tiers = $TIERS
local function decayed(v, from, to, d)
  if to > from then v = math.max(0, v - (to - from) * d) end
  return v
end
local function explaining()
  local times = redis.call('LRANGE', KEYS[2], 0, -1)
  for i, sent in ipairs(times) do times[i] = tonumber(sent) end
  table.sort(times)
  for i, tier in ipairs(tiers) do
    local v, at = 0, times[1] or now
    for _, sent in ipairs(times) do
      v = decayed(v, at, sent, tier[2]) + cost
      if sent > at then at = sent end
    end
    if decayed(v, at, now, tier[2]) >= tier[1] - $HEADROOM then return tier end
  end
  return tiers[#tiers]
end
local function slower()
  for i, tier in ipairs(tiers) do
    if tier[1] == max and tier[2] == decay then return tiers[math.min(i + 1, #tiers)] end
  end
  return tiers[#tiers]
end
if learnt > 0 and now - learnt >= $QUIET then max, decay, learnt, value = 0, 0, 0, 0 end
local refusal = ARGV[3] == ''
if tonumber(ARGV[4]) >= 1 then
  max, decay, learnt = tonumber(ARGV[4]), tonumber(ARGV[5]), 0
elseif refusal and ARGV[6] == '1' and max < 1 then
  if now > updated then updated = now end
  local tier = explaining()
  max, decay, learnt = tier[1], tier[2], now
elseif refusal and ARGV[6] == '1' and learnt > 0 then
  value = decayed(value, updated, now, decay)
  if now > updated then updated = now end
  local tier = slower()
  max, decay, learnt = tier[1], tier[2], now
end
if max >= 1 then value = decayed(value, updated, now, decay) end
if now > updated then updated = now end
if max >= 1 and refusal then value = math.max(value, max + cost) end
if not refusal then blocked = math.max(blocked, tonumber(ARGV[3])) end
redis.call('HSET', KEYS[1], 'value', tostring(value), 'updated', tostring(updated),
           'blocked', tostring(blocked), 'max', tostring(max), 'decay', tostring(decay),
           'learnt', tostring(learnt))
return {tostring(max), tostring(decay), tostring(learnt), tostring(blocked)}
""")
